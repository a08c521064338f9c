"""SQuAD v1.1 / v2.0 JSON (and CMRC 2018, same format) as QA Examples.

Each question becomes one Example: the context is the Doc, the question is
`doc._.question`, gold answer texts are `doc._.gold_answers` (scoring uses
text only) and the first answer that can be placed is the training span in
`doc.spans["answer"]`. An `answer_start` that does not point at its text is
reported with the question id: the answer is placed at the occurrence of its
text nearest to the given offset, or, if the text is nowhere in the context,
kept for scoring but not used as a training span.
"""
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.training import Example
from spacy.util import registry

from . import missing_path
from ..qa.extensions import ANSWER_KEY, ANSWER_LABEL, register_extensions


class SquadFormatError(ValueError):
    """A SQuAD file that cannot be read as it is."""


@dataclass
class QARecord:
    """One question about one context; answers as (text, character offset or None)."""

    qid: str
    question: str
    context: str
    answers: List[Tuple[str, Optional[int]]] = field(default_factory=list)
    is_impossible: bool = False


def read_squad(path: Union[str, Path]) -> Tuple[List[QARecord], List[str]]:
    """All questions of a SQuAD file, and one line per answer whose offset had to be fixed."""
    path = Path(path)
    if not path.exists():
        raise SquadFormatError(f"{path}: no such file")
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise SquadFormatError(f"{path}: not UTF-8 (byte offset {err.start}); SQuAD files are UTF-8 JSON") from None
    except json.JSONDecodeError as err:
        raise SquadFormatError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise SquadFormatError(f'{path}: expected an object with a "data" list (SQuAD format)')
    records: List[QARecord] = []
    problems: List[str] = []
    for a, article in enumerate(data["data"]):
        title = article.get("title", f"#{a}") if isinstance(article, dict) else f"#{a}"
        where = f"{path}: article {title!r}"
        paragraphs = _typed(article, "paragraphs", list, where) if isinstance(article, dict) else None
        if paragraphs is None:
            raise SquadFormatError(f'{where}: expected an object with a "paragraphs" list, got {article!r:.60}')
        for paragraph in paragraphs:
            if not isinstance(paragraph, dict):
                raise SquadFormatError(f"{where}: a paragraph must be an object, got {paragraph!r:.60}")
            context = paragraph.get("context")
            if not isinstance(context, str):
                raise SquadFormatError(f'{where}: a paragraph has no "context" string')
            for qa in _typed(paragraph, "qas", list, f"{where}, paragraph {context[:30]!r}") or []:
                if not isinstance(qa, dict):
                    raise SquadFormatError(f"{where}: a question must be an object, got {qa!r:.60}")
                records.append(_record(path, context, qa, problems))
    if not records:
        raise SquadFormatError(f"{path}: the file holds no questions")
    return records, problems


def _typed(obj: dict, key: str, kind: type, where: str):
    """obj[key] if it has the expected JSON type (None when missing); else an error naming it."""
    value = obj.get(key)
    if value is not None and not isinstance(value, kind):
        raise SquadFormatError(f'{where}: "{key}" must be a {kind.__name__}, got {value!r:.60}')
    return value


def _record(path: Path, context: str, qa: dict, problems: List[str]) -> QARecord:
    qid = str(qa.get("id", "?"))
    where = f"{path}: question {qid}"
    question = qa.get("question")
    if not isinstance(question, str) or not question.strip():
        raise SquadFormatError(f"{where} has no question text (got {question!r}): every question needs one")
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise SquadFormatError(f'{where}: "is_impossible" must be true or false, got {impossible!r}')
    given = _typed(qa, "answers", list, where) or []
    if impossible and given:
        problems.append(f"{qid}: is_impossible is true but it has {len(given)} answer(s); read as unanswerable")
    answers: List[Tuple[str, Optional[int]]] = []
    for answer in [] if impossible else given:
        if not isinstance(answer, dict):
            raise SquadFormatError(f'{where}: an answer must be an object {{"text", "answer_start"}}, got {answer!r:.60}')
        text, start = answer.get("text", ""), answer.get("answer_start")
        if not isinstance(text, str) or not text.strip():
            raise SquadFormatError(f"{where} has an empty answer text")
        # a negative offset would match by Python's negative slicing: it is no offset
        valid = isinstance(start, int) and not isinstance(start, bool) and start >= 0
        if valid and context[start : start + len(text)] == text:
            answers.append((text, start))
            continue
        fixed = _nearest_occurrence(context, text, start if valid else 0)
        placed = f"placed at {fixed}" if fixed is not None else "not found in the context; scored, not trained on"
        problems.append(f"{qid}: answer {text[:40]!r} does not start at {start!r} ({placed})")
        answers.append((text, fixed))
    if not impossible and not answers:
        raise SquadFormatError(f"{where} has no answers and is not marked is_impossible")
    return QARecord(qid, question, context, answers, impossible)


def _nearest_occurrence(context: str, text: str, near: int) -> Optional[int]:
    starts, i = [], context.find(text)
    while i != -1:
        starts.append(i)
        i = context.find(text, i + 1)
    return min(starts, key=lambda s: abs(s - near)) if starts else None


def record_to_example(nlp: Language, record: QARecord) -> Example:
    """Predicted doc: context + question. Reference: also gold texts and the answer span."""
    predicted = nlp.make_doc(record.context)
    predicted._.question = record.question
    predicted._.qa_id = record.qid  # so warnings and errors while encoding can name the question
    reference = nlp.make_doc(record.context)
    reference._.question = record.question
    reference._.qa_id = record.qid
    reference._.gold_answers = [text for text, _ in record.answers]
    spans = []
    for text, start in record.answers:
        if start is not None:
            span = reference.char_span(start, start + len(text), label=ANSWER_LABEL, alignment_mode="expand")
            if span is not None:
                spans.append(span)
                break
    reference.spans[ANSWER_KEY] = spans
    return Example(predicted, reference)


@registry.readers("spacy_ptuning.SquadCorpus.v1")
def squad_corpus(
    path: Optional[Union[str, Path, Sequence[Union[str, Path]]]], limit: int = 0
) -> Callable[[Language], Iterator[Example]]:
    """Read SQuAD v1.1/v2.0 JSON directly in `spacy train` (is_impossible optional).

    path: one file, or a list of files read one after another (e.g.
    `--paths.train '["train-v1.1.json", "train-v2.0.json"]'`); limit: at most
    this many questions in all (0: every question)."""
    register_extensions()
    if path is None:
        return missing_path("spacy_ptuning.SquadCorpus.v1")
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths:
        raise SquadFormatError("SquadCorpus.v1 got an empty list of paths.")

    def read(nlp: Language) -> Iterator[Example]:
        records: List[QARecord] = []
        for one in paths:
            found, problems = read_squad(one)
            if problems:
                shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
                warnings.warn(f"{one}: {len(problems)} question(s) read with a fix: {shown}")
            records.extend(found)
        for record in records[:limit] if limit else records:
            yield record_to_example(nlp, record)

    return read
