"""spaCy's textcat scores, over the examples that carry categories only.

spaCy's own textcat scorers count a doc without `cats` as a wrong prediction,
so a multitask evaluation on NER or QA data would report a textcat score of 0.
These scorers skip such docs and report None for every score when none is left,
as spaCy's entity scorer does for docs without entities.
"""
from functools import partial
from typing import Any, Callable, Dict, Iterable, List

from spacy.pipeline.textcat import textcat_score
from spacy.pipeline.textcat_multilabel import textcat_multilabel_score
from spacy.training import Example
from spacy.util import registry

CATS_KEYS = (
    "score", "score_desc", "micro_p", "micro_r", "micro_f", "macro_p", "macro_r", "macro_f", "macro_auc",
    "f_per_type", "auc_per_type",
)


def with_cats(examples: Iterable[Example]) -> List[Example]:
    """The examples whose reference has categories (textcat examples)."""
    return [eg for eg in examples if eg.reference.cats]


def _score_with_cats(
    examples: Iterable[Example], *, score_cats: Callable[..., Dict[str, Any]], **kwargs
) -> Dict[str, Any]:
    examples = with_cats(examples)
    if not examples:
        return {f"cats_{key}": None for key in CATS_KEYS}
    return score_cats(examples, **kwargs)


def _skipping_other_tasks(score_cats: Callable[..., Dict[str, Any]]) -> Callable[..., Dict[str, Any]]:
    """score_cats over the examples that have cats (a partial, so pipelines stay picklable)."""
    return partial(_score_with_cats, score_cats=score_cats)


@registry.scorers("spacy_ptuning.textcat_scorer.v1")
def make_textcat_scorer() -> Callable[..., Dict[str, Any]]:
    """spacy.textcat_scorer.v2 over examples with categories (exclusive classes)."""
    return _skipping_other_tasks(textcat_score)


@registry.scorers("spacy_ptuning.textcat_multilabel_scorer.v1")
def make_textcat_multilabel_scorer() -> Callable[..., Dict[str, Any]]:
    """spacy.textcat_multilabel_scorer.v2 over examples with categories."""
    return _skipping_other_tasks(textcat_multilabel_score)
