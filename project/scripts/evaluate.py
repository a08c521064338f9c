"""Evaluate a trained pipeline on a dev file read by the task's own reader; write metrics JSON.

textcat: a .spacy file; ner: CoNLL columns / CLUENER JSON / .spacy; qa: SQuAD JSON (spacy
evaluate's reader does not carry doc._.question over to the predicted doc, so QA needs this).
For QA it also scores the always-no-answer baseline on the same questions.
"""
import json
import time
from pathlib import Path

import spacy
import typer
from spacy.training import Corpus, Example

from spacy_ptuning.corpora.ner_files import ner_corpus
from spacy_ptuning.corpora.squad import squad_corpus
from spacy_ptuning.qa.extensions import ANSWER_KEY
from spacy_ptuning.qa.scoring import squad_scores

# task -> (path, limit) -> corpus reader
READERS = {
    "textcat": lambda path, limit=0: Corpus(path, limit=limit),
    "ner": lambda path, limit=0: ner_corpus(path, limit=limit),
    "qa": lambda path, limit=0: squad_corpus(path, limit=limit),
}
TASK_SCORES = {"textcat": ("cats_",), "ner": ("ents_", "seqeval_"), "qa": ("qa_",)}


def main(model: Path, data: Path, output: Path, task: str = typer.Option(...), gpu_id: int = -1) -> None:
    if task not in READERS:
        raise typer.BadParameter(f"task must be one of {', '.join(READERS)}")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    examples = list(READERS[task](data)(nlp))
    n_words = sum(len(eg.reference) for eg in examples)
    start = time.perf_counter()
    scores = nlp.evaluate(examples)
    seconds = time.perf_counter() - start
    # a multitask pipeline also scores its other tasks on these docs: keep this task's scores
    scores = {k: v for k, v in scores.items() if k.startswith(TASK_SCORES[task]) or k == "speed"}
    scores["words_per_second"] = n_words / seconds
    if task == "qa":
        abstain = []
        for eg in examples:
            doc = nlp.make_doc(eg.reference.text)
            doc.spans[ANSWER_KEY] = []
            abstain.append(Example(doc, eg.reference))
        scores["baseline_no_answer"] = squad_scores(abstain)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(scores, indent=2), encoding="utf8")
    shown = {k: round(v, 4) for k, v in scores.items() if isinstance(v, float)}
    print(json.dumps(shown, indent=2))


if __name__ == "__main__":
    typer.run(main)
