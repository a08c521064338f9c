"""Learning rates per part of one component (see layers/rates.py, where they are applied):
the encoder's trainable parameters learn at a multiple of the optimizer's rate (prompts at
prompt_lr_scale, adapters at adapter_lr_scale, a mode "finetune" backbone copy at
finetune_lr_scale) while the head learns at the full rate. Full fine-tuning needs two rates: a
freshly initialised head at a backbone's 1e-4 barely moves in a few hundred steps; prefix-tuning's
MLP and feed-forward adapters want rates below the head's, P-tuning v2's prompts above it."""
from typing import Dict

from thinc.api import Model

from ..layers.encoder import encoder_module, encoder_shim, find_encoder
from ..layers.rates import ParamKey, ScaledOptimizer

__all__ = ["ParamKey", "ScaledOptimizer", "encoder_lr_scales"]


def encoder_lr_scales(model: Model) -> Dict[ParamKey, float]:
    """{parameter key: scale} for the encoder's own trainable parameters whose share of the
    rate is not 1 (PromptedTransformer.parameter_lr_scales: backbone copy or prompts at
    PromptConfig.encoder_lr_scale, adapters at adapter_lr_scale; not a layer mix, which
    learns with the head)."""
    encoder = find_encoder(model)
    if encoder is None:
        return {}
    scales = encoder_module(encoder).parameter_lr_scales()
    shim_id = encoder_shim(encoder).id
    return {(shim_id, name): scale for name, scale in scales.items()}
