"""ptuning_mixed_tasks: a pipeline's prompt components in shared backbone forward passes.

Opt-in: `nlp.add_pipe("ptuning_mixed_tasks", first=True)`. For each batch it
stacks the windows of every prompt component after it that shares a backbone
(each row with its own component's prompts; QA rows with their questions) into
the same forward passes, runs each component's head over its part, and leaves
the outputs for the components, which set their annotations at their own place
in the pipeline as usual (layers/precomputed.py). The components keep working
alone and save exactly what they saved before; this component saves nothing
but its config.

It reads the docs as they are when it runs: put it after any component that
sets what its tasks read (e.g. doc._.question). Components switched off for
the call (`nlp.pipe(..., disable=[...])`, `nlp(text, disable=[...])`,
`nlp.select_pipes`) are left out: nothing is computed or kept for them.
"""
import sys
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Tuple

from spacy import language as spacy_language
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.util import minibatch

from ..layers.encoder import doc_runs, encoder_module, find_encoder
from ..layers.mixed_batch import MIXABLE_MODES, mixed_forward
from ..layers.precomputed import PENDING, encoder_output_given
from ..settings import UnitInterval

Member = Tuple[str, object]  # (component name, component)


@Language.factory(
    "ptuning_mixed_tasks", assigns=[], requires=[], default_config={"tasks": None, "min_fill": 0.75}
)
def make_mixed_tasks(
    nlp: Language, name: str, tasks: Optional[List[str]], min_fill: UnitInterval
) -> "MixedTaskRunner":
    """Run the prompt components after this one (or those named in `tasks`) in shared forward passes."""
    return MixedTaskRunner(nlp, name, tasks=tasks, min_fill=min_fill)


class MixedTaskRunner(Pipe):
    """Computes, per batch, the model outputs of several prompt components in shared
    backbone forward passes; the components take them when the pipeline reaches them.

    tasks: names of the components to run together (None: every component after this
    one whose encoder is in "deep" or "none" mode; components over another backbone
    are mixed with their own backbone's). Components in "shallow" or "finetune" mode
    cannot share a pass: naming one is an error, and by default they run alone.
    min_fill: rows (windows) go longest first; a pass ends before a row shorter than
    min_fill times its longest, so that at most about 1 - min_fill of it is padding.
    0 puts every row of a batch in as few passes as `max_windows` allows: best on a
    GPU, where padding is nearly free; on a CPU padding costs as much as text, hence
    the default 0.75 (see README, "Mixed-task batches", for measurements).
    """

    def __init__(
        self, nlp: Language, name: str = "ptuning_mixed_tasks", *, tasks: Optional[Sequence[str]] = None,
        min_fill: float = 0.75,
    ):
        if tasks is not None and (isinstance(tasks, str) or not all(isinstance(t, str) for t in tasks)):
            raise ValueError(f"{name}: tasks must be a list of component names or null, got {tasks!r}.")
        if isinstance(min_fill, bool) or not isinstance(min_fill, (int, float)) or not 0.0 <= min_fill <= 1.0:
            raise ValueError(f"{name}: min_fill must be a number from 0 to 1, got {min_fill!r}.")
        self.name = name
        self.tasks = list(tasks) if tasks is not None else None
        self.min_fill = float(min_fill)
        # the pipeline this component reads its members from (a plain reference, so that
        # copy.deepcopy and pickling of the pipeline carry it over to the copy)
        self.nlp = nlp

    def __call__(self, doc: Doc) -> Doc:
        self.run([doc])
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        error_handler = self.get_error_handler()
        for docs in minibatch(stream, size=batch_size):
            try:
                self.run(docs)
            except Exception as e:
                error_handler(self.name, self, docs, e)
            yield from docs

    def members(self) -> List[Member]:
        """The components this runner serves, in pipeline order."""
        nlp = self.nlp
        skipped = _skipped_in_this_call(nlp)
        names = [n for n in nlp.pipe_names if n not in skipped]
        after = names[names.index(self.name) + 1 :] if self.name in names else names
        if self.tasks is None:
            return [(n, nlp.get_pipe(n)) for n in after if _mixable_reason(nlp.get_pipe(n)) is None]
        members = []
        for task in self.tasks:
            if task not in nlp.component_names:
                raise ValueError(
                    f"{self.name}: no component named {task!r} in the pipeline {nlp.component_names}; "
                    "fix `tasks` in its config (or set it to null for every prompt component after it)."
                )
            if task not in names:  # disabled: nothing to compute for it
                continue
            if task not in after:
                raise ValueError(
                    f"{self.name}: component {task!r} runs before {self.name!r}; "
                    f"add {self.name!r} earlier, e.g. nlp.add_pipe({self.name!r}, first=True)."
                )
            reason = _mixable_reason(nlp.get_pipe(task))
            if reason is not None:
                raise ValueError(f"{self.name}: component {task!r} cannot share a forward pass: {reason}.")
            members.append((task, nlp.get_pipe(task)))
        return members

    def run(self, docs: Sequence[Doc]) -> None:
        """Compute the members' model outputs for these docs and leave them for the members."""
        docs = list(docs)
        by_backbone: Dict[int, List[Member]] = {}
        for name, component in self.members():
            backbone = encoder_module(find_encoder(component.model)).backbone
            by_backbone.setdefault(id(backbone), []).append((name, component))
        for members in by_backbone.values():
            if len(members) > 1:  # one component alone gains nothing: it runs itself
                _run_together([component for _, component in members], docs, self.min_fill)


