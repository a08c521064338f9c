"""n-best answer spans from start/end logits, with a "no answer" score to beat."""
from dataclasses import dataclass
from typing import List

import numpy


@dataclass(frozen=True)
class SpanCandidate:
    """Tokens start..end (inclusive) and the summed start + end logit."""

    start: int
    end: int
    score: float


def best_spans(
    start_logits: numpy.ndarray,
    end_logits: numpy.ndarray,
    max_answer_length: int,
    n_best: int,
    top_k: int = 20,
) -> List[SpanCandidate]:
    """The n_best spans with start <= end < start + max_answer_length, best first.

    Only the top_k starts and ends are paired, as in the usual SQuAD decoding;
    positions are context tokens only, so an answer can never lie in the question.
    Positions with a logit of -inf (masked) never start or end a span.
    """
    n = len(start_logits)
    if n == 0 or n_best <= 0:
        return []
    k = min(top_k, n)
    starts = numpy.argsort(-start_logits, kind="stable")[:k]
    ends = numpy.argsort(-end_logits, kind="stable")[:k]
    candidates = [
        SpanCandidate(int(i), int(j), float(start_logits[i] + end_logits[j]))
        for i in starts
        for j in ends
        if i <= j < i + max_answer_length and numpy.isfinite(start_logits[i] + end_logits[j])
    ]
    candidates.sort(key=lambda c: (-c.score, c.start, c.end))
    return candidates[:n_best]
