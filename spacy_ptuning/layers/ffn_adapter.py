"""Parallel feed-forward adapters injected beside each frozen feed-forward block (torch).

He et al. (ICLR 2022, "Towards a Unified View of Parameter-Efficient Transfer Learning")
found that capacity added at the feed-forward block is used better than more prompt
positions, and that a short prefix plus a scaled parallel adapter at every feed-forward
block (their "MAM" adapter) comes close to full fine-tuning with the backbone frozen.

A parallel adapter reads the feed-forward block's input x and adds
`scale * up(relu(down(x)))` to the block's output, before the residual sum and layer
norm; `up` starts at zero, so a new adapter leaves the backbone's outputs unchanged.
As with the prompts (prefix_attention), each layer's feed-forward output module is
wrapped once and the adapters live with the component, not in the backbone: they act
only while `adapters_active(...)` is in effect in the calling thread or task (a
`ContextVar`), and a mixed-task batch gives each row its own task's adapters.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import torch
from torch import nn

from .families import Family, family_of_model


class ParallelAdapter(nn.Module):
    """One layer's adapter: scale * up(relu(down(x))), up initialised to zero."""

    def __init__(self, hidden: int, width: int, scale: float, generator: torch.Generator, init_std: float) -> None:
        super().__init__()
        self.down = nn.Linear(hidden, width)
        self.up = nn.Linear(width, hidden)
        self.scale = scale
        with torch.no_grad():
            self.down.weight.copy_(torch.randn(self.down.weight.shape, generator=generator) * init_std)
            self.down.bias.zero_()
            self.up.weight.zero_()
            self.up.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.up(torch.relu(self.down(x.to(self.down.weight.dtype)))).to(x.dtype)


class ParallelAdapters(nn.Module):
    """A component's adapters, one per backbone layer (the stack `adapters_active` takes)."""

    def __init__(self, n_layers: int, hidden: int, width: int, scale: float, seed: int, init_std: float) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed + 1)  # not the prompts' draws
        self.layers = nn.ModuleList(
            ParallelAdapter(hidden, width, scale, generator, init_std) for _ in range(n_layers)
        )


@dataclass(frozen=True)
class ActiveAdapters:
    """Per task, its adapter stack (or None) and the batch rows it owns ([rows] index tensor;
    None: every row). One task with rows None is the plain single-component case."""

    stacks: Sequence[Optional[ParallelAdapters]]
    rows: Sequence[Optional[torch.Tensor]]

    def delta(self, layer_index: int, x: torch.Tensor) -> Optional[torch.Tensor]:
        """What this layer's adapters add to the feed-forward output for input x [batch, seq, hidden]."""
        if len(self.stacks) == 1 and self.rows[0] is None:
            stack = self.stacks[0]
            return None if stack is None else stack.layers[layer_index](x)
        delta = None
        for stack, rows in zip(self.stacks, self.rows):
            if stack is None or rows is None or len(rows) == 0:
                continue
            if delta is None:
                delta = torch.zeros_like(x)
            rows = rows.to(x.device)
            delta = delta.index_copy(0, rows, stack.layers[layer_index](x.index_select(0, rows)))
        return delta


_ACTIVE: ContextVar[Optional[ActiveAdapters]] = ContextVar("spacy_ptuning_adapters", default=None)


@contextmanager
def adapters_active(
    stacks: Sequence[Optional[ParallelAdapters]], rows: Optional[Sequence[Optional[torch.Tensor]]] = None
) -> Iterator[None]:
    """Run the backbone inside this block with these adapters: one stack for every row
    (rows None), or per task a stack and the index tensor of the batch rows it owns."""
    stacks = tuple(stacks)
    rows = tuple(rows) if rows is not None else (None,) * len(stacks)
    if len(rows) != len(stacks):
        raise ValueError(f"adapters_active: {len(stacks)} adapter stacks but {len(rows)} row sets.")
    token = _ACTIVE.set(ActiveAdapters(stacks, rows))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


class AdaptedFeedForward(nn.Module):
    """Wraps a layer's feed-forward module so that, with adapters active, adapter(x) joins
    the block's output before the residual sum and layer norm, exactly where He et al.'s
    parallel adapter adds it (x: the feed-forward block's input).

    adds_input (BERT's output module, forward(hidden_states, input_tensor) =
    LayerNorm(dropout(dense(hidden_states)) + input_tensor)): input_tensor goes in as
    x + adapter(x). Otherwise (DistilBERT's ffn, forward(x) = the block's output): the
    output comes back as ffn(x) + adapter(x)."""

    def __init__(self, inner: nn.Module, layer_index: int, adds_input: bool = True) -> None:
        super().__init__()
        self.inner = inner
        self.layer_index = layer_index
        self.adds_input = adds_input

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        active = _ACTIVE.get()
        if active is None:
            return self.inner(hidden_states, *args, **kwargs)
        if not self.adds_input:
            delta = active.delta(self.layer_index, hidden_states)
            output = self.inner(hidden_states, *args, **kwargs)
            return output if delta is None else output + delta
        input_tensor, *rest = args if args else (kwargs.pop("input_tensor"),)
        delta = active.delta(self.layer_index, input_tensor)
        if delta is not None:
            input_tensor = input_tensor + delta
        return self.inner(hidden_states, input_tensor, *rest, **kwargs)


def install_ffn_adapters(model: nn.Module, family: Optional[Family] = None) -> None:
    """Wrap every layer's feed-forward module (once; idempotent)."""
    family = family or family_of_model(model)
    for index, layer in enumerate(family.encoder_layers(model)):
        module = family.feed_forward_module(layer)
        if not isinstance(module, AdaptedFeedForward):
            wrapper = AdaptedFeedForward(module, index, family.adds_input)
            wrapper.train(module.training)
            family.set_feed_forward_module(layer, wrapper)
