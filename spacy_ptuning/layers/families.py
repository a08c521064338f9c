"""Where each supported encoder family keeps what the injection wraps.

The injection (prefix_attention, ffn_adapter) is one design for every family; a
family only says where its self-attention module sits in a layer, what its
query/key/value projections are called, whether that module also applies the
output projection, whether its scores get a position bias (prompt columns get
none), and how the model is called (token types, RoBERTa-style positions).
Adding a family is one more `Family(...)` here plus its tiny test model.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from torch import nn


@dataclass(frozen=True)
class Family:
    """One architecture family's layout, as the injection needs it.

    attention: attribute of `layer.attention` that holds the self-attention module.
    query/key/value: its projection attributes; output: the output projection it applies
        itself to the attention context (MPNet's "o"), or None (BERT's lives outside).
    position_bias: name of the additive score bias argument (MPNet's relative positions),
        or None; prompt columns get no bias.
    feed_forward: attribute of the layer whose forward(hidden_states, input_tensor) adds the
        feed-forward output to its input before the layer norm (where adapters join).
    token_types: the model takes token_type_ids; roberta_positions: positions start after
        the padding index (RoBERTa's layout); sdpa: loads with attn_implementation="sdpa".
    """

    name: str
    model_types: Tuple[str, ...]
    attention: str = "self"
    query: str = "query"
    key: str = "key"
    value: str = "value"
    output: Optional[str] = None
    position_bias: Optional[str] = None
    feed_forward: str = "output"
    token_types: bool = True
    roberta_positions: bool = False
    sdpa: bool = True

    def self_attention(self, layer: nn.Module) -> nn.Module:
        """The (possibly wrapped) self-attention module of an encoder layer."""
        return getattr(layer.attention, self.attention)

    def set_self_attention(self, layer: nn.Module, module: nn.Module) -> None:
        setattr(layer.attention, self.attention, module)


FAMILIES = (
    Family("bert", ("bert",)),
    Family("roberta", ("roberta", "xlm-roberta", "camembert"), roberta_positions=True),
    Family(
        "mpnet", ("mpnet",), attention="attn", query="q", key="k", value="v", output="o",
        position_bias="position_bias", token_types=False, roberta_positions=True, sdpa=False,
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
