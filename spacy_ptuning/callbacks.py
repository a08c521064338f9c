"""Training callbacks for the `[training]` block of a config."""
from typing import Callable

from spacy.language import Language
from spacy.util import registry

from .pipeline.qa import PromptQuestionAnswerer


@registry.callbacks("spacy_ptuning.use_calibrated_thresholds.v1")
def make_use_calibrated_thresholds() -> Callable[[Language], Language]:
    """A `[training.before_to_disk]` callback: every ptuning_qa component saves, as
    its null_threshold, the threshold that maximised dev F1 at the evaluation just
    before the save (SQuAD v2.0's best_f1_thresh), so model-best and model-last
    abstain where the dev data says abstaining pays."""

    def before_to_disk(nlp: Language) -> Language:
        for _, pipe in nlp.pipeline:
            if isinstance(pipe, PromptQuestionAnswerer):
                pipe.use_calibrated_threshold()
        return nlp

    return before_to_disk
