"""Windows of several prompt components in one backbone forward pass (inference).

Components over one frozen backbone differ only in their prompts, so their
windows can share a batch: each row gets its own component's prefix keys and
values at every layer (and its own feed-forward adapters, if it has any), shorter prefixes padded and masked out per row
(`prompts_active(..., prompt_mask=...)`). QA rows keep their question/context
pairs and token types: every component's windows are built by its own encoder.

`mixed_forward` gives the encoder outputs of several (encoder, docs) tasks from
shared forward passes, rows sorted by length and at most `max_windows` (the
smallest cap among the encoders) per pass; `ptuning_mixed_tasks`
(pipeline/mixed_tasks.py) hands them to the components (layers/precomputed.py).
"""
from contextlib import nullcontext
from typing import List, Optional, Sequence, Tuple

import numpy
import torch
from spacy.tokens import Doc
from thinc.api import Model, torch2xp
from thinc.util import get_torch_default_device

from .encoder import TransformerOutput, encoder_module
from .ffn_adapter import adapters_active
from .prefix_attention import prompts_active
from .prompted_transformer import PromptedTransformer

MIXABLE_MODES = ("deep", "none")
Task = Tuple[Model, List[Doc]]  # a ptuning_encoder layer and the docs it encodes


def mixed_forward(tasks: Sequence[Task], min_fill: float = 0.0) -> List[TransformerOutput]:
    """The TransformerOutput of each (encoder, docs) task, all tasks' windows run
    together: what each encoder alone would return for its docs, within float tolerance.

    All encoders must share one backbone and be mixable. Rows go longest first, at
    most `max_windows` per pass; min_fill > 0 also starts a new pass at a row shorter
    than min_fill times the pass's longest, so that little of a pass is padding
    (0: all rows in as few passes as the cap allows, best where padding is cheap, as
    on a GPU; on a CPU padding costs as much as text)."""
    modules = [encoder_module(encoder) for encoder, _ in tasks]
    backbone = modules[0].backbone
    for module in modules:
        if module.backbone is not backbone or module.cfg.mode not in MIXABLE_MODES:
            raise ValueError(
                f"mixed_forward: an encoder in mode {module.cfg.mode!r} over {module.backbone.path} cannot join "
                f"encoders over {backbone.path}: all must share one backbone, in mode {' or '.join(MIXABLE_MODES)}."
            )
    batches = [encoder.attrs["build_batch"](backbone, docs) for encoder, docs in tasks]
    width = tasks[0][0].get_dim("nO")
    hidden = [encoder.ops.alloc3f(*batch.input_ids.shape, width) for (encoder, _), batch in zip(tasks, batches)]
    rows = [
        (int(batch.attention_mask[r].sum()), t, r)
        for t, batch in enumerate(batches)
        for r in range(batch.input_ids.shape[0])
    ]
    rows.sort(key=lambda row: -row[0])  # similar lengths together: little padding per pass
    cap = min(encoder.attrs["max_windows"] for encoder, _ in tasks)
    prompts = [_prompt_key_values(module) for module in modules]
    device = get_torch_default_device()
    backbone.to(device)
    with torch.no_grad():
        for chunk in _chunks(rows, cap, min_fill):
            states = torch2xp(_forward_rows(modules, batches, prompts, chunk, device), ops=tasks[0][0].ops)
            for j, (length, t, r) in enumerate(chunk):
                hidden[t][r, :length] = states[j, :length]
    return [TransformerOutput(batch=batch, hidden=h) for batch, h in zip(batches, hidden)]


def _chunks(rows: Sequence[Tuple[int, int, int]], cap: int, min_fill: float) -> List[Sequence[Tuple[int, int, int]]]:
    """Consecutive runs of the (length, task, row) rows, sorted longest first: at most cap
    rows each, and none shorter than min_fill times its run's first (longest) row."""
    chunks: List[List[Tuple[int, int, int]]] = []
    for row in rows:
        if not chunks or len(chunks[-1]) >= cap or row[0] < min_fill * chunks[-1][0][0]:
            chunks.append([])
        chunks[-1].append(row)
    return chunks


