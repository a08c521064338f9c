"""A component's trainable state (prompts + head) as one safetensors blob.

Keys are "<node index>.<node name>.<param>" for thinc parameters and
"<node index>.torch.<state key>" for the prompt tensors; thinc dimensions go
in the metadata. The frozen backbone is never part of it.
"""
import json
from typing import Dict

import numpy
import torch
from safetensors.numpy import load as load_numpy
from safetensors.numpy import save as save_numpy
from thinc.api import Model


class ArtifactMismatchError(ValueError):
    """Saved weights that do not fit the model built from the config."""


def adapter_to_bytes(model: Model, extra_metadata: Dict[str, str] = None) -> bytes:
    """Serialise every trainable tensor of model (thinc params and torch prompts)."""
    tensors: Dict[str, numpy.ndarray] = {}
    dims = {}
    for i, node in enumerate(model.walk()):
        dims[f"{i}.{node.name}"] = {d: node.maybe_get_dim(d) for d in node.dim_names}
        for name in node.param_names:
            if node.has_param(name):
                tensors[f"{i}.{node.name}.{name}"] = numpy.ascontiguousarray(
                    model.ops.to_numpy(node.get_param(name))
                )
        for shim in node.shims:
            torch_model = getattr(shim, "_model", None)
            if isinstance(torch_model, torch.nn.Module):
                for key, value in torch_model.state_dict().items():
                    tensors[f"{i}.torch.{key}"] = value.detach().cpu().contiguous().numpy()
    metadata = {"format": "spacy-ptuning-adapter/1", "dims": json.dumps(dims)}
    metadata.update(extra_metadata or {})
    return save_numpy(tensors, metadata=metadata)


def adapter_metadata(data: bytes) -> Dict[str, str]:
    """The metadata of a serialised adapter, without loading its tensors."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    return dict(header.get("__metadata__", {}))


def adapter_from_bytes(model: Model, data: bytes, what: str = "component") -> Model:
    """Load tensors written by adapter_to_bytes into a model built from the same config."""
    tensors = load_numpy(data)
    dims = json.loads(adapter_metadata(data).get("dims", "{}"))
    nodes = list(model.walk())
    expected = {f"{i}.{node.name}" for i, node in enumerate(nodes)}
    if set(dims) != expected:
        raise ArtifactMismatchError(
            f"The saved weights of {what} do not fit its model: the layers differ "
            f"(saved {sorted(dims)[:6]}..., config builds {sorted(expected)[:6]}...). "
            "Load it with the config it was trained with."
        )
    for i, node in enumerate(nodes):
        for dim, value in dims[f"{i}.{node.name}"].items():
            if value is not None:
                if node.has_dim(dim) and node.get_dim(dim) != value:
                    raise ArtifactMismatchError(
                        f"{what}: layer {node.name!r} has {dim}={node.get_dim(dim)} in the config "
                        f"but {value} in the saved weights (e.g. a different label set or backbone)."
                    )
                node.set_dim(dim, value)
        for name in node.param_names:
            key = f"{i}.{node.name}.{name}"
            if key in tensors:
                node.set_param(name, model.ops.asarray(tensors[key]))
        for shim in node.shims:
            torch_model = getattr(shim, "_model", None)
            if isinstance(torch_model, torch.nn.Module):
                prefix = f"{i}.torch."
                state = {k[len(prefix) :]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith(prefix)}
                try:
                    torch_model.load_state_dict(state, strict=True)
                except RuntimeError as err:
                    raise ArtifactMismatchError(
                        f"The saved prompts of {what} do not fit its config ({err}). "
                        "Check prefix_length, mode, prefix_projection and layer_mix against the training config."
                    ) from err
    return model
