"""Evaluate a pipeline on one task's dev data, read by that task's own reader.

`spacy evaluate` reads every file with spaCy's Corpus, which makes each
predicted doc from the text alone: a QA doc loses its question and the QA
component is never asked. Here each task has its reader (textcat: .spacy; NER:
CoNLL, CLUENER JSON or .spacy; QA: SQuAD JSON, or .spacy saved with
`DocBin(store_user_data=True)`), predicted docs keep their question, and only
the task's own scores are kept, so a multitask pipeline is scored per task.
"""
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import DocBin
from spacy.training import Corpus, Example

from .corpora.ner_files import ner_corpus
from .corpora.squad import squad_corpus
from .qa.extensions import ANSWER_KEY, register_extensions
from .qa.scoring import squad_scores

TASKS = ("textcat", "ner", "qa")
TASK_SCORES = {"textcat": ("cats_",), "ner": ("ents_", "seqeval_"), "qa": ("qa_",)}


def qa_docbin_corpus(path: Union[str, Path], limit: int = 0) -> Callable[[Language], Iterator[Example]]:
    """QA examples from a .spacy file saved with user data: the predicted doc keeps doc._.question."""
    register_extensions()

    def read(nlp: Language) -> Iterator[Example]:
        docs = list(DocBin(store_user_data=True).from_disk(path).get_docs(nlp.vocab))
        for i, reference in enumerate(docs[:limit] if limit else docs):
            if reference._.question is None:
                raise ValueError(
                    f"{path}: doc {i} ({reference.text[:40]!r}) has no doc._.question. Save QA docs with "
                    "DocBin(store_user_data=True) after setting doc._.question, or use SQuAD JSON."
                )
            predicted = nlp.make_doc(reference.text)
            predicted._.question = reference._.question
            yield Example(predicted, reference)

    return read


def task_reader(path: Union[str, Path], task: str, limit: int = 0) -> Callable[[Language], Iterator[Example]]:
    """The reader of `task` for `path` (see the module docstring for the formats)."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}: use one of {', '.join(TASKS)}.")
    if task == "textcat" or Path(path).is_dir():
        _check_docbins(Path(path), task)
    if task == "textcat":
        return Corpus(path, limit=limit)
    if task == "ner":
        return ner_corpus(path, limit=limit)
    if Path(path).suffix.lower() == ".spacy":
        return qa_docbin_corpus(path, limit=limit)
    return squad_corpus(path, limit=limit)


def _check_docbins(path: Path, task: str) -> None:
    """A .spacy file, or a folder with .spacy files in it (what spacy.Corpus reads)."""
    if path.is_dir():
        if not any(path.rglob("*.spacy")):
            raise ValueError(f"{path} is a folder with no .spacy files; expected {task} dev data as .spacy files.")
    elif path.suffix.lower() != ".spacy":
        raise ValueError(
            f"{path} is not a .spacy file; expected {task} dev data as a .spacy file (DocBin) or a folder of them: "
            "convert it first (python -m spacy convert, or spacy-ptuning convert for NER)."
        )


def no_answer_baseline(nlp: Language, examples: List[Example]) -> Dict[str, Any]:
    """SQuAD scores of answering "no answer" to every question of `examples`."""
    abstain = []
    for eg in examples:
        doc = nlp.make_doc(eg.reference.text)
        doc.spans[ANSWER_KEY] = []
        abstain.append(Example(doc, eg.reference))
    return squad_scores(abstain)


def exclusive_accuracy(examples: List[Example]) -> Optional[float]:
    """Share of docs whose top predicted category is the gold one (None unless each
    reference has exactly one positive category, i.e. exclusive classes)."""
    right = 0
    for eg in examples:
        gold = [label for label, value in eg.reference.cats.items() if value == 1.0]
        if len(gold) != 1 or not eg.predicted.cats:
            return None
        right += max(eg.predicted.cats, key=eg.predicted.cats.get) == gold[0]
    return right / len(examples) if examples else None


def evaluate_task(
    nlp: Language, path: Union[str, Path], task: str, limit: int = 0, per_component: bool = False
) -> Dict[str, Any]:
    """The task's scores of `nlp` on `path`, with words/second (and the no-answer baseline for
    QA); per_component: also, under "components", each component's own task scores."""
    examples = list(task_reader(path, task, limit)(nlp))
    if not examples:
        raise ValueError(f"{path}: no {task} examples to evaluate.")
    n_words = sum(len(eg.reference) for eg in examples)
    start = time.perf_counter()
    docs = list(nlp.pipe(eg.predicted for eg in examples))
    seconds = time.perf_counter() - start
    examples = [Example(doc, eg.reference) for doc, eg in zip(docs, examples)]
    scores = Scorer(nlp).score(examples)
    kept = {k: v for k, v in scores.items() if k.startswith(TASK_SCORES[task])}
    if not any(v is not None for v in kept.values()):
        raise ValueError(
            f"{path}: the pipeline ({', '.join(nlp.pipe_names)}) reported no {task} scores on these examples: "
            f"does it have a {task} component, and does the file hold {task} annotation?"
        )
    if task == "textcat":
        accuracy = exclusive_accuracy(examples)
        if accuracy is not None:
            kept["accuracy"] = accuracy
    kept["words_per_second"] = n_words / seconds
    kept["n_examples"] = len(examples)
    if task == "qa":
        kept["baseline_no_answer"] = no_answer_baseline(nlp, examples)
    if per_component:
        by_component = Scorer(nlp).score(examples, per_component=True)
        kept["components"] = {
            name: task_scores for name, scores in by_component.items()
            if (task_scores := {k: v for k, v in scores.items() if k.startswith(TASK_SCORES[task]) and v is not None})
        }
    return kept
