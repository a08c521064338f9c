"""Thinc layers that pool wordpiece states into token or doc vectors."""
from typing import Callable, List, Tuple

from thinc.api import Model
from thinc.types import Floats2d, Floats3d

from .encoder import TransformerOutput


def _gather_mean(model: Model, hidden: Floats3d, index, lengths) -> Tuple[Floats2d, Callable]:
    """Mean of hidden rows at flat positions `index`, grouped by `lengths`."""
    ops = model.ops
    n_rows, seq_len, width = hidden.shape
    flat = hidden.reshape((n_rows * seq_len, width))
    index = ops.xp.asarray(index)
    lengths_i = ops.asarray1i(lengths)
    if not len(index):  # nothing to pool (only empty or whitespace docs): zero vectors
        return ops.alloc2f(len(lengths), width), lambda d: ops.alloc3f(n_rows, seq_len, width)
    pooled = ops.reduce_mean(ops.xp.ascontiguousarray(flat[index]), lengths_i)

    def backprop(d_pooled: Floats2d) -> Floats3d:
        d_gathered = ops.backprop_reduce_mean(ops.xp.ascontiguousarray(d_pooled), lengths_i)
        d_flat = ops.alloc2f(n_rows * seq_len, width)
        ops.scatter_add(d_flat, index, d_gathered)
        return d_flat.reshape((n_rows, seq_len, width))

    return pooled, backprop


def _doc_offsets(doc_lengths) -> list:
    """Start of each doc's tokens in the flat token order, plus the end."""
    offsets = [0]
    for n in doc_lengths:
        offsets.append(offsets[-1] + n)
    return offsets


def pool_tokens() -> Model[TransformerOutput, List[Floats2d]]:
    """One vector per spaCy token: the mean of its wordpiece states."""
    return Model("pool_tokens", _pool_tokens_forward)


def _pool_tokens_forward(model: Model, out: TransformerOutput, is_train: bool):
    batch = out.batch
    pooled, backprop_pool = _gather_mean(model, out.hidden, batch.token_index, batch.token_lengths)
    ops = model.ops
    offsets = _doc_offsets(batch.doc_lengths)
    per_doc = [pooled[offsets[i] : offsets[i + 1]] for i in range(len(batch.doc_lengths))]

    def backprop(d_docs: List[Floats2d]) -> Floats3d:
        width = out.hidden.shape[2]
        d_pooled = ops.xp.concatenate(d_docs) if d_docs else ops.alloc2f(0, width)
        return backprop_pool(d_pooled.reshape((-1, width)))

    return per_doc, backprop


def pool_cls() -> Model[TransformerOutput, Floats2d]:
    """One vector per doc: its [CLS] state, averaged over the doc's windows."""
    return Model("pool_cls", _pool_cls_forward)


def _pool_cls_forward(model: Model, out: TransformerOutput, is_train: bool):
    return _gather_mean(model, out.hidden, out.batch.cls_index, out.batch.cls_lengths)


def mean_tokens() -> Model[TransformerOutput, Floats2d]:
    """One vector per doc: the mean of all its wordpiece states (all windows)."""
    return Model("mean_tokens", _mean_tokens_forward)


def _mean_tokens_forward(model: Model, out: TransformerOutput, is_train: bool):
    batch = out.batch
    ops = model.ops
    doc_of_token = ops.xp.repeat(ops.xp.arange(len(batch.doc_lengths)), ops.xp.asarray(batch.doc_lengths))
    doc_of_entry = ops.xp.repeat(doc_of_token, ops.xp.asarray(batch.token_lengths))
    n_docs = len(batch.doc_lengths)
    if len(doc_of_entry):
        lengths = ops.xp.bincount(doc_of_entry, minlength=n_docs)
    else:
        lengths = ops.xp.zeros(n_docs, dtype="int32")
    return _gather_mean(model, out.hidden, batch.token_index, lengths)


def cls_and_tokens() -> Model[TransformerOutput, List[Floats2d]]:
    """Per doc, [1 + n_tokens, width]: its [CLS] vector (mean over windows), then its token vectors.

    The QA head reads "no answer" from row 0 and answer starts/ends from the rest.
    """
    return Model("cls_and_tokens", _cls_and_tokens_forward)


def _cls_and_tokens_forward(model: Model, out: TransformerOutput, is_train: bool):
    ops = model.ops
    batch = out.batch
    tokens, backprop_tokens = _gather_mean(model, out.hidden, batch.token_index, batch.token_lengths)
    cls, backprop_cls = _gather_mean(model, out.hidden, batch.cls_index, batch.cls_lengths)
    offsets = _doc_offsets(batch.doc_lengths)
    rows = [
        ops.xp.concatenate([cls[i : i + 1], tokens[offsets[i] : offsets[i + 1]]])
        for i in range(len(batch.doc_lengths))
    ]

    def backprop(d_rows: List[Floats2d]) -> Floats3d:
        width = out.hidden.shape[2]
        d_cls = ops.xp.ascontiguousarray(ops.xp.stack([d[0] for d in d_rows])) if d_rows else ops.alloc2f(0, width)
        d_tokens = ops.xp.concatenate([d[1:] for d in d_rows]) if d_rows else ops.alloc2f(0, width)
        return backprop_tokens(d_tokens.reshape((-1, width))) + backprop_cls(d_cls)

    return rows, backprop
