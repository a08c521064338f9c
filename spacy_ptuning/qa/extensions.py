"""The Doc extensions a QA pipeline reads and writes.

doc._.question (in): the question asked about the doc (the context).
doc.spans["answer"] (out): the best answer span, or empty for "no answer".
doc._.answer (out, read-only): that span or None.
doc._.answers (out): n-best [{"text", "start_char", "end_char", "score"}], best first.
doc._.no_answer_score (out): the score of "no answer" (compare with answers' scores).
doc._.qa_id / doc._.gold_answers: a training example's question id and gold texts
([] when unanswerable), kept on reference docs for scoring.
All stored values are plain JSON types, so DocBin(store_user_data=True) keeps them.
"""
from typing import Optional

from spacy.tokens import Doc, Span

ANSWER_KEY = "answer"
ANSWER_LABEL = "ANSWER"


def _answer(doc: Doc) -> Optional[Span]:
    group = doc.spans.get(ANSWER_KEY)
    return group[0] if group is not None and len(group) else None


def register_extensions() -> None:
    """Register the QA extensions once (safe to call again)."""
    for name, default in (
        ("question", None), ("answers", None), ("no_answer_score", None), ("qa_id", None), ("gold_answers", None),
    ):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=default)
    if not Doc.has_extension("answer"):
        Doc.set_extension("answer", getter=_answer)


register_extensions()
