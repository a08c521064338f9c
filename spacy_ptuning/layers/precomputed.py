"""Model outputs computed ahead of a component's own turn (mixed-task batches).

`ptuning_mixed_tasks` runs several components' encoders in shared forward
passes, then each component's model over its encoder output
(`encoder_output_given`), and leaves the result in `PENDING`; when the pipeline
reaches the component, its predict (`predict_in_groups`) takes the output for
exactly those docs instead of running the backbone again. Annotations are thus
set at each component's own place in the pipeline, as without the runner.
"""
import threading
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from spacy.tokens import Doc
from thinc.api import Model

_GIVEN: ContextVar[Optional[Tuple[Model, List[Doc], Any]]] = ContextVar("spacy_ptuning_given_output", default=None)


@contextmanager
def encoder_output_given(encoder: Model, docs: List[Doc], output: Any) -> Iterator[None]:
    """Inside this block, `encoder` returns `output` for exactly these docs instead of running."""
    token = _GIVEN.set((encoder, docs, output))
    try:
        yield
    finally:
        _GIVEN.reset(token)


def given_encoder_output(encoder: Model, docs: Sequence[Doc]) -> Optional[Any]:
    """The output set by encoder_output_given for this encoder and these very docs, if any."""
    given = _GIVEN.get()
    if given is None or given[0] is not encoder or not _same_docs(given[1], docs):
        return None
    return given[2]


class PendingOutputs:
    """Model outputs computed ahead for (model, docs), each taken once by the model's owner.

    Entries are keyed by the model's id (unique in a process) and hold weak
    references to their docs: the output for docs that never reach their component
    (it was disabled, or batched them differently) is dropped once those docs are gone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: Dict[int, list] = {}

    def put(self, model: Model, docs: Sequence[Doc], output: Any) -> None:
        refs = [weakref.ref(doc) for doc in docs]
        with self._lock:
            for key in list(self._entries):
                live = [e for e in self._entries[key] if all(ref() is not None for ref in e[0])]
                if live:
                    self._entries[key] = live
                else:
                    del self._entries[key]
            self._entries.setdefault(model.id, []).append((refs, output))

    def take(self, model: Model, docs: Sequence[Doc]) -> Optional[Any]:
        with self._lock:
            entries = self._entries.get(model.id)
            if not entries:
                return None
            for i, (refs, output) in enumerate(entries):
                if len(refs) == len(docs) and all(ref() is doc for ref, doc in zip(refs, docs)):
                    del entries[i]
                    return output
        return None


PENDING = PendingOutputs()


def _same_docs(a: Sequence[Doc], b: Sequence[Doc]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))
