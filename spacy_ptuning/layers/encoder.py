"""Thinc layer: docs -> prompt-conditioned wordpiece states of the frozen backbone."""
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import torch
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, PyTorchWrapper_v2, torch2xp, xp2torch
from thinc.types import Floats3d
from thinc.util import get_torch_default_device

from ..backbone import Backbone
from .precomputed import PENDING, given_encoder_output
from .prompted_transformer import PromptedTransformer
from .rates import RatedPyTorchShim
from .wordpieces import WordpieceBatch, doc_groups


@dataclass
class TransformerOutput:
    """Hidden states [windows, seq, hidden] and the batch that produced them."""

    batch: WordpieceBatch
    hidden: Floats3d


BatchBuilder = Callable[[Backbone, List[Doc]], WordpieceBatch]


def prompted_transformer(
    module: PromptedTransformer, build_batch: BatchBuilder, attrs: dict, max_windows: int = 64
) -> Model[List[Doc], TransformerOutput]:
    """Wrap a PromptedTransformer; build_batch turns docs into wordpiece windows.

    max_windows: at most this many windows go through the backbone in one
    forward pass, so peak memory depends on it, not on how long or how many
    the docs of a batch are (long documents, nlp.pipe with a big batch_size)."""
    if isinstance(max_windows, bool) or not isinstance(max_windows, int) or max_windows < 1:
        raise ValueError(f"max_windows must be an integer >= 1, got {max_windows!r}.")
    wrapper = PyTorchWrapper_v2(
        module, convert_inputs=_convert_inputs, convert_outputs=_convert_outputs
    )
    wrapper.shims[0] = RatedPyTorchShim(module)  # each part of the encoder at its own rate
    model: Model = Model(
        "ptuning_encoder",
        _forward,
        init=_init,
        layers=[wrapper],
        attrs=dict(attrs),
        dims={"nO": module.backbone.hidden_size},
    )
    model.attrs["build_batch"] = build_batch
    model.attrs["max_windows"] = max_windows
    return model


def find_encoder(model: Model) -> Optional[Model]:
    """The ptuning_encoder layer inside a model (None for heads over another tok2vec)."""
    return next((node for node in model.walk() if node.name == "ptuning_encoder"), None)


def get_torch_module(model: Model) -> PromptedTransformer:
    """The PromptedTransformer inside a model built by prompted_transformer()."""
    encoder = find_encoder(model)
    if encoder is None:
        raise ValueError(f"Model {model.name!r} holds no ptuning_encoder layer.")
    return encoder_module(encoder)


def encoder_shim(encoder: Model):
    """The PyTorchShim around a ptuning_encoder layer's PromptedTransformer (its shim id keys
    the module's parameters in thinc's optimizer)."""
    return encoder.layers[0].shims[0]


def encoder_module(encoder: Model) -> PromptedTransformer:
    """The PromptedTransformer of a ptuning_encoder layer itself."""
    return encoder_shim(encoder)._model


def predict_in_groups(model: Model, docs: List[Doc]):
    """model.predict over runs of docs of about max_windows windows each (doc_groups),
    outputs joined (lists as lists, arrays row-wise): what a batch's forward passes
    return then stays bounded by the cap, not by the batch's size.

    A run whose output `ptuning_mixed_tasks` computed ahead (layers/precomputed.py)
    is taken from there instead of being run again."""
    outputs = []
    for run in doc_runs(model, docs) or [docs]:
        output = PENDING.take(model, run)
        outputs.append(model.predict(run) if output is None else output)
    if len(outputs) == 1:
        return outputs[0]
    if isinstance(outputs[0], list):
        return [row for out in outputs for row in out]
    return model.ops.xp.concatenate(outputs)


def doc_runs(model: Model, docs: List[Doc]) -> List[List[Doc]]:
    """The runs of docs predict_in_groups hands to model.predict, in order."""
    encoder = find_encoder(model)
    if encoder is None or len(docs) < 2:
        return [docs] if docs else []
    attrs = encoder.attrs
    return [docs[a:b] for a, b in doc_groups(docs, attrs["window"], attrs["stride"], attrs["max_windows"])]


def _init(model: Model, X=None, Y=None) -> None:
    """Load what training needs from the backbone's weights (see initialize_from_backbone)."""
    encoder_module(model).initialize_from_backbone()


def _forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[TransformerOutput, Callable]:
    given = None if is_train else given_encoder_output(model, docs)
    if given is not None:  # computed in a mixed-task batch (layers/mixed_batch.py)
        return given, lambda d_hidden: []
    module = encoder_module(model)
    batch = model.attrs["build_batch"](module.backbone, docs)
    trainable = module.is_trainable
    step = model.attrs["max_windows"]
    arrays = (batch.input_ids, batch.attention_mask, batch.token_type_ids)
    n_windows, seq_len = batch.input_ids.shape
    # one output array filled slice by slice: the slices' own arrays are freed as we go
    hidden = model.ops.alloc3f(n_windows, seq_len, model.get_dim("nO"))
    callbacks = []
    for start in range(0, n_windows, step):
        part, backprop_part = model.layers[0](tuple(a[start : start + step] for a in arrays), is_train and trainable)
        hidden[start : start + step] = part
        callbacks.append(backprop_part)
        del part

    def backprop(d_hidden: Floats3d) -> List:
        if trainable:
            for i, backprop_part in enumerate(callbacks):
                backprop_part(d_hidden[i * step : (i + 1) * step])
        return []

    return TransformerOutput(batch=batch, hidden=hidden), backprop


def _convert_inputs(model: Model, arrays: Tuple, is_train: bool) -> Tuple[ArgsKwargs, Callable]:
    """(input_ids, attention_mask, token_type_ids) of some windows -> the module's arguments."""
    device = get_torch_default_device()
    args = tuple(torch.as_tensor(array, device=device) for array in arrays)
    return ArgsKwargs(args=args, kwargs={"dropout": is_train}), lambda d_inputs: []


def _convert_outputs(model: Model, inputs_outputs: Tuple, is_train: bool) -> Tuple[Floats3d, Callable]:
    _, states = inputs_outputs
    hidden = torch2xp(states.detach() if not is_train else states, ops=model.ops)

    def backprop(d_hidden: Floats3d) -> ArgsKwargs:
        return ArgsKwargs(args=(states,), kwargs={"grad_tensors": (xp2torch(d_hidden),)})

    return hidden, backprop
