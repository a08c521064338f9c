"""Deep prompts injected inside the backbone's self-attention (torch).

Each self-attention module of a loaded backbone is wrapped once by
`PrefixSelfAttention`. While `prompts_active(...)` is in effect (in the calling
thread or task only: a `ContextVar`), the wrapper attends over the layer's
prompt keys/values followed by the tokens' own; otherwise it hands the call to
the wrapped module untouched. Nothing goes through transformers' key/value
cache, whose API keeps changing (PEFT's prefix tuning broke on it repeatedly),
and several components, threads and per-example prompts can share one backbone.
"""
import inspect
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Tuple

import torch
from torch import nn

from .backbone_dropout import backbone_dropout_on
from .families import BERT, Family, call_arguments, family_of_model

KeyValue = Tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class ActivePrompts:
    """Per layer, prompt keys and values [batch, heads, prefix, head_dim]; whether they are
    attended to; optionally, per row, which prompt positions are real ([batch, prefix],
    True: attend), so rows of tasks with prompts of different lengths share one batch."""

    key_values: Sequence[KeyValue]
    visible: bool = True
    prompt_mask: Optional[torch.Tensor] = None


_ACTIVE: ContextVar[Optional[ActivePrompts]] = ContextVar("spacy_ptuning_prompts", default=None)


@contextmanager
def prompts_active(
    key_values: Sequence[KeyValue], visible: bool = True, prompt_mask: Optional[torch.Tensor] = None
) -> Iterator[None]:
    """Run the backbone inside this block with these prompts at every layer.

    prompt_mask: [batch, prefix] booleans, False for a row's padding prompts (mixed-task
    batches); None: every prompt of every row is real."""
    token = _ACTIVE.set(ActivePrompts(tuple(key_values), visible, prompt_mask))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


class PrefixSelfAttention(nn.Module):
    """A self-attention module that can attend over prompt keys/values too.

    Uses the wrapped module's query/key/value projections and head layout (named by its
    `Family`), so the backbone's weights and outputs are unchanged when no prompts are
    active. A family's extra score terms (MPNet's relative position bias, DeBERTa's
    disentangled position scores) and rotary positions (ModernBERT) apply to the tokens
    only: a prompt has no position, and every token sees the prompts whatever its window.
    Returns (output, None), which every supported family's layer accepts (transformers 4.53
    and 5.x).
    """

    def __init__(self, inner: nn.Module, layer_index: int, family: Family = BERT) -> None:
        super().__init__()
        family.check_attention(inner)
        self.inner = inner
        self.layer_index = layer_index
        self.family = family
        self._signature = inspect.signature(inner.forward)

    def forward(self, *args, **kwargs):
        active = _ACTIVE.get()
        if active is None and not (backbone_dropout_on() and not self.inner.training):
            return self.inner(*args, **kwargs)
        # prompts active, or the backbone's dropout asked for while its flag says eval (modes
        # "shallow" and "none" with backbone_dropout): attention computed here, with its dropout
        inner, family = self.inner, self.family
        call = call_arguments(self._signature, args, kwargs)
        hidden_states = call["hidden_states"]
        attention_mask = family.token_mask(inner, call) if family.token_mask else call["attention_mask"]
        batch, length = hidden_states.shape[:2]
        shape = (batch, length, family.n_heads(inner), -1)
        query, key, value = (x.view(shape).transpose(1, 2) for x in family.project(inner, hidden_states))
        if family.rotary is not None:
            query, key = family.rotary(inner, query, key, call)
        bias, scale = family.score_terms(inner, query, key, call) if family.score_terms else (None, None)
        if active is not None:
            prompt_key, prompt_value = active.key_values[self.layer_index]
            key = torch.cat([prompt_key.to(key.dtype), key], dim=2)
            value = torch.cat([prompt_value.to(value.dtype), value], dim=2)
        n_prompts = key.shape[2] - length
        mask = _with_prompt_columns(
            attention_mask, batch, length, n_prompts, active is None or active.visible, query.dtype, query.device,
            None if active is None else active.prompt_mask, family.keep_mask,
        )
        if bias is not None:  # [batch or 1, heads, length, length]: none for the prompt columns
            mask = mask + nn.functional.pad(bias.to(mask.dtype), (n_prompts, 0))
        dropout = _rate(inner) if inner.training or backbone_dropout_on() else 0.0
        context = nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=dropout, scale=scale
        )
        context = context.transpose(1, 2).reshape(batch, length, -1)
        if family.output is not None:
            context = getattr(inner, family.output)(context)
        if family.output_dropout is not None and (inner.training or backbone_dropout_on()):
            rate = float(getattr(getattr(inner, family.output_dropout), "p", 0.0))  # nn.Identity: none
            context = nn.functional.dropout(context, rate, training=True)
        return context, None


