"""Score a multitask pipeline on each task's dev data, loading the pipeline once.

Runs what `spacy-ptuning evaluate MODEL DATA --task TASK --output OUT` runs, for
the three tasks in one process: the whole pipeline processes every data set and
each output keeps only its task's scores. OUT is `{output_prefix}{task}.json`.
"""
import json
from pathlib import Path

import spacy
import typer

from spacy_ptuning.cli.checks import fail, load_pipeline
from spacy_ptuning.evaluation import evaluate_task


def main(
    model: str,
    textcat_dev: Path,
    ner_dev: Path,
    qa_dev: Path,
    output_prefix: str = typer.Option(..., help="e.g. metrics/multitask- writes metrics/multitask-textcat.json, ..."),
    gpu_id: int = typer.Option(-1, help="GPU to run on, -1 for CPU"),
) -> None:
    data = {"textcat": textcat_dev, "ner": ner_dev, "qa": qa_dev}
    for task, path in data.items():
        if not path.exists():
            fail(f"{path}: no such file or folder ({task} dev data).")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = load_pipeline(model)
    for task, path in data.items():
        try:
            scores = evaluate_task(nlp, path, task)
        except ValueError as err:
            fail(str(err))
        output = Path(f"{output_prefix}{task}.json")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(scores, indent=2), encoding="utf8")
        shown = {k: round(v, 4) for k, v in scores.items() if isinstance(v, float)}
        print(f"{task} ({path}): {json.dumps(shown)}")


if __name__ == "__main__":
    typer.run(main)
