"""Save and load a prompt-tuned component as cfg + adapter.safetensors."""
from pathlib import Path
from typing import Iterable, Optional, Set, Union

import srsly
from spacy.language import Language
from thinc.api import Model
from wasabi import msg

from ..backbone import Backbone
from ..layers.encoder import get_torch_module
from ..packaging import installed_requirement
from ..report import parameter_report
from ..serialize import ArtifactMismatchError, adapter_from_bytes, adapter_metadata, adapter_to_bytes

ADAPTER_FILE = "adapter.safetensors"
CFG_FILE = "cfg"


def backbone_requirement(backbone: Backbone) -> Optional[str]:
    """"NAME==VERSION" when the backbone is an installed package (not a directory), else None."""
    name = backbone.name
    if not name or Path(name).expanduser().is_dir():
        return None
    return installed_requirement(name)


class AdapterSerializationMixin:
    """to_disk/from_disk/to_bytes/from_bytes for TrainablePipes over a prompt encoder.

    Writes the component's cfg and its trainable weights (prompts + head) in
    safetensors with the backbone's name and fingerprint; the backbone itself
    is never written.
    """

    model: Model
    cfg: dict
    name: str

    def _backbone(self) -> Optional[Backbone]:
        """The prompt encoder's backbone; None for heads over another tok2vec (e.g. a listener)."""
        try:
            return get_torch_module(self.model).backbone
        except ValueError:
            return None

    def _finish_initialize(self, nlp: Optional[Language]) -> None:
        """Report the trainable share, and add the backbone package (if the backbone is one)
        to nlp.meta["requirements"], pinned to its installed version, so that
        `spacy package` lists it among the package's requirements."""
        backbone = self._backbone()
        if backbone is None:
            return
        msg.info(f"{self.name}: {parameter_report(self.model)}")
        requirement = backbone_requirement(backbone)
        if nlp is not None and requirement is not None:
            requirements = nlp.meta.setdefault("requirements", [])
            if requirement not in requirements:
                requirements.append(requirement)

    def _adapter_bytes(self) -> bytes:
        unset = [f"{node.name}.{name}" for node in self.model.walk() for name in node.param_names
                 if node.has_param(name) is None]
        if unset:
            raise ValueError(
                f"Component {self.name!r} cannot be saved before it is initialized (no weights yet for "
                f"{', '.join(unset[:3])}): call nlp.initialize(get_examples) or train it first."
            )
        backbone = self._backbone()
        meta = {"component": self.name}
        if backbone is not None:
            meta["backbone_fingerprint"] = backbone.fingerprint
        return adapter_to_bytes(self.model, meta)

    def _load_adapter(self, data: bytes, source: str = "bytes") -> None:
        try:
            saved = adapter_metadata(data).get("backbone_fingerprint")
            backbone = self._backbone()
            if saved and backbone is not None and saved != backbone.fingerprint:
                raise ArtifactMismatchError(
                    f"Component {self.name!r} was trained on a backbone with fingerprint {saved[:12]}..., "
                    f"but the configured backbone ({backbone.path}) has {backbone.fingerprint[:12]}...: "
                    "prompts only work with the exact weights they were trained on. Point the "
                    "component's backbone setting at the original model."
                )
            adapter_from_bytes(self.model, data, what=f"component {self.name!r}")
        except ArtifactMismatchError:
            raise
        except Exception as err:  # safetensors' and json's own errors name no file
            raise ArtifactMismatchError(
                f"Component {self.name!r}: {source} is not a readable safetensors file ({type(err).__name__}: "
                f"{err}); it may be truncated or empty. Copy it again from the trained pipeline, or retrain."
            ) from err
        self._check_loaded()

    def _check_loaded(self) -> None:
        """Hook for components to validate cfg against the loaded weights."""

    def _configured_settings(self) -> Set[str]:
        """cfg keys given explicitly in the component's config (or as overrides at spacy.load),
        which win over the values saved with the component."""
        return set()

    def _update_cfg(self, saved: dict) -> None:
        kept = self._configured_settings()
        self.cfg.update({key: value for key, value in saved.items() if key not in kept})

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        return srsly.msgpack_dumps({"cfg": self.cfg, "adapter": self._adapter_bytes()})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()):
        data = srsly.msgpack_loads(bytes_data)
        self._update_cfg(data["cfg"])
        self._load_adapter(data["adapter"])
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / CFG_FILE, self.cfg)
        (path / ADAPTER_FILE).write_bytes(self._adapter_bytes())

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()):
        path = Path(path)
        for needed in (CFG_FILE, ADAPTER_FILE):
            if not (path / needed).exists():
                raise ArtifactMismatchError(f"Component {self.name!r}: {path / needed} is missing.")
        try:
            cfg = srsly.read_json(path / CFG_FILE)
        except ValueError as err:
            raise ArtifactMismatchError(f"Component {self.name!r}: {path / CFG_FILE} is not valid JSON ({err}).") from err
        self._update_cfg(cfg)
        self._load_adapter((path / ADAPTER_FILE).read_bytes(), source=str(path / ADAPTER_FILE))
        return self
