"""SQuAD exact match and F1, following the official v2.0 evaluation script.

Answers are normalised (lower case, punctuation and English articles removed,
whitespace collapsed) and scored against every gold answer, keeping the best.
An unanswerable question has the single gold answer "". CJK characters count
as one token each, so F1 on Chinese is over characters (as CMRC 2018 scores it).
"""
import re
import string
from itertools import groupby
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Tuple

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


def is_qa_example(example: Example) -> bool:
    """Whether an example asks a question (a textcat doc in a multitask evaluation does not)."""
    return example.reference._.gold_answers is not None or example.reference._.question is not None


def _answer_margin(doc) -> float:
    """How far the best span beats "no answer" (-inf when no span could be proposed)."""
    if not doc._.answers or doc._.no_answer_score is None:
        return float("-inf")
    return float(doc._.answers[0]["score"]) - float(doc._.no_answer_score)


def best_threshold(rows: List[Tuple[float, bool, float]]) -> Tuple[float, float]:
    """SQuAD v2.0's best_f1 / best_f1_thresh for (margin, has_answer, forced-answer F1) rows.

    Answering a question gains its forced-answer F1 if it has an answer and loses
    the 1 a correct abstention scores if not; the cut through the margins sorted
    best first with the highest total is the best threshold. A question is then
    answered when its margin is strictly above the threshold (the component's rule).
    """
    if not rows:
        return 0.0, 0.0
    answerable = [r for r in sorted(rows, key=lambda r: -r[0]) if r[0] != float("-inf")]
    total = best_total = float(sum(1 for _, has_answer, _ in rows if not has_answer))
    best_thresh = answerable[0][0] if answerable else 0.0
    groups = [(margin, list(group)) for margin, group in groupby(answerable, key=lambda r: r[0])]
    for i, (margin, group) in enumerate(groups):  # equal margins are answered together
        total += sum(f1 if has_answer else -1.0 for _, has_answer, f1 in group)
        if total > best_total:
            best_total = total
            best_thresh = (margin + groups[i + 1][0]) / 2 if i + 1 < len(groups) else margin - 1.0
    return best_total / len(rows), best_thresh


def squad_scores(examples: Iterable[Example], prefix: str = "qa") -> Dict[str, Any]:
    """Overall, HasAns and NoAns EM/F1 as fractions (None for an empty split), plus
    the threshold-free scores: HasAns F1 with forced answers (the best span even
    where the component abstained) and SQuAD v2.0's best_f1 with its threshold.

    Examples that are not QA examples (see is_qa_example) are skipped; with none
    left every score is None, as spaCy's own scorers report a task without examples."""
    splits: Dict[str, List[Dict[str, float]]] = {"all": [], "hasans": [], "noans": []}
    forced: List[float] = []
    margins: List[Tuple[float, bool, float]] = []
    for eg in examples:
        if not is_qa_example(eg):
            continue
        golds = gold_answers(eg)
        answer = eg.predicted._.answer
        scores = score_answer(golds, answer.text if answer is not None else "")
        has_answer = any(normalize_answer(g) for g in golds)
        splits["all"].append(scores)
        splits["hasans" if has_answer else "noans"].append(scores)
        candidates = eg.predicted._.answers or []
        forced_f1 = score_answer(golds, candidates[0]["text"])["f1"] if candidates else 0.0
        if has_answer:
            forced.append(forced_f1)
        margins.append((_answer_margin(eg.predicted), has_answer, forced_f1))

    def mean(rows: List[Dict[str, float]], key: str) -> Optional[float]:
        return sum(r[key] for r in rows) / len(rows) if rows else None

    n = len(splits["all"])
    best_f1, best_thresh = best_threshold(margins)
    return {
        f"{prefix}_exact": mean(splits["all"], "exact"),
        f"{prefix}_f1": mean(splits["all"], "f1"),
        f"{prefix}_forced_f1": sum(forced) / len(forced) if forced else None,
        f"{prefix}_best_f1": best_f1 if n else None,
        f"{prefix}_best_f1_thresh": best_thresh if n else None,
        f"{prefix}_hasans_em": mean(splits["hasans"], "exact"),
        f"{prefix}_hasans_f1": mean(splits["hasans"], "f1"),
        f"{prefix}_noans_em": mean(splits["noans"], "exact"),
        f"{prefix}_noans_f1": mean(splits["noans"], "f1"),
        f"{prefix}_total": n if n else None,
        f"{prefix}_hasans_n": len(splits["hasans"]) if n else None,
    }


@registry.scorers("spacy_ptuning.squad_scorer.v1")
def make_squad_scorer():
    """Scorer reporting SQuAD v2.0 EM/F1 overall and on the HasAns / NoAns splits."""
    return squad_scorer


def squad_scorer(examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
    """squad_scores with the scorer signature (a module-level function: pipelines stay picklable)."""
    return squad_scores(examples)
