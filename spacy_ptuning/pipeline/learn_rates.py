"""Learning rates per part of one component: the encoder's trainable parameters (mode
"finetune": its backbone copy, PromptConfig.finetune_lr_scale; prompt modes: the prompts and
any projection MLP, PromptConfig.prompt_lr_scale) learn at a multiple of the optimizer's rate
(a fraction, or for P-tuning v2's prompts more than 1) while the head learns at the full rate.
spaCy trains every component with one optimizer, and full fine-tuning needs two rates: a freshly initialised head at a backbone's 1e-4 barely moves
in a few hundred steps (CoNLL-03: 40.6 F1 with one rate of 1e-4, 89.4 with the head at 1e-2).
Prefix-tuning's MLP is the same case (CoNLL-03: no entities with one rate at any of 2e-2 to
5e-5, 82.6 F1 with the MLP at 5e-4 and the head at 5e-2), and P-tuning v2's prompts the
reverse (SST-2, mean of three seeds: 84.9% with head and prompts at 1e-2, 85.8 with the
prompts at 1e-1)."""
from typing import Dict, Tuple

from thinc.api import Model, Optimizer

from ..layers.encoder import encoder_module, encoder_shim, find_encoder


ParamKey = Tuple[int, str]  # thinc's parameter keys: (owner id, name)


class ScaledOptimizer:
    """Calls an optimizer with the learning rate scaled for some parameters, keyed by their
    thinc parameter key (owner id, name); the state (moments, step counts, averages) stays in
    the wrapped optimizer."""

    def __init__(self, optimizer: Optimizer, scales: Dict[ParamKey, float]) -> None:
        self.optimizer = optimizer
        self.scales = scales

    def __call__(self, key: ParamKey, weights, gradient, *, lr_scale: float = 1.0):
        return self.optimizer(key, weights, gradient, lr_scale=lr_scale * self.scales.get(key, 1.0))


def encoder_lr_scales(model: Model) -> Dict[ParamKey, float]:
    """{parameter key: scale} for the encoder's own trainable parameters whose share of the
    rate is not 1 (PromptedTransformer.parameter_lr_scales: backbone copy or prompts at
    PromptConfig.encoder_lr_scale, adapters at adapter_lr_scale; not a layer mix, which
    learns with the head)."""
    encoder = find_encoder(model)
    if encoder is None:
        return {}
    scales = encoder_module(encoder).parameter_lr_scales()
    if not scales:
        return {}
    shim_id = encoder_shim(encoder).id
    return {(shim_id, name): scale for name, scale in scales.items()}


class EncoderRatesMixin:
    """finish_update for TrainablePipes over a prompt encoder: the encoder's trainable
    parameters learn at PromptConfig.encoder_lr_scale times the optimizer's rate."""

    model: Model

    def finish_update(self, sgd: Optimizer) -> None:
        scales = encoder_lr_scales(self.model)
        self.model.finish_update(ScaledOptimizer(sgd, scales) if scales else sgd)
