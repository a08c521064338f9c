"""Learning rates per part of one component: the encoder's trainable parameters (mode
"finetune": its backbone copy, PromptConfig.finetune_lr_scale; prompt modes: the prompts and
any projection MLP, PromptConfig.prompt_lr_scale) learn at a fraction of the optimizer's rate
while the head learns at the full rate. spaCy trains every component with one optimizer, and
full fine-tuning needs two rates: a freshly initialised head at a backbone's 1e-4 barely moves
in a few hundred steps (CoNLL-03: 40.6 F1 with one rate of 1e-4, 89.4 with the head at 1e-2).
Prefix-tuning's MLP is the same case (CoNLL-03: no entities with one rate at any of 2e-2 to
5e-5, 82.6 F1 with the MLP at 5e-4 and the head at 5e-2)."""
from typing import Dict, Tuple

from thinc.api import Model, Optimizer

from ..layers.encoder import encoder_module, find_encoder


# encoder parameters that belong with the head and learn at its (the full) rate: the layer mix
HEAD_RATE_PARAMS = ("layer_weights",)


class ScaledOptimizer:
    """Calls an optimizer with the learning rate scaled for the parameters of some shims or
    nodes, keyed by their id (thinc's parameter keys are (owner id, name)), except the
    parameters named in HEAD_RATE_PARAMS; the state (moments, step counts, averages) stays
    in the wrapped optimizer."""

    def __init__(self, optimizer: Optimizer, scales: Dict[int, float]) -> None:
        self.optimizer = optimizer
        self.scales = scales

    def __call__(self, key: Tuple[int, str], weights, gradient, *, lr_scale: float = 1.0):
        scale = 1.0 if key[1] in HEAD_RATE_PARAMS else self.scales.get(key[0], 1.0)
        return self.optimizer(key, weights, gradient, lr_scale=lr_scale * scale)


def encoder_lr_scales(model: Model) -> Dict[int, float]:
    """{shim id: scale} for the encoder's trainable parameters (backbone copy or prompts) when
    their share of the rate (PromptConfig.encoder_lr_scale) is not 1."""
    encoder = find_encoder(model)
    scale = encoder_module(encoder).cfg.encoder_lr_scale if encoder is not None else 1.0
    if scale == 1.0:
        return {}
    return {shim.id: scale for node in encoder.walk() for shim in node.shims}


class EncoderRatesMixin:
    """finish_update for TrainablePipes over a prompt encoder: the encoder's trainable
    parameters learn at PromptConfig.encoder_lr_scale times the optimizer's rate."""

    model: Model

    def finish_update(self, sgd: Optimizer) -> None:
        scales = encoder_lr_scales(self.model)
        self.model.finish_update(ScaledOptimizer(sgd, scales) if scales else sgd)
