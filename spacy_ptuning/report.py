"""Parameter counts: what a component trains, against the frozen backbone."""
from dataclasses import dataclass

import torch
from thinc.api import Model

from .layers.encoder import get_torch_module


@dataclass(frozen=True)
class ParameterReport:
    """Trainable parameters of one component and their share of its backbone."""

    trainable: int
    backbone: int

    @property
    def share(self) -> float:
        return self.trainable / self.backbone if self.backbone else 0.0

    def __str__(self) -> str:
        return (
            f"{self.trainable:,} trainable parameters "
            f"({self.share:.2%} of the frozen backbone's {self.backbone:,})"
        )


def count_trainable(model: Model) -> int:
    """Thinc parameters plus torch parameters that require grad, over the whole model."""
    trainable = 0
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                trainable += int(node.get_param(name).size)
        for shim in node.shims:
            module = getattr(shim, "_model", None)
            if isinstance(module, torch.nn.Module):
                trainable += sum(p.numel() for p in module.parameters() if p.requires_grad)
    return trainable


def parameter_report(model: Model) -> ParameterReport:
    """Prompts + head of a prompt-tuned component, against its frozen backbone."""
    backbone = get_torch_module(model).backbone
    return ParameterReport(trainable=count_trainable(model), backbone=backbone.n_parameters)
