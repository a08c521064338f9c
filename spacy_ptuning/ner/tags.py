"""BIO (IOB2) tag sets and constrained Viterbi decoding.

Decoding searches only valid sequences: `I-X` may follow only `B-X` or `I-X`,
so no entity is invented or dropped by a post-hoc repair.
"""
from typing import List, Sequence, Tuple

import numpy

OUTSIDE = "O"


def bio_tags(labels: Sequence[str]) -> List[str]:
    """["O", "B-L1", "I-L1", "B-L2", ...] for entity labels in the given order."""
    tags = [OUTSIDE]
    for label in labels:
        tags.extend((f"B-{label}", f"I-{label}"))
    return tags


def transition_mask(tags: Sequence[str]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(allowed[prev, next], allowed_start[tag]) for IOB2 sequences over tags."""
    n = len(tags)
    allowed = numpy.ones((n, n), dtype=bool)
    start = numpy.ones((n,), dtype=bool)
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            start[j] = False
            label = tag[2:]
            for i, prev in enumerate(tags):
                allowed[i, j] = prev in (f"B-{label}", f"I-{label}")
    return allowed, start


def viterbi(scores: numpy.ndarray, allowed: numpy.ndarray, start: numpy.ndarray) -> List[int]:
    """Best valid tag path for per-token scores [n_tokens, n_tags] (log-probabilities)."""
    n_tokens, n_tags = scores.shape
    if n_tokens == 0:
        return []
    neg = numpy.float64(-1e30)
    penalty = numpy.where(allowed, 0.0, neg)
    best = numpy.where(start, scores[0].astype("float64"), neg)
    back = numpy.zeros((n_tokens, n_tags), dtype="int64")
    for t in range(1, n_tokens):
        candidates = best[:, None] + penalty
        back[t] = candidates.argmax(axis=0)
        best = candidates.max(axis=0) + scores[t]
    path = [int(best.argmax())]
    for t in range(n_tokens - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def tags_to_spans(tags: Sequence[str]) -> List[Tuple[int, int, str]]:
    """(start, end, label) token spans of a valid IOB2 sequence."""
    spans = []
    current = None
    for i, tag in enumerate(list(tags) + [OUTSIDE]):
        if current is not None and not tag.startswith("I-"):
            spans.append((current[0], i, current[1]))
            current = None
        if tag.startswith("B-"):
            current = (i, tag[2:])
    return spans


def is_valid(tags: Sequence[str]) -> bool:
    """Whether a tag sequence is valid IOB2."""
    prev = OUTSIDE
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            return False
        prev = tag
    return True
