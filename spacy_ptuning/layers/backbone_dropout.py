"""Dropout inside the shared, frozen backbone while one component trains (torch).

The reference P-tuning v2 implementation trains its prompts with the backbone in
train mode: the weights are frozen but their dropout is on. Our backbone is
shared by every component and thread of a process and stays in eval mode, so
switching its `training` flag would switch dropout on for everyone. Instead, a
forward hook on each of the backbone's `nn.Dropout` modules applies that
module's own rate while `backbone_dropout_active(True)` is in effect in the
calling thread or task (a `ContextVar`), and is a no-op otherwise.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch
from torch import nn

_ON: ContextVar[bool] = ContextVar("spacy_ptuning_backbone_dropout", default=False)
_HOOKED = "_spacy_ptuning_dropout_hook"


@contextmanager
def backbone_dropout_active(on: bool = True) -> Iterator[None]:
    """Run the backbone inside this block with its dropout on (when `on`)."""
    token = _ON.set(bool(on))
    try:
        yield
    finally:
        _ON.reset(token)


def backbone_dropout_on() -> bool:
    """Whether the calling thread or task runs the backbone with dropout on."""
    return _ON.get()


def install_backbone_dropout(model: nn.Module) -> None:
    """Hook every dropout module of `model` (once; idempotent)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout) and not getattr(module, _HOOKED, False):
            module.register_forward_hook(_dropout_when_active)
            setattr(module, _HOOKED, True)


def _dropout_when_active(module: nn.Dropout, inputs, output: torch.Tensor) -> torch.Tensor:
    if module.training or module.p == 0.0 or not _ON.get():
        return output  # train mode applied it already, or nothing to apply
    return nn.functional.dropout(inputs[0], module.p, training=True)
