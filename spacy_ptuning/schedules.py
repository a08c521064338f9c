"""A learning-rate schedule whose decay ends at the last training step.

thinc's `warmup_linear.v1` takes `total_steps` as a number, so a config whose
run length is set by `max_epochs` decays on the wrong clock: on more data the
rate sits at 0 for the rest of the run, on less the decay never finishes.
`spacy_ptuning.warmup_linear.v2` ends at the run's last step instead: its
`total_steps` is counted when the pipeline is initialised, by the
`[initialize.after_init]` callback `spacy_ptuning.count_training_steps.v1`,
which reads the training corpus once, batches it with the training batcher and
multiplies by `max_epochs` (capped by `max_steps`), the way `spacy train` will
step through it, and writes the count into the config (so the trained
pipeline's config.cfg records it and `nlp.create_optimizer()` rebuilds the same
schedule). The rate rises linearly over the first `warmup_ratio` of the run,
then falls linearly to reach 0 just after the last step, so every step trains
with a positive rate and the last one with the smallest.

The schedule references no other config section, so spaCy's commands that
resolve the training block alone (`debug data`, `nlp.create_optimizer()`)
accept it. (`warmup_linear.v1`, which referenced `${corpora.train}` and
`${training.batcher}`, stays registered for configs that name it.)
"""
import warnings
from typing import Callable, Iterable, Iterator, Optional

import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import registry, resolve_dot_names

from .settings import PositiveFloat, PositiveInt, Probability

Corpus = Callable[[Language], Iterable[Example]]
Batcher = Callable[[Iterable[Example]], Iterable[list]]


class ScheduleError(ValueError):
    """A run whose length cannot be known, or settings that cannot make a schedule."""


def count_training_steps(
    corpus: Corpus, batcher: Batcher, max_epochs: int, max_steps: int, lang: str = "en"
) -> int:
    """The optimizer steps `spacy train` takes with these settings (one per batch).

    max_epochs >= 1: batches in one pass over the corpus times max_epochs, capped
    by max_steps when that is set; max_epochs 0 or -1 (no epoch limit): max_steps.
    """
    if max_epochs < 1:
        if max_steps < 1:
            raise ScheduleError(
                f"training.max_epochs = {max_epochs} sets no epoch limit and training.max_steps = {max_steps} "
                "no step limit, so the run has no length for the schedule to end at: set max_epochs >= 1 "
                "or max_steps >= 1."
            )
        return max_steps
    examples = list(corpus(spacy.blank(lang)))
    if not examples:
        raise ScheduleError("The training corpus is empty: no steps to schedule.")
    per_epoch = sum(1 for _ in batcher(examples))
    total = per_epoch * max_epochs
    return min(total, max_steps) if max_steps >= 1 else total


def warmup_linear_rates(initial_rate: float, warmup_steps: int, total_steps: int) -> Iterator[float]:
    """initial_rate * (step + 1) / warmup_steps during warm-up, then a linear
    fall to initial_rate / (total - warmup) at the last step; steps past the end
    keep that last rate (a shuffled epoch can batch into one more step)."""
    if total_steps < 1:
        raise ScheduleError(f"total_steps must be >= 1, got {total_steps}.")
    warmup_steps = min(max(warmup_steps, 0), total_steps - 1)
    decay = total_steps - warmup_steps

    def rates() -> Iterator[float]:
        step = 0
        while True:
            if step < warmup_steps:
                factor = (step + 1) / warmup_steps
            else:
                factor = max(total_steps - step, 1) / decay
            yield initial_rate * factor
            step += 1

    return rates()


@registry.schedules("spacy_ptuning.warmup_linear.v1")
def warmup_linear(
    initial_rate: float,
    warmup_ratio: float,
    corpus: Corpus,
    batcher: Batcher,
    max_epochs: int,
    max_steps: int = 0,
    lang: str = "en",
    total_steps: Optional[int] = None,
) -> Iterable[float]:
    """Warm-up then linear decay that ends at the run's last step.

    corpus, batcher, max_epochs, max_steps: the run's own settings (reference
    them: `${corpora.train}`, `${training.batcher}`, `${training.max_epochs}`,
    `${training.max_steps}`), from which the number of steps is counted;
    total_steps: give it to skip the count. warmup_ratio: share of the run spent
    warming up (0 <= ratio < 1).
    """
    if not 0.0 <= warmup_ratio < 1.0:
        raise ScheduleError(f"warmup_ratio must be in [0, 1), got {warmup_ratio!r}.")
    if initial_rate <= 0:
        raise ScheduleError(f"initial_rate must be > 0, got {initial_rate!r}.")
    if total_steps is None:
        total_steps = count_training_steps(corpus, batcher, max_epochs, max_steps, lang)
    return warmup_linear_rates(initial_rate, int(warmup_ratio * total_steps), total_steps)


