"""Where each supported encoder family keeps what the injection wraps.

The injection (prefix_attention, ffn_adapter) is one design for every family; a
family only says where its layers and their self-attention modules sit, what the
query/key/value projections and head count are called, whether that module also
applies the output projection, which extra score terms the tokens' columns get
(prompt columns get none: a prompt has no position), how its feed-forward block
takes an adapter, and how the model is called. Adding a family is one more
`Family(...)` here (and, for extra score terms, a function) plus its tiny test model.
"""
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import nn

# (self-attention module, query, key [batch, heads, tokens, head_dim], the call's bound
# arguments) -> (additive bias [batch or 1, heads, tokens, tokens] for the tokens' columns
# or None, the content scores' scale or None for 1/sqrt(head_dim))
ScoreTerms = Callable[[nn.Module, torch.Tensor, torch.Tensor, Dict[str, Any]], Tuple[Optional[torch.Tensor], Optional[float]]]


def position_bias_argument(name: str) -> ScoreTerms:
    """Score terms handed to the module as an additive bias argument (MPNet's relative positions)."""

    def terms(inner: nn.Module, query: torch.Tensor, key: torch.Tensor, call: Dict[str, Any]):
        return call.get(name), None

    return terms


def deberta_disentangled(inner: nn.Module, query: torch.Tensor, key: torch.Tensor, call: Dict[str, Any]):
    """DeBERTa-v2/v3: content-to-position and position-to-content scores between the tokens
    (the module's own `disentangled_attention_bias`), every score scaled by
    1/sqrt(head_dim * (1 + number of position terms)); prompt columns get content alone."""
    factor = 1 + sum(kind in inner.pos_att_type for kind in ("c2p", "p2c"))
    scale = (query.shape[-1] * factor) ** -0.5
    if not inner.relative_attention:
        return None, scale
    batch, heads, length, size = query.shape
    flat = (batch * heads, length, size)  # the module's own layout (transpose_for_scores)
    bias = inner.disentangled_attention_bias(
        query.reshape(flat), key.reshape(flat), call.get("relative_pos"), inner.pos_dropout(call["rel_embeddings"]),
        factor,
    )
    return bias.view(batch, heads, length, -1), scale


@dataclass(frozen=True)
class Family:
    """One architecture family's layout, as the injection needs it.

    layers: dotted path from the model to its list of layers.
    attention: dotted path from a layer to its self-attention module.
    query/key/value: the projection attributes; heads: the attribute holding the number of
        heads; output: the output projection the module applies itself to the attention
        context (MPNet's "o", DistilBERT's "out_lin"), or None (BERT's lives outside).
    keep_mask: the module's mask says 1/True = attend (DeBERTa), rather than an additive mask.
    score_terms: extra score terms of the tokens' columns and the scores' scale, or None.
    feed_forward: dotted path from a layer to the module an adapter joins; adds_input: that
        module's forward(hidden_states, input_tensor) adds its result to input_tensor before a
        layer norm (BERT's output), else forward(x) returns the block's output (DistilBERT's ffn).
    token_types: the model takes token_type_ids; roberta_positions: positions start after the
        padding index; sdpa: loads with attn_implementation="sdpa"; pooler: the model class
        takes add_pooling_layer.
    """

    name: str
    model_types: Tuple[str, ...]
    layers: str = "encoder.layer"
    attention: str = "attention.self"
    query: str = "query"
    key: str = "key"
    value: str = "value"
    heads: str = "num_attention_heads"
    output: Optional[str] = None
    keep_mask: bool = False
    score_terms: Optional[ScoreTerms] = None
    feed_forward: str = "output"
    adds_input: bool = True
    token_types: bool = True
    roberta_positions: bool = False
    sdpa: bool = True
    pooler: bool = True

    def encoder_layers(self, model: nn.Module) -> nn.ModuleList:
        """The model's layers (TypeError when it does not have this family's layout)."""
        try:
            return _get(model, self.layers)
        except AttributeError:
            raise TypeError(f"{type(model).__name__} has no {self.layers}: not a {self.name} encoder.") from None

    def self_attention(self, layer: nn.Module) -> nn.Module:
        """The (possibly wrapped) self-attention module of an encoder layer."""
        return _get(layer, self.attention)

    def set_self_attention(self, layer: nn.Module, module: nn.Module) -> None:
        _set(layer, self.attention, module)

    def feed_forward_module(self, layer: nn.Module) -> nn.Module:
        return _get(layer, self.feed_forward)

    def set_feed_forward_module(self, layer: nn.Module, module: nn.Module) -> None:
        _set(layer, self.feed_forward, module)


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _set(obj: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    setattr(_get(obj, ".".join(parents)) if parents else obj, last, value)


def call_arguments(signature: inspect.Signature, args: tuple, kwargs: dict) -> Dict[str, Any]:
    """A self-attention call's arguments by name, with the hidden states and mask under
    "hidden_states" and "attention_mask" whatever the module calls them (DistilBERT on
    transformers 4.x: query=key=value=x, mask=...)."""
    bound = dict(signature.bind_partial(*args, **kwargs).arguments)
    for name, parameter in signature.parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and isinstance(bound.get(name), dict):
            bound.update(bound.pop(name))
    if "hidden_states" not in bound:
        bound["hidden_states"] = bound.get("query")
    if "attention_mask" not in bound:
        bound["attention_mask"] = bound.get("mask")
    return bound


BERT = Family("bert", ("bert",))
FAMILIES = (
    BERT,
    Family("roberta", ("roberta", "xlm-roberta", "camembert"), roberta_positions=True),
    Family("electra", ("electra",), pooler=False),
    Family("ernie", ("ernie",)),
    Family(
        "mpnet", ("mpnet",), attention="attention.attn", query="q", key="k", value="v", output="o",
        score_terms=position_bias_argument("position_bias"), token_types=False, roberta_positions=True, sdpa=False,
    ),
    Family(
        "distilbert", ("distilbert",), layers="transformer.layer", attention="attention", query="q_lin",
        key="k_lin", value="v_lin", heads="n_heads", output="out_lin", feed_forward="ffn", adds_input=False,
        token_types=False, pooler=False,
    ),
    Family(
        "deberta-v2", ("deberta-v2",), query="query_proj", key="key_proj", value="value_proj", keep_mask=True,
        score_terms=deberta_disentangled, sdpa=False, pooler=False,
    ),
)
_BY_MODEL_TYPE: Dict[str, Family] = {t: family for family in FAMILIES for t in family.model_types}
SUPPORTED_MODEL_TYPES = tuple(_BY_MODEL_TYPE)


def family_of(model_type: str) -> Family:
    """The family of a Hugging Face `model_type`; KeyError names the supported ones."""
    try:
        return _BY_MODEL_TYPE[model_type]
    except KeyError:
        raise KeyError(
            f"{model_type!r} is not a supported encoder type; supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        ) from None


def family_of_model(model: nn.Module) -> Family:
    """The family of a loaded transformers model, from its config's model_type."""
    return family_of(getattr(model.config, "model_type", None))
