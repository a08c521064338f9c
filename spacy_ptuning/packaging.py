"""Installable wheels: trained pipelines (full or slim) and backbone packages.

A *full* pipeline package carries the backbone weights next to the pipeline;
a *slim* one holds only the pipeline (prompts + heads) and requires a backbone
package installed separately, so several slim task packages share one backbone
on disk and, loaded in one process, one backbone in memory. Wheels are written
directly (zip + dist-info), so packaging needs no build tools or network.
"""
import base64
import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy
from thinc.api import Config

ENCODER_ARCHITECTURE = "spacy_ptuning.PromptEncoder.v1"
BACKBONE_FILES = re.compile(
    r"^(config\.json|.*\.safetensors|pytorch_model\.bin|vocab\.(txt|json)|merges\.txt|tokenizer(_config)?\.json|"
    r"special_tokens_map\.json|sentencepiece\.bpe\.model|spiece\.model|spm\.model|added_tokens\.json)$"
)
Progress = Callable[[str], None]


class PackagingError(ValueError):
    """A pipeline or model directory that cannot be packaged as asked."""


def module_name(name: str) -> str:
    """The importable module name of a distribution name (my-pipe -> my_pipe)."""
    module = re.sub(r"[-.]+", "_", name.strip()).lower()
    if not module.isidentifier():
        raise PackagingError(f"Package name {name!r} does not make a Python module name; use letters, digits, - and _.")
    return module


def encoder_backbone_keys(config: Config) -> List[Tuple[str, ...]]:
    """Config paths of every prompt encoder's `backbone` setting."""
    found: List[Tuple[str, ...]] = []

    def walk(node: object, path: Tuple[str, ...]) -> None:
        if isinstance(node, dict):
            if node.get("@architectures") == ENCODER_ARCHITECTURE:
                found.append(path + ("backbone",))
            for key, value in node.items():
                walk(value, path + (str(key),))

    walk(config.get("components", {}), ("components",))
    return found