def _rate(inner: nn.Module) -> float:
    """The attention dropout rate of a self-attention module (nn.Dropout's p, DeBERTa's
    StableDropout's drop_prob, or a plain rate attribute), 0 if it has none."""
    for name in ("dropout", "attention_dropout"):
        module = getattr(inner, name, None)
        if isinstance(module, (int, float)):
            return float(module)
        for rate in ("p", "drop_prob"):
            if isinstance(getattr(module, rate, None), (int, float)):
                return float(getattr(module, rate))
    return 0.0


def _with_prompt_columns(
    mask: Optional[torch.Tensor], batch: int, length: int, n_prompts: int, visible: bool,
    dtype: torch.dtype, device: torch.device, prompt_mask: Optional[torch.Tensor] = None, keep_mask: bool = False,
) -> torch.Tensor:
    """The tokens' attention mask as an additive [batch, 1, rows, n_prompts + length] mask.

    transformers hands self-attention no mask (nothing padded), a mask that says where
    to attend (boolean; DeBERTa's 0/1 [batch, 1, length, length] when keep_mask;
    DistilBERT's [batch, length] on 4.x) or an additive float mask, [batch, 1, 1 or
    length, length]; prompt columns are 0 (attended) or the dtype's minimum (masked),
    per row when prompt_mask [batch, n_prompts] says which prompts a row has.
    """
    blocked = torch.finfo(dtype).min
    if mask is None:
        tokens = torch.zeros((batch, 1, 1, length), dtype=dtype, device=device)
    elif mask.dtype == torch.bool or keep_mask or mask.dim() == 2:
        keep = mask.bool() if mask.dim() == 4 else mask.bool().view(batch, 1, 1, length)
        tokens = torch.zeros(keep.shape, dtype=dtype, device=device).masked_fill(~keep, blocked)
    else:
        tokens = mask.to(dtype)
    tokens = tokens.expand(batch, 1, tokens.shape[2], length)
    prompts = torch.full((batch, 1, tokens.shape[2], n_prompts), 0.0 if visible else blocked, dtype=dtype, device=device)
    if prompt_mask is not None:
        prompts = prompts.masked_fill(~prompt_mask.to(device)[:, None, None, :], blocked)
    return torch.cat([prompts, tokens], dim=-1)


def install_prefix_attention(model: nn.Module) -> None:
    """Wrap every self-attention module of a supported encoder (once; idempotent)."""
    family = family_of_model(model)
    for index, layer in enumerate(family.encoder_layers(model)):
        attention = family.self_attention(layer)
        if not isinstance(attention, PrefixSelfAttention):
            wrapper = PrefixSelfAttention(attention, index, family)
            wrapper.train(attention.training)
            family.set_self_attention(layer, wrapper)


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The encoder layers of a supported model (TypeError for anything else)."""
    return family_of_model(model).encoder_layers(model)


def self_attention(layer: nn.Module, family: Family = BERT) -> nn.Module:
    """The backbone's own self-attention module of an encoder layer (wrapped or not)."""
    module = family.self_attention(layer)
    return module.inner if isinstance(module, PrefixSelfAttention) else module