@registry.schedules("spacy_ptuning.warmup_linear.v2")
def warmup_linear_v2(
    initial_rate: PositiveFloat, warmup_ratio: Probability = 0.1, total_steps: Optional[PositiveInt] = None
) -> Iterable[float]:
    """Warm-up then linear decay that ends at the run's last step.

    total_steps: the run's optimizer steps; null (the shipped configs) until
    `spacy_ptuning.count_training_steps.v1` counts them at initialisation. A
    schedule made before any count (e.g. `nlp.initialize()` without training data)
    warns and keeps initial_rate. warmup_ratio: share of the run spent warming up
    (0 <= ratio < 1).
    """
    if not 0.0 <= warmup_ratio < 1.0:
        raise ScheduleError(f"warmup_ratio must be in [0, 1), got {warmup_ratio!r}.")
    if initial_rate <= 0:
        raise ScheduleError(f"initial_rate must be > 0, got {initial_rate!r}.")
    if total_steps is None:
        return _constant(initial_rate)
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ScheduleError(f"total_steps must be an integer >= 1 or null, got {total_steps!r}.")
    return warmup_linear_rates(initial_rate, int(warmup_ratio * total_steps), total_steps)


def _constant(rate: float) -> Iterator[float]:
    """initial_rate throughout, for a schedule made before the run was counted; the first
    training step says so (the optimizer reads one value when it is made, and `spacy train`
    makes one before initialisation that never steps)."""
    yield rate
    warnings.warn(
        f"spacy_ptuning.warmup_linear.v2 has no total_steps: the learning rate stays at {rate}. "
        "Train with `spacy train` (the [initialize.after_init] callback spacy_ptuning.count_training_steps.v1 "
        "counts the run), or set training.optimizer.learn_rate.total_steps.",
        stacklevel=2,
    )
    while True:
        yield rate


SCHEDULE_PATH = ("training", "optimizer", "learn_rate")


@registry.callbacks("spacy_ptuning.count_training_steps.v1")
def make_count_training_steps() -> Callable[[Language], Language]:
    """An `[initialize.after_init]` callback: counts the optimizer steps of the run that
    nlp.config describes (training corpus, batcher, max_epochs, max_steps) and writes
    them into its `spacy_ptuning.warmup_linear.v2` schedule's total_steps, unless that is
    set already. Without training data to count (e.g. paths.train null), it warns and
    leaves the schedule without a length."""

    def after_init(nlp: Language) -> Language:
        schedule = nlp.config
        for key in SCHEDULE_PATH:
            schedule = schedule.get(key, {}) if isinstance(schedule, dict) else {}
        if not isinstance(schedule, dict) or schedule.get("@schedules") != "spacy_ptuning.warmup_linear.v2":
            return nlp
        if schedule.get("total_steps") is not None:
            return nlp
        try:
            total = count_config_steps(nlp)
        except Exception as err:  # no data to count: say so, and train at a constant rate
            warnings.warn(f"spacy_ptuning.count_training_steps.v1 could not count the run's steps ({err}).")
            return nlp
        schedule["total_steps"] = total
        return nlp

    return after_init


def count_config_steps(nlp: Language) -> int:
    """The optimizer steps of the run nlp.config describes, as `spacy train` takes them."""
    config = nlp.config.interpolate()
    training = config["training"]
    batcher = registry.resolve({"batcher": training["batcher"]})["batcher"]
    (corpus,) = resolve_dot_names(config, [training.get("train_corpus", "corpora.train")])
    return count_training_steps(
        corpus, batcher, int(training.get("max_epochs", 0)), int(training.get("max_steps", 0)), nlp.lang
    )
