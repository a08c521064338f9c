"""A learning-rate schedule whose decay ends at the last training step.

thinc's `warmup_linear.v1` takes `total_steps` as a number, so a config whose
run length is set by `max_epochs` decays on the wrong clock: on more data the
rate sits at 0 for the rest of the run, on less the decay never finishes.
`spacy_ptuning.warmup_linear.v1` counts the run instead: it reads the training
corpus once, batches it with the training batcher and multiplies by
`max_epochs` (capped by `max_steps`), the way `spacy train` will step through
it. The rate rises linearly over the first `warmup_ratio` of the run, then
falls linearly to reach 0 just after the last step, so every step trains with a
positive rate and the last one with the smallest.
"""
from typing import Callable, Iterable, Iterator, Optional

import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import registry

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
