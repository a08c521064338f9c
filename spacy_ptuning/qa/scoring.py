"""SQuAD exact match and F1, following the official v2.0 evaluation script.

Answers are normalised (lower case, punctuation and English articles removed,
whitespace collapsed) and scored against every gold answer, keeping the best.
An unanswerable question has the single gold answer "". CJK characters count
as one token each, so F1 on Chinese is over characters (as CMRC 2018 scores it).
"""
import re
import string
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional

from spacy.training import Example
from spacy.util import registry

from .extensions import ANSWER_KEY

_PUNCT = set(string.punctuation) | set("，。！？；：“”‘’（）《》【】、…—·「」『』")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str) -> List[str]:
    """Normalised whitespace tokens, with each CJK character its own token."""
    return _CJK.sub(r" \1 ", normalize_answer(text)).split()


def exact_match(gold: str, predicted: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(predicted))


def f1_score(gold: str, predicted: str) -> float:
    gold_tokens, pred_tokens = answer_tokens(gold), answer_tokens(predicted)
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    same = sum((Counter(gold_tokens) & Counter(pred_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def score_answer(golds: Iterable[str], predicted: str) -> Dict[str, float]:
    """Best EM and F1 over the gold answers ([""] when none is non-empty after normalising)."""
    golds = [g for g in golds if normalize_answer(g)] or [""]
    return {
        "exact": max(exact_match(g, predicted) for g in golds),
        "f1": max(f1_score(g, predicted) for g in golds),
    }


def gold_answers(example: Example) -> List[str]:
    """Gold texts of an example: doc._.gold_answers, else the reference's answer spans."""
    texts = example.reference._.gold_answers
    if texts is None:
        texts = [span.text for span in example.reference.spans.get(ANSWER_KEY, [])]
    return list(texts)


def squad_scores(examples: Iterable[Example], prefix: str = "qa") -> Dict[str, Any]:
    """Overall, HasAns and NoAns EM/F1 as fractions (None for an empty split).

    Examples whose reference has neither a question nor gold answers are not QA
    examples and are skipped."""
    splits: Dict[str, List[Dict[str, float]]] = {"all": [], "hasans": [], "noans": []}
    for eg in examples:
        if eg.reference._.gold_answers is None and eg.reference._.question is None:
            continue  # not a QA example (e.g. a textcat doc in a multitask evaluation)
        golds = gold_answers(eg)
        answer = eg.predicted._.answer
        scores = score_answer(golds, answer.text if answer is not None else "")
        splits["all"].append(scores)
        splits["hasans" if any(normalize_answer(g) for g in golds) else "noans"].append(scores)

    def mean(rows: List[Dict[str, float]], key: str) -> Optional[float]:
        return sum(r[key] for r in rows) / len(rows) if rows else None

    return {
        f"{prefix}_exact": mean(splits["all"], "exact"),
        f"{prefix}_f1": mean(splits["all"], "f1"),
        f"{prefix}_hasans_em": mean(splits["hasans"], "exact"),
        f"{prefix}_hasans_f1": mean(splits["hasans"], "f1"),
        f"{prefix}_noans_em": mean(splits["noans"], "exact"),
        f"{prefix}_noans_f1": mean(splits["noans"], "f1"),
        f"{prefix}_total": len(splits["all"]),
        f"{prefix}_hasans_n": len(splits["hasans"]),
    }


@registry.scorers("spacy_ptuning.squad_scorer.v1")
def make_squad_scorer():
    """Scorer reporting SQuAD v2.0 EM/F1 overall and on the HasAns / NoAns splits."""

    def score(examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
        return squad_scores(examples)

    return score
