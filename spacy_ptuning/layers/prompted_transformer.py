"""The frozen backbone run with one component's prompts (torch)."""
from typing import Dict, List, Sequence

import torch
from torch import nn

from ..backbone import Backbone
from ..config import PromptConfig
from .backbone_dropout import backbone_dropout_active
from .ffn_adapter import ParallelAdapters, adapters_active
from .prefix_attention import prompts_active
from .prefix_encoder import PrefixEncoder


class PromptedTransformer(nn.Module):
    """Runs a shared, frozen backbone conditioned on this module's own prompts.

    Only the prompts (and, with cfg.adapter_width, the parallel feed-forward adapters)
    are registered as parameters: state_dict(), parameters() and any optimizer see
    them alone, never the backbone.

    Position policy: real tokens keep positions 0..L-1 (RoBERTa: offset by its
    padding index as usual), whatever the prompt length, so prompts do not eat
    into the position table and a fully masked prefix reproduces the plain
    backbone exactly. (The reference implementation lets transformers shift
    positions by the prefix length; we pass position_ids to avoid that.)

    Deep prompts reach each layer inside its self-attention (see
    prefix_attention), not through transformers' key/value cache.
    """

    def __init__(self, cfg: PromptConfig, backbone: Backbone) -> None:
        super().__init__()
        self.cfg = cfg
        # A plain attribute, not a submodule: shared, frozen, never serialised.
        self.__dict__["backbone"] = backbone
        self.prefix = PrefixEncoder(cfg, backbone) if cfg.mode in ("deep", "shallow") else None
        # mode "finetune": a private, trainable copy (a submodule, so it is trained and saved);
        # its pretrained weights are read in initialize_from_backbone, not here
        self.finetuned = backbone.trainable_copy(pretrained=False) if cfg.mode == "finetune" else None
        # adapter_width: parallel feed-forward adapters, injected like the prompts (ffn_adapter)
        self.adapters = (
            ParallelAdapters(backbone.n_layers, backbone.hidden_size, cfg.adapter_width, cfg.adapter_scale,
                             cfg.seed, cfg.init_std)
            if cfg.adapter_width else None
        )
        # layer_mix: softmax weights over the embeddings and every layer's output (uniform at first)
        self.layer_weights = nn.Parameter(torch.zeros(backbone.n_layers + 1)) if cfg.layer_mix else None

    @property
    def is_trainable(self) -> bool:
        """Whether training updates anything here (prompts, layer weights or a backbone copy)."""
        return any(p.requires_grad for p in self.parameters())

    def encoder_parameter_names(self) -> List[str]:
        """Names (as in named_parameters) of the prompts and any projection MLP, or of the
        backbone copy: what learns at cfg.encoder_lr_scale; the layer mix learns with the head."""
        return [f"{part}.{name}" for part in ("prefix", "finetuned") if getattr(self, part) is not None
                for name, _ in getattr(self, part).named_parameters()]

    def parameter_lr_scales(self) -> Dict[str, float]:
        """{parameter name: share of the optimizer's rate} for the parameters that do not learn
        at the full rate: prompts or backbone copy (cfg.encoder_lr_scale), adapters
        (cfg.adapter_lr_scale)."""
        scales = {name: self.cfg.encoder_lr_scale for name in self.encoder_parameter_names()}
        if self.adapters is not None:
            scales.update({f"adapters.{name}": self.cfg.adapter_lr_scale for name, _ in self.adapters.named_parameters()})
        return {name: scale for name, scale in scales.items() if scale != 1.0}

    def adapters_active(self):
        """The context in which the backbone runs with this module's adapters, and with no
        others (a module without adapters runs none, even inside another's block)."""
        return adapters_active([self.adapters])

    def initialize_from_backbone(self) -> None:
        """What needs the backbone's weights before training (the component's initialize):
        the fine-tuning copy's pretrained weights, prompts initialised from the vocabulary."""
        if self.finetuned is not None:
            self.finetuned.load_state_dict(self.backbone.trainable_copy().state_dict())
        if self.prefix is not None and self.cfg.init_from_backbone:
            self.prefix.init_from_backbone(self.backbone)

    def train(self, mode: bool = True) -> "PromptedTransformer":
        """Set the flag only: dropout follows forward's `dropout` argument instead.

        thinc's PyTorchShim switches the module to eval and back to train around
        every predict; were dropout to follow that shared flag, threads predicting
        at the same time would switch each other's dropout on (spaCy pipelines
        serve web requests from thread pools)."""
        self.training = mode
        return self

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
        prompt_visible: bool = True,
        dropout: bool = False,
    ) -> torch.Tensor:
        """Last hidden states [batch, seq, hidden] of the real (non-prompt) positions.

        dropout: apply prompt dropout (and, in mode "finetune", the copy's own
        dropout, and the backbone's own with cfg.backbone_dropout): True when training."""
        self.backbone.to(input_ids.device)
        position_ids = self.position_ids(input_ids, attention_mask)
        if self.finetuned is not None and self.finetuned.training != dropout:
            self.finetuned.train(dropout)
        with backbone_dropout_active(dropout and self.cfg.backbone_dropout and self.finetuned is None), \
                self.adapters_active():
            return self._forward(input_ids, attention_mask, token_type_ids, position_ids, prompt_visible, dropout)

    def _forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
        position_ids: torch.Tensor,
        prompt_visible: bool,
        dropout: bool,
    ) -> torch.Tensor:
        backbone: Backbone = self.backbone
        device = input_ids.device
        if self.prefix is None:  # linear probe (frozen, no gradients) or full fine-tuning
            encoder = self.finetuned if self.finetuned is not None else backbone.model
            trains = self.finetuned is not None or self.adapters is not None
            with torch.set_grad_enabled(trains and torch.is_grad_enabled()):
                output = encoder(**backbone.model_inputs(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                    position_ids=position_ids,
                    output_hidden_states=self.layer_weights is not None,
                ))
            return self.mix_layers(output)
        batch_size = input_ids.shape[0]
        n_prompts = self.cfg.prefix_length
        if self.cfg.mode == "deep":
            with prompts_active(self.prefix.key_values(batch_size, dropout), visible=prompt_visible):
                return self.mix_layers(backbone.model(**backbone.model_inputs(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                    position_ids=position_ids,
                    output_hidden_states=self.layer_weights is not None,
                )))
        prompt_mask = torch.full(
            (batch_size, n_prompts), int(prompt_visible), dtype=attention_mask.dtype, device=device
        )
        mask = torch.cat([prompt_mask, attention_mask], dim=1)
        embeddings = backbone.model.get_input_embeddings()(input_ids)
        prompts = self.prefix(batch_size, dropout).to(embeddings.dtype)
        first = position_ids[:, :1].expand(-1, n_prompts)
        inputs_embeds = torch.cat([prompts, embeddings], dim=1)
        if backbone.forward_arguments is not None and "position_ids" not in backbone.forward_arguments:
            inputs_embeds = _at_positions(backbone, inputs_embeds, torch.cat([first, position_ids], dim=1))
        hidden = self.mix_layers(backbone.model(**backbone.model_inputs(
            inputs_embeds=inputs_embeds,
            attention_mask=mask,
            token_type_ids=torch.cat([torch.zeros_like(first), token_type_ids], dim=1),
            position_ids=torch.cat([first, position_ids], dim=1),
            output_hidden_states=self.layer_weights is not None,
        )))
        return hidden[:, n_prompts:]

    def mix_layers(self, output) -> torch.Tensor:
        """The backbone output's last hidden states, or with layer_mix their softmax-weighted
        sum over the embeddings and every layer (see mix)."""
        if self.layer_weights is None:
            return output.last_hidden_state
        return self.mix(output.hidden_states)

    def mix(self, hidden_states: Sequence[torch.Tensor]) -> torch.Tensor:
        """Softmax(layer_weights)-weighted sum of the embeddings and every layer's states: a
        sentence-embedding backbone's last layer keeps less per-token information than its
        middle ones (a linear NER probe on all-MiniLM-L6-v2's CoNLL-03 states scores F1 59
        from layer 6, 72 from layer 3), and a frozen backbone cannot learn it back."""
        states = torch.stack(tuple(hidden_states), dim=0)
        weights = torch.softmax(self.layer_weights, dim=0).to(states.dtype)
        return torch.einsum("l,lbth->bth", weights, states)

    def position_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Unshifted positions of the real tokens (the policy in the class docstring)."""
        backbone: Backbone = self.backbone
        seq = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        if not backbone.is_roberta_like:
            return seq.expand(input_ids.shape[0], -1)
        padding_idx = int(backbone.config.pad_token_id)
        mask = attention_mask.long()
        return (torch.cumsum(mask, dim=1) * mask) + padding_idx


def _at_positions(backbone: Backbone, inputs_embeds: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
    """Input embeddings that a model which counts positions from 0 itself (DistilBERT before
    transformers 5: no position_ids argument) reads as being at position_ids: its embedding
    layer adds position_embeddings(0..n-1) before its layer norm, so add the difference."""
    table = backbone.model.embeddings.position_embeddings
    counted = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device).unsqueeze(0)
    return inputs_embeds + (table(position_ids) - table(counted)).to(inputs_embeds.dtype)