def _run_together(components: Sequence, docs: List[Doc], min_fill: float) -> None:
    """Mixed forward passes, one round per doc run of each component (as its predict groups them)."""
    plans = []
    for component in components:
        select = getattr(component, "encoded_docs", None)
        encoded = select(docs) if select is not None else docs
        plans.append((component.model, find_encoder(component.model), doc_runs(component.model, encoded)))
    for k in range(max(len(runs) for _, _, runs in plans)):
        round_ = [(model, encoder, runs[k]) for model, encoder, runs in plans if k < len(runs)]
        outputs = mixed_forward([(encoder, run) for _, encoder, run in round_], min_fill)
        for (model, encoder, run), output in zip(round_, outputs):
            with encoder_output_given(encoder, run, output):
                PENDING.put(model, run, model.predict(run))


def _skipped_in_this_call(nlp: Language) -> FrozenSet[str]:
    """Names of the components the running call of `nlp` skips: its `disable` argument
    (`nlp(text, disable=...)`, `nlp.pipe(texts, disable=...)`), or, in a worker of
    `nlp.pipe(n_process=...)`, every component the worker was not given.

    spaCy tells a component nothing of the call it runs in, and an argument it skips
    changes no pipeline state; the calling frame is the only place it is written."""
    calls = (Language.__call__.__code__, Language.pipe.__code__)
    worker = getattr(spacy_language, "_apply_pipes", None)
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code in calls and frame.f_locals.get("self") is nlp:
            return frozenset(frame.f_locals.get("disable") or ())
        if worker is not None and code is worker.__code__:
            given = {getattr(p, "keywords", {}).get("name") for p in frame.f_locals.get("pipes") or ()}
            return frozenset(n for n in nlp.pipe_names if n not in given)
        frame = frame.f_back
    return frozenset()


def _mixable_reason(component) -> Optional[str]:
    """Why a component cannot join a mixed batch, or None if it can."""
    model = getattr(component, "model", None)
    encoder = find_encoder(model) if model is not None and hasattr(model, "walk") else None
    if encoder is None:
        return "it has no ptuning_encoder (not a prompt component)"
    mode = encoder_module(encoder).cfg.mode
    if mode not in MIXABLE_MODES:
        return f"its prompts are in mode {mode!r}; only {' and '.join(MIXABLE_MODES)} modes share passes"
    return None
