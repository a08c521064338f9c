"""Entity scores computed with seqeval (strict IOB2 mode, as in the CoNLL evaluation)."""
from typing import Any, Dict, Iterable, List

from spacy.training import Example
from spacy.util import registry

from .tags import OUTSIDE


def doc_bio(doc) -> List[str]:
    """IOB2 tags of a doc's entities (spaCy's `ent_iob_` + `ent_type_`)."""
    return [OUTSIDE if t.ent_iob_ in ("O", "") else f"{t.ent_iob_}-{t.ent_type_}" for t in doc]


def predicted_bio_on_reference(eg: Example) -> List[str]:
    """IOB2 tags of the predicted entities on the reference's tokens.

    seqeval compares sequences token by token, so predictions made on another
    tokenization are projected onto the gold tokens the way spaCy's ents_*
    scores project them (an entity with no aligned token is left out).
    """
    if len(eg.predicted) == len(eg.reference) and [t.text for t in eg.predicted] == [t.text for t in eg.reference]:
        return doc_bio(eg.predicted)
    tags = [OUTSIDE] * len(eg.reference)
    x2y = eg.alignment.x2y
    for ent in eg.predicted.ents:
        indices = x2y[ent.start : ent.end]
        if not len(indices):
            continue
        start, end = int(indices[0]), int(indices[-1]) + 1
        if any(tag != OUTSIDE for tag in tags[start:end]):
            continue
        tags[start : end] = [f"B-{ent.label_}"] + [f"I-{ent.label_}"] * (end - start - 1)
    return tags


def seqeval_scores(examples: Iterable[Example], prefix: str = "seqeval") -> Dict[str, Any]:
    """Micro P/R/F over all entities, and per type, with seqeval's strict IOB2 mode.

    Examples without entity annotation are not NER examples (as in spaCy's ents_*
    scores) and are skipped; with none left every score is None."""
    gold, pred = [], []
    for eg in examples:
        if not eg.reference.has_annotation("ENT_IOB"):
            continue
        gold.append(doc_bio(eg.reference))
        pred.append(predicted_bio_on_reference(eg))
    if not gold:
        return {f"{prefix}_{key}": None for key in ("p", "r", "f", "per_type")}
    # seqeval pulls in scikit-learn: imported when a score is computed, not with the package
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    per_type = {
        label: {"p": vals["precision"], "r": vals["recall"], "f": vals["f1-score"]}
        for label, vals in report.items()
        if label not in ("micro avg", "macro avg", "weighted avg")
    }
    return {
        f"{prefix}_p": micro["precision"],
        f"{prefix}_r": micro["recall"],
        f"{prefix}_f": micro["f1-score"],
        f"{prefix}_per_type": per_type,
    }


@registry.scorers("spacy_ptuning.seqeval_scorer.v1")
def make_seqeval_scorer():
    """Scorer reporting spaCy's ents_* scores and seqeval's strict IOB2 seqeval_* scores."""
    return ner_scores


def ner_scores(examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
    """spaCy's ents_* scores plus seqeval's (a module-level function: pipelines stay picklable)."""
    from spacy.scorer import get_ner_prf

    examples = list(examples)
    scores = get_ner_prf(examples)
    scores.update(seqeval_scores(examples))
    return scores
