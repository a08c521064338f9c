"""Thinc layer: [CLS] + token rows -> start/end logits of tokens and a "no answer" logit."""
from itertools import accumulate
from typing import Callable, List, Tuple

from thinc.api import Dropout, Linear, Model, chain
from thinc.types import Floats2d

from .hidden import hidden_layer

NULL_POOLINGS = ("cls", "mean")


def token_scorer(width: int, hidden_width: int = 0) -> Model[Floats2d, Floats2d]:
    """Rows (width wide) -> start/end logits: one linear layer, or with hidden_width > 0 the
    head's hidden layer (hidden_layer) before it."""
    hidden = hidden_layer(width, hidden_width)
    linear = Linear(nO=2, nI=hidden_width or width)
    return linear if hidden is None else chain(hidden, linear)


def span_and_null_scores(
    width: int, dropout: float = 0.1, null_pooling: str = "cls", hidden_width: int = 0
) -> Model[List[Floats2d], List[Floats2d]]:
    """Per doc, rows [cls, token_1..token_n] (width wide) -> [1 + n, 2] logits.

    Token rows get start/end logits from token_scorer (one linear layer, or a
    hidden GELU layer and a linear one); row 0 gets the logit
    of a second, one-output linear layer in both columns (so summing the row's
    start and end gives twice the "no answer" logit, as a span's score sums its
    start and end). That classifier reads the [CLS] row ("cls") or the mean of
    the token rows ("mean": the pooling sentence-embedding backbones such as
    all-MiniLM were trained with, whose [CLS] state carries little)."""
    if null_pooling not in NULL_POOLINGS:
        raise ValueError(f"Unknown null_pooling {null_pooling!r}: use one of {', '.join(NULL_POOLINGS)}.")
    spans = token_scorer(width, hidden_width)
    null = Linear(nO=1, nI=width)
    model = Model(
        "span_and_null_scores", _forward, init=_init, layers=[Dropout(dropout), spans, null],
        dims={"nI": width, "nO": 2}, attrs={"null_pooling": null_pooling},
    )
    model.set_ref("spans", spans)
    model.set_ref("null", null)
    return model


def _init(model: Model, X=None, Y=None) -> None:
    for layer in model.layers:
        layer.initialize()


def _forward(model: Model, docs_rows: List[Floats2d], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    xp = ops.xp
    drop, spans, null = model.layers
    width = model.get_dim("nI")
    sizes = [len(rows) for rows in docs_rows]
    lengths = ops.asarray1i(sizes)
    flat = ops.flatten(docs_rows) if docs_rows else ops.alloc2f(0, width)
    offsets = [0] + list(accumulate(sizes))[:-1]  # row 0 ([CLS]) of each doc in the flat rows
    starts = xp.asarray(offsets, dtype="int64")
    dropped, backprop_drop = drop(flat, is_train)
    scores, backprop_spans = spans(dropped, is_train)
    mean = model.attrs["null_pooling"] == "mean"
    if mean:  # mean of each doc's token rows (zeros for a doc without tokens)
        pooled = xp.stack([
            dropped[s + 1 : s + n].mean(axis=0) if n > 1 else xp.zeros((width,), dtype=dropped.dtype)
            for s, n in zip(offsets, sizes)
        ]) if sizes else ops.alloc2f(0, width)
    else:
        pooled = dropped[starts]
    null_logits, backprop_null = null(xp.ascontiguousarray(pooled), is_train)
    scores = scores.copy()
    scores[starts] = null_logits  # broadcast to both columns
    out = ops.unflatten(scores, lengths)

    def backprop(d_out: List[Floats2d]) -> List[Floats2d]:
        d_scores = ops.flatten(d_out)
        d_null = d_scores[starts].sum(axis=1, keepdims=True)
        d_spans = d_scores.copy()
        d_spans[starts] = 0.0
        d_dropped = backprop_spans(d_spans)
        d_pooled = backprop_null(xp.ascontiguousarray(d_null))
        if mean:
            for i, (s, n) in enumerate(zip(offsets, sizes)):
                if n > 1:
                    d_dropped[s + 1 : s + n] += d_pooled[i] / (n - 1)
        else:
            d_dropped[starts] += d_pooled
        return ops.unflatten(backprop_drop(d_dropped), lengths)

    return out, backprop
