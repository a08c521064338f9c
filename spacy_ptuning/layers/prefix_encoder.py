"""Trainable prompt parameters (torch), in the layout the backbone consumes."""
from typing import List, Optional, Tuple

import torch
from torch import nn

from ..backbone import Backbone
from ..config import PromptConfig
from .families import Family
from .prefix_attention import KeyValue, self_attention


class PrefixEncoder(nn.Module):
    """Holds the prompts of one component and produces them for a batch.

    Deep mode yields, per layer, a (key, value) pair shaped
    [batch, heads, prefix_length, head_dim]; shallow mode yields prompt vectors
    [batch, prefix_length, hidden] for the input embeddings. With
    prefix_projection the stored table is hidden-wide and an MLP maps it to the
    output width (prefix-tuning's reparameterisation).
    """

    def __init__(self, cfg: PromptConfig, backbone: Backbone) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_layers = backbone.n_layers
        self.n_heads = backbone.n_heads
        self.hidden = backbone.hidden_size
        self.head_dim = self.hidden // self.n_heads
        # shallow prompts are input embeddings (ELECTRA-small's are narrower than its layers)
        out_width = self.hidden * 2 * self.n_layers if cfg.mode == "deep" else backbone.embedding_width
        table_width = self.hidden if cfg.prefix_projection else out_width
        generator = torch.Generator().manual_seed(cfg.seed)
        self.table = nn.Parameter(self._initial_table(cfg, backbone, table_width, generator))
        self.mlp: Optional[nn.Module] = None
        if cfg.prefix_projection:
            self.mlp = nn.Sequential(
                nn.Linear(self.hidden, cfg.projection_hidden),
                nn.Tanh(),
                nn.Linear(cfg.projection_hidden, out_width),
            )
            with torch.no_grad():
                for layer in (self.mlp[0], self.mlp[2]):
                    layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * cfg.init_std)
                    layer.bias.zero_()
        self.dropout_rate = cfg.prefix_dropout

    def _initial_table(
        self, cfg: PromptConfig, backbone: Backbone, width: int, generator: torch.Generator
    ) -> torch.Tensor:
        shape = (cfg.prefix_length, width)
        if cfg.init == "uniform":
            return (torch.rand(shape, generator=generator) * 2 - 1) * cfg.init_std
        if cfg.init_from_backbone:  # filled by init_from_backbone once the weights are loaded
            return torch.zeros(shape)
        return torch.randn(shape, generator=generator) * cfg.init_std

    def init_from_backbone(self, backbone: Backbone) -> None:
        """init "vocab" or "activations": set the table from random vocabulary tokens (needs the
        backbone's weights)."""
        generator = torch.Generator().manual_seed(self.cfg.seed)
        with torch.no_grad():
            self.table.copy_(self._backbone_table(self.cfg, backbone, self.table.shape[1], generator))

    def _backbone_table(
        self, cfg: PromptConfig, backbone: Backbone, width: int, generator: torch.Generator
    ) -> torch.Tensor:
        """Embeddings of random vocabulary tokens, or in deep mode their keys and values at each
        layer: each layer's key/value projection of the token embeddings ("vocab"), or of the
        states the backbone feeds that layer when it reads the tokens as one text
        ("activations": the keys and values attention really sees, at their scale)."""
        embeddings = backbone.model.get_input_embeddings().weight.detach().float().cpu()
        ids = torch.randint(0, embeddings.shape[0], (cfg.prefix_length,), generator=generator)
        emb = embeddings[ids]
        if width == emb.shape[1]:  # shallow: the embeddings themselves
            return emb.clone()
        project = getattr(backbone.model, "embeddings_project", None)  # ELECTRA-small: embeddings narrower
        if project is not None:
            emb = _linear(project, emb)
        layers = backbone.family.encoder_layers(backbone.model)
        inputs = _layer_inputs(backbone, ids) if cfg.init == "activations" else [emb] * len(layers)
        with torch.no_grad():
            parts = []
            family = backbone.family
            for layer, states in zip(layers, inputs):
                parts += _keys_and_values(family, layer, states)
        return torch.cat(parts, dim=-1)

    def forward(self, batch_size: int, dropout: bool = False) -> torch.Tensor:
        """Prompts for the batch: [batch, prefix, out_width] before reshaping.

        dropout is passed per call rather than read from the module's training
        flag, which concurrent callers would share."""
        prompts = self.table if self.mlp is None else self.mlp(self.table)
        prompts = prompts.unsqueeze(0).expand(batch_size, -1, -1)
        # after the expansion: one mask per example, as P-tuning v2's reference draws it
        return nn.functional.dropout(prompts, self.dropout_rate, training=dropout)

    def key_values(self, batch_size: int, dropout: bool = False) -> Tuple[KeyValue, ...]:
        """Deep prompts as one (key, value) pair per layer, [batch, heads, prefix, head_dim]."""
        prompts = self.forward(batch_size, dropout)
        prefix = prompts.shape[1]
        kv = prompts.reshape(batch_size, prefix, 2 * self.n_layers, self.n_heads, self.head_dim)
        kv = kv.permute(2, 0, 3, 1, 4)
        return tuple((kv[2 * i], kv[2 * i + 1]) for i in range(self.n_layers))


def _layer_inputs(backbone: Backbone, ids: torch.Tensor) -> List[torch.Tensor]:
    """The hidden states [len(ids), hidden] entering each layer when the frozen backbone reads
    the token ids as one text (no special tokens, no prompts), on the CPU in float32."""
    if len(ids) > backbone.max_length:
        raise ValueError(
            f"init \"activations\" reads the {len(ids)} prompt tokens as one text, longer than the "
            f"backbone's {backbone.max_length} positions: use init \"vocab\" or a shorter prefix_length."
        )
    model = backbone.model
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(input_ids=ids[None].to(device), attention_mask=torch.ones((1, len(ids)), dtype=torch.long,
                    device=device), output_hidden_states=True)
    return [states[0].float().cpu() for states in out.hidden_states[: backbone.n_layers]]


def _keys_and_values(family: Family, layer: nn.Module, states: torch.Tensor) -> List[torch.Tensor]:
    """The keys and values [n, hidden] the layer's self-attention makes of states [n, hidden]
    entering the layer, computed where its weights are and returned on the CPU in float32."""
    weight = next(layer.parameters())
    x = family.attention_input(layer, states.to(weight.device, weight.dtype))
    _, key, value = family.project(self_attention(layer, family), x)
    return [key.float().cpu(), value.float().cpu()]


def _linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    weight = layer.weight.detach().float().cpu()
    bias = layer.bias.detach().float().cpu() if layer.bias is not None else None
    return nn.functional.linear(x, weight, bias)
