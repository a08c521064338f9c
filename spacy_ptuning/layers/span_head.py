"""Thinc layer: [CLS] + token rows -> start/end logits of tokens and a "no answer" logit."""
from typing import Callable, List, Tuple

from thinc.api import Dropout, Linear, Model
from thinc.types import Floats2d


def span_and_null_scores(width: int, dropout: float = 0.1) -> Model[List[Floats2d], List[Floats2d]]:
    """Per doc, rows [cls, token_1..token_n] (width wide) -> [1 + n, 2] logits.

    Token rows get start/end logits from one linear layer; row 0 gets the logit
    of a second, one-output linear layer over the [CLS] row, in both columns
    (so summing the row's start and end gives twice the "no answer" logit, as a
    span's score sums its start and end)."""
    spans = Linear(nO=2, nI=width)
    null = Linear(nO=1, nI=width)
    model = Model(
        "span_and_null_scores", _forward, init=_init, layers=[Dropout(dropout), spans, null],
        dims={"nI": width, "nO": 2},
    )
    model.set_ref("spans", spans)
    model.set_ref("null", null)
    return model


def _init(model: Model, X=None, Y=None) -> None:
    for layer in model.layers:
        layer.initialize()


def _forward(model: Model, docs_rows: List[Floats2d], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    drop, spans, null = model.layers
    lengths = ops.asarray1i([len(rows) for rows in docs_rows])
    flat = ops.flatten(docs_rows) if docs_rows else ops.alloc2f(0, model.get_dim("nI"))
    starts = ops.xp.asarray([0] + list(ops.to_numpy(lengths).cumsum()[:-1]), dtype="int64")[: len(docs_rows)]
    dropped, backprop_drop = drop(flat, is_train)
    scores, backprop_spans = spans(dropped, is_train)
    null_logits, backprop_null = null(ops.xp.ascontiguousarray(dropped[starts]), is_train)
    scores = scores.copy()
    scores[starts] = null_logits  # broadcast to both columns
    out = ops.unflatten(scores, lengths)

    def backprop(d_out: List[Floats2d]) -> List[Floats2d]:
        d_scores = ops.flatten(d_out)
        d_null = d_scores[starts].sum(axis=1, keepdims=True)
        d_spans = d_scores.copy()
        d_spans[starts] = 0.0
        d_dropped = backprop_spans(d_spans)
        d_dropped[starts] += backprop_null(ops.xp.ascontiguousarray(d_null))
        return ops.unflatten(backprop_drop(d_dropped), lengths)

    return out, backprop