def set_backbone(config: Config, value: str) -> Config:
    """Point every prompt encoder (and paths.backbone, if present) at `value`."""
    for key in encoder_backbone_keys(config):
        node = config
        for part in key[:-1]:
            node = node[part]
        node[key[-1]] = value
    if "paths" in config and "backbone" in config["paths"]:
        config["paths"]["backbone"] = value
    return config


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(
    dist_name: str, version: str, files: Dict[str, Path], output_dir: Path, *, summary: str,
    requires: List[str], progress: Optional[Progress] = None,
    entry_points: Optional[Dict[str, Dict[str, str]]] = None,
) -> Path:
    """A py3-none-any wheel holding `files` (archive name -> file on disk).

    entry_points: {group: {name: "module[:object]"}}, e.g. spaCy's
    {"spacy_models": {name: module}}, which `spacy info` and `spacy validate` read."""
    norm = re.sub(r"[-_.]+", "_", dist_name)
    dist_info = f"{norm}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {dist_name}", f"Version: {version}", f"Summary: {summary}"]
    metadata += [f"Requires-Dist: {req}" for req in requires]
    extra = {
        f"{dist_info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: spacy-ptuning\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/top_level.txt": (module_name(dist_name) + "\n").encode(),
    }
    if entry_points:
        lines = []
        for group, entries in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{key} = {value}" for key, value in entries.items()]
        extra[f"{dist_info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode()
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{norm}-{version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for arcname, source in sorted(files.items()):
            data = source.read_bytes()
            if progress and len(data) > 10_000_000:
                progress(f"adding {arcname} ({len(data) / 1e6:.1f} MB)")
            wheel.writestr(arcname, data)
            records.append(f"{arcname},{_record_hash(data)},{len(data)}")
        for arcname, data in extra.items():
            wheel.writestr(arcname, data)
            records.append(f"{arcname},{_record_hash(data)},{len(data)}")
        records.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return path


def _tree(root: Path, prefix: str) -> Iterator[Tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield f"{prefix}/{path.relative_to(root).as_posix()}", path


def backbone_files(model_dir: Path) -> Dict[str, Path]:
    """The files transformers needs from a model directory (config, tokenizer, weights)."""
    files = {p.name: p for p in sorted(model_dir.iterdir()) if p.is_file() and BACKBONE_FILES.match(p.name)}
    if "config.json" not in files or not any(n.endswith((".safetensors", ".bin")) for n in files):
        raise PackagingError(f"{model_dir} is not a Hugging Face model directory (config.json and weights needed).")
    return files


_BACKBONE_INIT = '''"""Backbone package {name}: a Hugging Face model directory for spacy-ptuning (offline)."""
from pathlib import Path

__version__ = "{version}"


def get_model_path() -> Path:
    """The model directory inside this package."""
    return Path(__file__).resolve().parent / "model"
'''

_PIPELINE_INIT = '''"""spaCy pipeline package {name} (spacy-ptuning, {kind})."""
import importlib.util
from pathlib import Path

import spacy_ptuning  # noqa: F401  (registers the components)
from spacy.util import load_model_from_path

__version__ = "{version}"
BACKBONE_KEYS = {keys!r}  # config settings that name the backbone
BACKBONE_REQUIREMENT = {requirement!r}  # slim packages: the backbone package they load


def load(**overrides):
    here = Path(__file__).resolve().parent
    config = dict(overrides.pop("config", {{}}))
    if (here / "backbone").is_dir():
        for key in BACKBONE_KEYS:
            config.setdefault(key, str(here / "backbone"))
    elif BACKBONE_REQUIREMENT and not any(key in config for key in BACKBONE_KEYS):
        package = BACKBONE_REQUIREMENT.partition("==")[0]
        if importlib.util.find_spec(package.replace("-", "_").replace(".", "_").lower()) is None:
            raise ImportError(
                "{name} is a slim pipeline: it loads its backbone from the package " + repr(package)
                + ", which is not installed. Install it with `pip install --no-deps " + BACKBONE_REQUIREMENT
                + "` (the wheel `spacy-ptuning backbone` made), or point the pipeline at a model folder: "
                + "spacy.load('{module}', config=" + repr({{BACKBONE_KEYS[0]: "/path/to/model"}}) + ")."
            )
    return load_model_from_path(here / "pipeline", config=config, **overrides)
'''


def build_backbone_package(
    model_dir: Path, output_dir: Path, name: str, version: str, progress: Optional[Progress] = None
) -> Path:
    """Wrap a local model directory into an installable backbone wheel (no dependencies)."""
    from .backbone import SUPPORTED_MODEL_TYPES, BackboneError, check_loadable

    try:
        model_type = json.loads((model_dir / "config.json").read_text(encoding="utf8")).get("model_type")
    except (OSError, ValueError) as err:
        raise PackagingError(f"{model_dir}/config.json cannot be read ({err}): not a Hugging Face model directory.") from err
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise PackagingError(
            f"{model_dir} holds a {model_type!r} model; spacy-ptuning backbones are "
            f"{', '.join(SUPPORTED_MODEL_TYPES)} encoders, so this package could never load."
        )
    try:  # the checks a load makes (weights, tokenizer files), before anything is written
        check_loadable(model_dir)
    except BackboneError as err:
        raise PackagingError(f"{err} This package could never load.") from err
    module = module_name(name)
    staging = output_dir / f".{module}-staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "__init__.py").write_text(_BACKBONE_INIT.format(name=name, version=version), encoding="utf8")
    files = {f"{module}/__init__.py": staging / "__init__.py"}
    files.update({f"{module}/model/{n}": p for n, p in backbone_files(model_dir).items()})
    try:
        return write_wheel(name, version, files, output_dir, summary=f"Backbone {model_dir.name} for spacy-ptuning",
                           requires=[], progress=progress)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_pipeline_package(
    pipeline_dir: Path, output_dir: Path, name: str, version: str, *, slim: bool,
    backbone_package: Optional[str] = None, progress: Optional[Progress] = None,
) -> Path:
    """A wheel of a trained pipeline directory: full (with the backbone) or slim (without)."""
    from .backbone import resolve_backbone_path

    module = module_name(name)
    if not (pipeline_dir / "config.cfg").exists():
        raise PackagingError(f"{pipeline_dir} has no config.cfg: give a pipeline saved with nlp.to_disk or spacy train.")
    config = Config().from_disk(pipeline_dir / "config.cfg", interpolate=False)
    keys = encoder_backbone_keys(config)
    if not keys:
        raise PackagingError(f"{pipeline_dir} has no {ENCODER_ARCHITECTURE} encoder: nothing spacy-ptuning can package.")
    filled = Config().from_disk(pipeline_dir / "config.cfg")
    backbones = {_get(filled, key) for key in keys}
    if len(backbones) != 1:
        raise PackagingError(f"The pipeline's encoders use several backbones {sorted(backbones)}; package one backbone per pipeline.")
    backbone = backbones.pop()
    staging = output_dir / f".{module}-staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(pipeline_dir, staging / "pipeline")
    requires = [_self_requirement(), _spacy_requirement()]
    if slim:
        package, pinned = _pinned_backbone(backbone_package or backbone, backbone)
        set_backbone(config, package).to_disk(staging / "pipeline" / "config.cfg")
        requires.append(pinned)
    kind = "slim: prompts and heads, backbone from its own package" if slim else "full: backbone included"
    meta = package_meta(pipeline_dir, name, version, kind, requires, package if slim else backbone, backbone)
    for where in (staging / "meta.json", staging / "pipeline" / "meta.json"):
        where.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf8")
    init = _PIPELINE_INIT.format(name=name, module=module, version=version, kind=kind, keys=[".".join(k) for k in keys],
                                requirement=pinned if slim else None)
    (staging / "__init__.py").write_text(init, encoding="utf8")
    files = {f"{module}/__init__.py": staging / "__init__.py", f"{module}/meta.json": staging / "meta.json"}
    files.update(dict(_tree(staging / "pipeline", f"{module}/pipeline")))
    if not slim:
        if progress:
            progress(f"bundling backbone {backbone}")
        model_dir = resolve_backbone_path(backbone, base=pipeline_dir)
        files.update({f"{module}/backbone/{n}": p for n, p in backbone_files(model_dir).items()})
    try:
        return write_wheel(name, version, files, output_dir, summary=f"spaCy pipeline {name} ({kind})",
                           requires=requires, progress=progress, entry_points={"spacy_models": {module: module}})
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def package_meta(
    pipeline_dir: Path, name: str, version: str, kind: str, requires: List[str], backbone: str, trained_on: str
) -> Dict:
    """The pipeline's meta.json as `spacy package` would complete it: the package's name,
    version, description and requirements, plus what spacy-ptuning adds (the backbone it
    loads, and the trainable share of `trained_on`, the backbone it was trained with)."""
    meta_path = pipeline_dir / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf8")) if meta_path.exists() else {}
    module = module_name(name)
    lang = meta.get("lang", "xx")
    share = _trainable_share(pipeline_dir, trained_on)
    meta.update({
        "name": module[len(lang) + 1 :] if module.startswith(f"{lang}_") else module,
        "version": version,
        "description": meta.get("description") or f"spacy-ptuning pipeline ({kind})",
        "requirements": requires,
        "spacy_version": meta.get("spacy_version") or _spacy_range(),
    })
    meta["ptuning"] = {"package": module, "kind": kind.split(":")[0], "backbone": backbone, **share}
    return meta


def _trainable_share(pipeline_dir: Path, backbone: str) -> Dict:
    """Trainable parameters (the saved adapters) and their share of the backbone's
    parameters (counted from its weight file's header, without loading it)."""
    from safetensors import safe_open

    from .backbone import resolve_backbone_path

    def count(path: Path, skip: Tuple[str, ...] = ()) -> int:
        with safe_open(str(path), "np") as f:
            return sum(int(numpy.prod(f.get_slice(k).get_shape())) for k in f.keys() if not any(s in k for s in skip))

    trainable = sum(count(a) for a in sorted(pipeline_dir.glob("*/adapter.safetensors")))
    out: Dict = {"trainable_parameters": trainable}
    weights = resolve_backbone_path(backbone, base=pipeline_dir) / "model.safetensors"
    if weights.exists():  # as loaded: no pooler, and position_ids is a buffer, not a parameter
        out["backbone_parameters"] = count(weights, skip=("pooler", "position_ids"))
        out["trainable_share"] = round(trainable / out["backbone_parameters"], 6)
    return out


def _next_minor(lower: str) -> str:
    """A compatible range from `lower` up to the next minor release: 0.1.0 -> >=0.1.0,<0.2.0."""
    major, minor = (int(x) for x in lower.split(".")[:2])
    return f">={lower},<{major}.{minor + 1}.0"


def _self_requirement() -> str:
    from . import __version__

    return "spacy-ptuning" + _next_minor(__version__)


def _spacy_requirement() -> str:
    return "spacy" + _spacy_range()


def _spacy_range() -> str:
    import spacy

    return _next_minor(".".join(spacy.__version__.split(".")[:2]) + ".0")


def installed_requirement(name: str) -> Optional[str]:
    """"NAME==VERSION" for an installed distribution, None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:
        return None


def _pinned_backbone(given: str, configured: str) -> Tuple[str, str]:
    """(package name, pinned requirement) of a slim package's backbone package.

    `given` is NAME==VERSION, or NAME of an installed package, whose version is pinned."""
    package, _, wanted = given.partition("==")
    if Path(package).expanduser().is_dir() or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", package):
        raise PackagingError(
            f"A slim package needs the backbone as an installed package, but the pipeline uses the directory "
            f"{configured!r}. Wrap it with `spacy-ptuning backbone {configured} OUTPUT --name NAME`, install it, "
            "and pass --backbone-package NAME."
        )
    pinned = f"{package}=={wanted}" if wanted else installed_requirement(package)
    if pinned is None:
        raise PackagingError(
            f"The backbone package {package!r} is not installed, so its version cannot be pinned: install it, "
            f"or pass --backbone-package {package}==VERSION."
        )
    return package, pinned


def _get(config: Config, key: Tuple[str, ...]) -> str:
    node = config
    for part in key:
        node = node[part]
    return str(node)
