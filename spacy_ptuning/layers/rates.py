"""Learning rates per part of a prompt encoder, applied where its weights are updated.

spaCy trains every component with one optimizer, but the parts of an encoder want their own
rates: P-tuning v2's prompts learn faster than a new head (prompt_lr_scale > 1), a
reparameterisation MLP, feed-forward adapters or a fine-tuned backbone copy slower
(prompt_lr_scale, adapter_lr_scale, finetune_lr_scale < 1). The encoder's torch shim applies
them in its own finish_update, so they hold under any component that trains it: the plugin's,
and spaCy's own ones over `spacy_ptuning.PromptTok2Vec.v1` (`tagger`, `ner`, ...).
"""
from typing import Dict, Tuple

from thinc.api import Optimizer, PyTorchShim

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


class RatedPyTorchShim(PyTorchShim):
    """A PyTorchShim whose finish_update gives each parameter of its PromptedTransformer its
    share of the rate (`parameter_lr_scales()`); the layer mix and the head learn at the full rate."""

    def finish_update(self, optimizer: Optimizer) -> None:
        scales = self._model.parameter_lr_scales()
        if scales:
            optimizer = ScaledOptimizer(optimizer, {(self.id, name): scale for name, scale in scales.items()})
        super().finish_update(optimizer)
