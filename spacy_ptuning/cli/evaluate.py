"""`spacy-ptuning evaluate`: one task's dev scores, read by that task's reader (QA keeps its questions)."""
import json
from pathlib import Path
from typing import Optional

import spacy
import typer
from wasabi import msg

from ..evaluation import TASKS, evaluate_task
from ._app import app
from .checks import fail, load_pipeline, output_file, pipeline_location

DATA_KINDS = {
    "textcat": "a .spacy file or a folder of them",
    "ner": "a .spacy file, a folder of them, CoNLL columns or CLUENER JSON lines",
    "qa": "SQuAD JSON, or a .spacy file saved with user data",
}


@app.command("evaluate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def evaluate_cli(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Pipeline directory or installed package name"),
    data: Path = typer.Argument(..., help="Dev data: .spacy (textcat, NER, QA), CoNLL/CLUENER (NER), SQuAD JSON (QA)"),
    task: str = typer.Option(..., "--task", "-t", help=f"One of {', '.join(TASKS)}"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the scores as JSON here"),
    limit: int = typer.Option(0, "--limit", help="Use at most this many examples (0: all)"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to run on, -1 for CPU"),
    code_path: Optional[Path] = typer.Option(None, "--code", "-c", help="Python file with additional code "
                                             "(registered functions) to import, as for `spacy evaluate`"),
    per_component: bool = typer.Option(False, "--per-component", "-P", help="Report the task's scores per component"),
) -> None:
    """Score a pipeline on one task; unlike `spacy evaluate`, QA docs keep their question.
    Extra --section.key value pairs override the pipeline's config, as in `spacy train`."""
    from spacy.cli._util import import_code, parse_config_overrides

    import_code(code_path)
    overrides = parse_config_overrides(ctx.args)
    if task not in TASKS:
        raise typer.BadParameter(f"{task!r}: use one of {', '.join(TASKS)}", param_hint="--task")
    pipeline_location(model)
    if not data.exists():
        fail(f"{data}: no such file or folder; expected {task} dev data ({DATA_KINDS[task]}).")
    if output is not None:
        output_file(output, "the scores' JSON file")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = load_pipeline(model, overrides)
    try:
        scores = evaluate_task(nlp, data, task, limit, per_component=per_component)
    except ValueError as err:
        fail(str(err))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(scores, indent=2), encoding="utf8")
    if per_component:
        for component, component_scores in scores["components"].items():
            msg.divider(component)
            _table(component_scores)
    else:
        _table(scores)
    if "baseline_no_answer" in scores:
        msg.info(f"always 'no answer' on the same questions: F1 {scores['baseline_no_answer']['qa_f1']:.4f}")


def _table(scores: dict) -> None:
    rows = [(k, f"{v:.4f}" if isinstance(v, float) else v) for k, v in scores.items() if isinstance(v, (int, float))]
    msg.table(rows, header=("score", "value"), divider=True)
