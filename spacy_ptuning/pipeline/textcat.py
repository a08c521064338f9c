"""Text classification components over a P-tuning v2 encoder.

They are spaCy's own TextCategorizer and MultiLabel_TextCategorizer (same
labels, loss, cats_* scores and scorer), with the trainable weights saved in
safetensors and clear errors for labels the component does not know.
"""
from typing import Callable, Iterable, Optional

from spacy.language import Language
from spacy.pipeline.textcat import TextCategorizer
from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Config, Model

from ..layers.encoder import predict_in_groups
from ..settings import UnitInterval
from .adapter_io import AdapterSerializationMixin
from .defaults import default_model


def _default_model(exclusive_classes: bool) -> Config:
    head = f"""
[model]
@architectures = "spacy_ptuning.TextCat.v1"
exclusive_classes = {str(exclusive_classes).lower()}
doc_pooling = "mean"
dropout = 0.1
nO = null
"""
    return default_model(head)


DEFAULT_TEXTCAT_MODEL = _default_model(exclusive_classes=True)
DEFAULT_MULTILABEL_MODEL = _default_model(exclusive_classes=False)
CATS_SCORE_WEIGHTS = {"cats_score": 1.0} | {
    f"cats_{name}": None
    for name in (
        "score_desc", "micro_p", "micro_r", "micro_f", "macro_p", "macro_r", "macro_f", "macro_auc", "f_per_type"
    )
}


class _PromptTextCatMixin(AdapterSerializationMixin):
    """What both text classifiers add to spaCy's: label checks and a size report."""

    def _validate_categories(self, examples: Iterable[Example]) -> None:
        super()._validate_categories(examples)  # type: ignore[misc]
        if not self.labels:  # type: ignore[attr-defined]
            return
        known = set(self.labels)  # type: ignore[attr-defined]
        for eg in examples:
            unknown = set(eg.reference.cats) - known
            if unknown:
                raise ValueError(
                    f"Component {self.name!r} has labels {sorted(known)} but an example has "
                    f"{sorted(unknown)} (text: {eg.reference.text[:60]!r}). Add them to the "
                    f"label set ([initialize.components.{self.name}.labels]) or fix the data."
                )

    def initialize(self, get_examples: Callable, *, nlp: Optional[Language] = None, **kwargs) -> None:
        super().initialize(get_examples, nlp=nlp, **kwargs)  # type: ignore[misc]
        self._finish_initialize(nlp)

    def predict(self, docs: Iterable[Doc]):
        """Scores from the model for every doc, empty ones included.

        spaCy's textcat returns all-zero scores when no doc of the batch has a
        token, so an empty text would score differently alone than in a batch;
        here it always gets the model's own output."""
        docs = list(docs)
        if not docs:
            return super().predict(docs)
        return self.model.ops.asarray(predict_in_groups(self.model, docs))

    def _check_loaded(self) -> None:
        n_out = self.model.get_ref("head").get_dim("nO") if self.model.has_ref("head") else None
        if n_out is not None and n_out != len(self.labels):  # type: ignore[attr-defined]
            raise ValueError(
                f"Component {self.name!r}: the saved head predicts {n_out} labels but cfg lists "
                f"{len(self.labels)} ({list(self.labels)}); the label set does not match the weights."
            )


class PromptTextCategorizer(_PromptTextCatMixin, TextCategorizer):
    """Exclusive-class text classifier whose model is a prompt-tuned encoder."""


class PromptMultiLabelTextCategorizer(_PromptTextCatMixin, MultiLabel_TextCategorizer):
    """Multi-label text classifier whose model is a prompt-tuned encoder."""


@Language.factory(
    "ptuning_textcat",
    assigns=["doc.cats"],
    default_config={"threshold": 0.0, "model": DEFAULT_TEXTCAT_MODEL, "scorer": {"@scorers": "spacy_ptuning.textcat_scorer.v1"}},
    default_score_weights=CATS_SCORE_WEIGHTS,
)
def make_ptuning_textcat(
    nlp: Language, name: str, model: Model, threshold: UnitInterval, scorer: Optional[Callable]
) -> PromptTextCategorizer:
    """Exclusive text classification with P-tuning v2 prompts over a frozen backbone."""
    return PromptTextCategorizer(nlp.vocab, model, name, threshold=threshold, scorer=scorer)


@Language.factory(
    "ptuning_textcat_multilabel",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.5,
        "model": DEFAULT_MULTILABEL_MODEL,
        "scorer": {"@scorers": "spacy_ptuning.textcat_multilabel_scorer.v1"},
    },
    default_score_weights=CATS_SCORE_WEIGHTS,
)
def make_ptuning_textcat_multilabel(
    nlp: Language, name: str, model: Model, threshold: UnitInterval, scorer: Optional[Callable]
) -> PromptMultiLabelTextCategorizer:
    """Multi-label text classification with P-tuning v2 prompts over a frozen backbone."""
    return PromptMultiLabelTextCategorizer(nlp.vocab, model, name, threshold=threshold, scorer=scorer)
