"""Where each supported encoder family keeps what the injection wraps.

The injection (prefix_attention, ffn_adapter) is one design for every family; a
family only says where its layers and their self-attention modules sit, what the
query/key/value projections and head count are called, whether that module also
applies the output projection, which extra score terms the tokens' columns get
(prompt columns get none: a prompt has no position), how its feed-forward block
takes an adapter, and how the model is called. Adding a family is one more
`Family(...)` here (and, for extra score terms or rotary positions, a function) plus its
tiny test model.
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
# (self-attention module, query, key [batch, heads, tokens, head_dim], the call's bound
# arguments) -> (query, key) at the tokens' positions; prompt keys join after, unrotated
Rotary = Callable[[nn.Module, torch.Tensor, torch.Tensor, Dict[str, Any]], Tuple[torch.Tensor, torch.Tensor]]
# (self-attention module, the call's bound arguments) -> the mask the tokens' columns get
TokenMask = Callable[[nn.Module, Dict[str, Any]], Optional[torch.Tensor]]


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


def rotary_positions(inner: nn.Module, query: torch.Tensor, key: torch.Tensor, call: Dict[str, Any]):
    """ModernBERT: the tokens' queries and keys rotated by their positions, from the layer's
    (cos, sin) argument (transformers 5.x) or the module's own rotary embedding of the call's
    position_ids (4.x), in float32 as 5.x does. Prompt keys join afterwards, unrotated: a
    prompt has no position."""
    cos_sin = call.get("position_embeddings")
    if cos_sin is None:
        cos_sin = inner.rotary_emb(query, position_ids=call["position_ids"])
    cos, sin = (t.unsqueeze(1).float() for t in cos_sin)

    def rotate(x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

    return rotate(query).to(query.dtype), rotate(key).to(key.dtype)


def window_mask(inner: nn.Module, call: Dict[str, Any]) -> Optional[torch.Tensor]:
    """ModernBERT: a local layer's tokens attend within their window (the sliding-window
    mask argument on transformers 4.x; 5.x hands each layer its own mask already)."""
    if getattr(inner, "local_attention", (-1, -1)) != (-1, -1) and call.get("sliding_window_mask") is not None:
        return call["sliding_window_mask"]
    return call["attention_mask"]


def no_compile(model: nn.Module) -> None:
    """ModernBERT on transformers 4.x compiles its feed-forward block on a GPU unless told not
    to; the injection's wrappers run in eager mode."""
    if hasattr(model.config, "reference_compile"):
        model.config.reference_compile = False


@dataclass(frozen=True)
class Family:
    """One architecture family's layout, as the injection needs it.

    layers: dotted path from the model to its list of layers.
    attention: dotted path from a layer to its self-attention module.
    query/key/value: the projection attributes, or qkv: one fused projection whose output
        is [queries; keys; values] (ModernBERT's "Wqkv"); heads: dotted path from the module
        to its number of heads; output: the output projection the module applies itself to
        the attention context (MPNet's "o", DistilBERT's "out_lin"), or None (BERT's lives
        outside), and output_dropout the dropout after it (ModernBERT's "out_drop").
    keep_mask: the module's mask says 1/True = attend (DeBERTa), rather than an additive mask.
    score_terms: extra score terms of the tokens' columns and the scores' scale, or None.
    rotary: rotates the tokens' queries and keys by position (ModernBERT), or None.
    token_mask: picks the tokens' mask from the call (ModernBERT's local windows), or None
        for its attention_mask. Prompt columns are visible to every token whatever its window.
    attention_norm: pre-norm layers (ModernBERT): the layer's norm in front of self-attention.
    feed_forward: dotted path from a layer to the module an adapter joins; adds_input: that
        module's forward(hidden_states, input_tensor) adds its result to input_tensor before a
        layer norm (BERT's output), else forward(x) returns the block's output (DistilBERT's ffn).
    token_types: the model takes token_type_ids; roberta_positions: positions start after the
        padding index; sdpa: loads with attn_implementation="sdpa"; pooler: the model class
        takes add_pooling_layer; after_load: adjusts a freshly loaded model (or None).
    """

    name: str
    model_types: Tuple[str, ...]
    layers: str = "encoder.layer"
    attention: str = "attention.self"
    query: str = "query"
    key: str = "key"
    value: str = "value"
    heads: str = "num_attention_heads"
    qkv: Optional[str] = None
    output: Optional[str] = None
    output_dropout: Optional[str] = None
    keep_mask: bool = False
    score_terms: Optional[ScoreTerms] = None
    rotary: Optional[Rotary] = None
    token_mask: Optional[TokenMask] = None
    attention_norm: Optional[str] = None
    feed_forward: str = "output"
    adds_input: bool = True
    token_types: bool = True
    roberta_positions: bool = False
    sdpa: bool = True
    pooler: bool = True
    after_load: Optional[Callable[[nn.Module], None]] = None

    def encoder_layers(self, model: nn.Module) -> nn.ModuleList:
        """The model's layers (TypeError when it does not have this family's layout)."""
        try:
            return _get(model, self.layers)
        except AttributeError:
            raise TypeError(f"{type(model).__name__} has no {self.layers}: not a {self.name} encoder.") from None

    def projections(self) -> Tuple[str, ...]:
        """The attribute names of the self-attention module's query/key/value projection(s)."""
        return (self.qkv,) if self.qkv else (self.query, self.key, self.value)

    def check_attention(self, inner: nn.Module) -> None:
        """TypeError unless inner has this family's projections and head count."""
        for name in (*self.projections(), self.heads):
            try:
                _get(inner, name)
            except AttributeError:
                raise TypeError(
                    f"{type(inner).__name__} has no {name!r}: not a {self.name}-style self-attention module."
                ) from None

    def n_heads(self, inner: nn.Module) -> int:
        return int(_get(inner, self.heads))

    def project(self, inner: nn.Module, states: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of states [..., hidden] as [..., heads * head_dim] each."""
        if self.qkv:
            return tuple(getattr(inner, self.qkv)(states).chunk(3, dim=-1))
        return tuple(getattr(inner, name)(states) for name in (self.query, self.key, self.value))

    def attention_input(self, layer: nn.Module, states: torch.Tensor) -> torch.Tensor:
        """What the layer's self-attention reads from the states entering the layer."""
        return _get(layer, self.attention_norm)(states) if self.attention_norm else states

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
        "modernbert", ("modernbert",), layers="layers", attention="attn", qkv="Wqkv",
        heads="config.num_attention_heads", output="Wo", output_dropout="out_drop", rotary=rotary_positions,
        token_mask=window_mask, attention_norm="attn_norm", feed_forward="mlp", adds_input=False,
        token_types=False, pooler=False, after_load=no_compile,
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
