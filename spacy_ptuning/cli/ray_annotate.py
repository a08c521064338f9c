"""`spacy-ptuning ray-annotate`: JSONL texts in, JSONL annotations out, on Ray Data."""
import json
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ._app import app
from .checks import fail, input_file, output_file, pipeline_location


@app.command("ray-annotate")
def ray_annotate_cli(
    model: str = typer.Argument(..., help="Pipeline: installed package name, or a path every Ray node can read"),
    input_path: Path = typer.Argument(..., metavar="INPUT", help="JSONL file: one object per line with a text (and optional question)"),
    output_path: Path = typer.Argument(..., metavar="OUTPUT", help="JSONL file to write: each input object plus its results"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join (e.g. 'auto', 'ray://head:10001'); default: start a local Ray instance"),
    concurrency: int = typer.Option(1, "--concurrency", "-c", help="Number of actors, each with its own copy of the pipeline"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Rows per batch handed to an actor"),
    num_gpus: float = typer.Option(0, "--num-gpus", help="GPUs per actor (> 0: the pipeline runs on the GPU)"),
    num_cpus: float = typer.Option(1, "--num-cpus", help="CPUs per actor"),
    text_field: str = typer.Option("text", "--text-field", help="Field holding the text"),
    question_field: str = typer.Option("question", "--question-field", help="Field holding the QA question (optional per line)"),
    mixed_tasks: bool = typer.Option(False, "--mixed-tasks", help="Run the prompt components in shared forward passes (ptuning_mixed_tasks)"),
) -> None:
    """Annotate a JSONL file with a pipeline on Ray Data; bad lines get an `error` field, the job goes on."""
    pipeline_location(model)
    input_file(input_path, "a JSONL file (one JSON object per line)")
    output_file(output_path, "the JSONL file to write")
    try:
        import ray
        import ray.data
    except ImportError:
        fail("ray-annotate needs Ray Data: pip install 'spacy-ptuning[ray]'")
    from ..ray_data import actors_do_not_fit, annotate, file_lines, output_record

    for name, value in (("--concurrency", concurrency), ("--batch-size", batch_size)):
        if value < 1:
            raise typer.BadParameter(f"must be at least 1, got {value}", param_hint=name)
    if Path(model).exists():
        model = str(Path(model).resolve())  # actors may run in other working directories
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    problem = actors_do_not_fit(ray.cluster_resources(), concurrency, num_cpus, num_gpus)
    if problem:
        fail(problem)
    files = ray.data.read_binary_files(str(input_path.resolve()))
    rows = files.flat_map(file_lines, fn_kwargs={"text_field": text_field, "question_field": question_field})
    annotated = annotate(
        rows, model, batch_size=batch_size, concurrency=concurrency, num_gpus=num_gpus, num_cpus=num_cpus,
        mixed_tasks=mixed_tasks,
    )
    output_path.parent.mkdir(parents=True, exist_ok=True)
    n_rows = n_errors = 0
    with output_path.open("w", encoding="utf8") as out:
        result_names = None
        for row in annotated.iter_rows():
            if result_names is None:
                result_names = [name for name in row if name not in ("record", "text", "question")]
            record = output_record(row, result_names)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n_rows += 1
            n_errors += record.get("error") is not None
    msg.good(f"{n_rows} rows written to {output_path} ({n_errors} with an error)")
