"""Thinc layer: docs -> prompt-conditioned wordpiece states of the frozen backbone."""
from dataclasses import dataclass
from typing import Callable, List, Tuple

import torch
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, PyTorchWrapper_v2, torch2xp, xp2torch
from thinc.types import Floats3d
from thinc.util import get_torch_default_device

from ..backbone import Backbone
from .prompted_transformer import PromptedTransformer
from .wordpieces import WordpieceBatch


@dataclass
class TransformerOutput:
    """Hidden states [windows, seq, hidden] and the batch that produced them."""

    batch: WordpieceBatch
    hidden: Floats3d


BatchBuilder = Callable[[Backbone, List[Doc]], WordpieceBatch]


def prompted_transformer(
    module: PromptedTransformer, build_batch: BatchBuilder, attrs: dict
) -> Model[List[Doc], TransformerOutput]:
    """Wrap a PromptedTransformer; build_batch turns docs into wordpiece windows."""
    wrapper = PyTorchWrapper_v2(
        module, convert_inputs=_convert_inputs, convert_outputs=_convert_outputs
    )
    model: Model = Model(
        "ptuning_encoder",
        _forward,
        layers=[wrapper],
        attrs=dict(attrs),
        dims={"nO": module.backbone.hidden_size},
    )
    model.attrs["build_batch"] = build_batch
    return model


def get_torch_module(model: Model) -> PromptedTransformer:
    """The PromptedTransformer inside a model built by prompted_transformer()."""
    for node in model.walk():
        if node.name == "ptuning_encoder":
            return node.layers[0].shims[0]._model
    raise ValueError(f"Model {model.name!r} holds no ptuning_encoder layer.")


def _forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[TransformerOutput, Callable]:
    module: PromptedTransformer = model.layers[0].shims[0]._model
    batch = model.attrs["build_batch"](module.backbone, docs)
    trainable = module.prefix is not None or module.finetuned is not None
    hidden, backprop_hidden = model.layers[0](batch, is_train and trainable)

    def backprop(d_hidden: Floats3d) -> List:
        if trainable:
            backprop_hidden(d_hidden)
        return []

    return TransformerOutput(batch=batch, hidden=hidden), backprop


def _convert_inputs(model: Model, batch: WordpieceBatch, is_train: bool) -> Tuple[ArgsKwargs, Callable]:
    device = get_torch_default_device()
    args = tuple(
        torch.as_tensor(array, device=device)
        for array in (batch.input_ids, batch.attention_mask, batch.token_type_ids)
    )
    return ArgsKwargs(args=args, kwargs={}), lambda d_inputs: []


def _convert_outputs(model: Model, inputs_outputs: Tuple, is_train: bool) -> Tuple[Floats3d, Callable]:
    _, states = inputs_outputs
    hidden = torch2xp(states.detach() if not is_train else states, ops=model.ops)

    def backprop(d_hidden: Floats3d) -> ArgsKwargs:
        return ArgsKwargs(args=(states,), kwargs={"grad_tensors": (xp2torch(d_hidden),)})

    return hidden, backprop