def _prompt_key_values(module: PromptedTransformer) -> Optional[Tuple[Tuple[torch.Tensor, torch.Tensor], ...]]:
    """A module's prompts as per-layer (key, value) [1, heads, prefix, head_dim], None without prompts."""
    if module.prefix is None:
        return None
    with torch.no_grad():
        return module.prefix.key_values(1, dropout=False)


def _forward_rows(
    modules: Sequence[PromptedTransformer], batches: Sequence, prompts: Sequence,
    chunk: Sequence[Tuple[int, int, int]], device: torch.device,
) -> torch.Tensor:
    """One backbone pass over the rows (length, task, row) of a chunk, each with its task's
    prompts, and its task's layer mix if it has one."""
    module = modules[0]
    length = max(chunk[0][0], 1)

    def stack(field: str, pad: int = 0) -> torch.Tensor:
        """Rows of one input array, cut or right-padded to the chunk's length (windows
        are left-aligned: a row's real pieces come first)."""
        array = numpy.full((len(chunk), length), pad, dtype=getattr(batches[0], field).dtype)
        for j, (_, t, r) in enumerate(chunk):
            row = getattr(batches[t], field)[r, :length]
            array[j, : len(row)] = row
        return torch.as_tensor(array, device=device)

    pad_id = module.backbone.config.pad_token_id or 0
    input_ids, attention_mask = stack("input_ids", pad_id), stack("attention_mask")
    token_type_ids = stack("token_type_ids")
    inputs = module.backbone.model_inputs(
        input_ids=input_ids,
        attention_mask=attention_mask,
        token_type_ids=token_type_ids,
        position_ids=module.position_ids(input_ids, attention_mask),
        output_hidden_states=any(m.layer_weights is not None for m in modules),
    )
    task_rows = [torch.as_tensor([j for j, (_, task, _) in enumerate(chunk) if task == t], dtype=torch.long,
                                 device=device) for t in range(len(modules))]
    with _row_adapters(modules, task_rows):
        return _prompted_pass(modules, prompts, task_rows, inputs)


def _row_adapters(modules: Sequence[PromptedTransformer], task_rows: Sequence[torch.Tensor]):
    """Each row's own task's feed-forward adapters (rows of tasks without any get none)."""
    if all(m.adapters is None for m in modules):
        return nullcontext()
    return adapters_active([m.adapters for m in modules], task_rows)


def _prompted_pass(
    modules: Sequence[PromptedTransformer], prompts: Sequence, task_rows: Sequence[torch.Tensor], inputs: dict,
) -> torch.Tensor:
    """The backbone pass over a chunk's inputs, each row with its own task's prompts."""
    module = modules[0]
    n_rows = inputs["input_ids"].shape[0]
    n_prompts = max((kv[0][0].shape[2] for kv in prompts if kv is not None), default=0)
    if n_prompts == 0:
        return _task_states(modules, module.backbone.model(**inputs), task_rows)
    n_layers = len(next(kv for kv in prompts if kv is not None))
    template = next(kv for kv in prompts if kv is not None)[0][0]
    shape = (n_rows, template.shape[1], n_prompts, template.shape[3])
    keys = [template.new_zeros(shape) for _ in range(n_layers)]
    values = [template.new_zeros(shape) for _ in range(n_layers)]
    prompt_mask = torch.zeros((n_rows, n_prompts), dtype=torch.bool, device=template.device)
    for kv, index in zip(prompts, task_rows):
        if kv is None or not len(index):
            continue
        index = index.to(template.device)
        size = kv[0][0].shape[2]
        prompt_mask[index, :size] = True
        for layer, (key, value) in enumerate(kv):
            keys[layer][index, :, :size] = key[0]
            values[layer][index, :, :size] = value[0]
    with prompts_active(list(zip(keys, values)), visible=True, prompt_mask=prompt_mask):
        return _task_states(modules, module.backbone.model(**inputs), task_rows)


def _task_states(modules: Sequence[PromptedTransformer], output, task_rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """The states each row's own component reads: the last layer's, or its own layer mix."""
    # this pass's own tensor (no gradients), filled in place; it may be hidden_states[-1] itself,
    # but each row belongs to one task, so no task's mix reads a row another task replaced
    hidden = output.last_hidden_state
    for module, index in zip(modules, task_rows):
        if module.layer_weights is not None and len(index):
            index = index.to(hidden.device)
            hidden[index] = module.mix([states[index] for states in output.hidden_states])
    return hidden
