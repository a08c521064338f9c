"""Batch inference on Ray Data (optional extra `ray`): texts in, plain columns out.

`annotate(dataset, model)` maps a Ray Dataset with a text column (and, for QA,
a question column) through actors that each load the pipeline once, by name or
path (`spacy.load`), so all its components share one backbone per actor; no
`nlp` object ever travels through Ray (that fails: spaCy #13506). Output rows
keep every input column, in input order, and add:

- `cats` (a struct, one field per label) for text classification;
- `ent_starts`, `ent_ends`, `ent_labels` (character offsets) for NER;
- `answer`, `answer_start`, `answer_end`, `answer_score`, `no_answer_score` for QA
  (null where the row has no question, `answer` null where the model abstains);
- `error`: null, or why the row was not annotated (empty text, missing field,
  wrong type, blank question, a line that is not a JSON object): a bad row never
  stops the job.

`annotate_frame` is the per-batch work, usable without Ray.
"""
import json
import math
from typing import Any, Dict, List, Optional, Tuple

import pyarrow as pa

from .jsonl import json_lines, parse_line


def pipeline_tasks(nlp) -> Tuple[bool, bool, bool]:
    """Whether the enabled pipeline sets doc.cats, doc.ents and QA answers."""
    assigns = {attr for name in nlp.pipe_names for attr in nlp.get_pipe_meta(name).assigns}
    return "doc.cats" in assigns, "doc.ents" in assigns, "doc._.answers" in assigns


def result_schema(nlp) -> pa.Schema:
    """The result columns this pipeline produces, with their Arrow types."""
    has_cats, has_ents, has_qa = pipeline_tasks(nlp)
    fields = []
    if has_cats:
        labels = sorted({label for name in nlp.pipe_names for label in _cats_labels(nlp, name)})
        fields.append(pa.field("cats", pa.struct([pa.field(label, pa.float64()) for label in labels])))
    if has_ents:
        fields += [pa.field("ent_starts", pa.list_(pa.int64())), pa.field("ent_ends", pa.list_(pa.int64())),
                   pa.field("ent_labels", pa.list_(pa.string()))]
    if has_qa:
        fields += [pa.field("answer", pa.string()), pa.field("answer_start", pa.int64()),
                   pa.field("answer_end", pa.int64()), pa.field("answer_score", pa.float64()),
                   pa.field("no_answer_score", pa.float64())]
    fields.append(pa.field("error", pa.string()))
    return pa.schema(fields)


def _cats_labels(nlp, name: str) -> List[str]:
    if "doc.cats" not in nlp.get_pipe_meta(name).assigns:
        return []
    return list(getattr(nlp.get_pipe(name), "labels", ()))


def annotate_frame(
    nlp, frame, text_column: str = "text", question_column: str = "question", batch_size: int = 64
) -> pa.Table:
    """Annotate one batch (a pandas DataFrame): its columns plus the result columns."""
    from .qa.extensions import register_extensions

    register_extensions()
    schema = result_schema(nlp)
    n = len(frame)
    errors: List[Optional[str]] = list(frame["error"]) if "error" in frame.columns else [None] * n
    errors = [e if isinstance(e, str) else None for e in errors]
    docs: Dict[int, Any] = {}
    for i in range(n):
        if errors[i] is not None:
            continue
        text, question, errors[i] = _read_row(frame, i, text_column, question_column)
        if errors[i] is None:
            doc = nlp.make_doc(text)
            doc._.question = question
            docs[i] = doc
    results: Dict[int, Dict[str, Any]] = {}
    rows = list(docs)
    try:
        for i, doc in zip(rows, nlp.pipe([docs[i] for i in rows], batch_size=batch_size)):
            results[i] = _results(doc)
    except Exception:  # one bad doc must not sink its batch: retry the rows one by one
        for i in rows:
            if i in results:
                continue
            try:
                results[i] = _results(nlp(docs[i]))
            except Exception as err:  # noqa: BLE001  (reported in the row's error column)
                errors[i] = f"{type(err).__name__}: {err}"
    columns = {name: [] for name in schema.names}
    for i in range(n):
        row = results.get(i, {})
        for name in schema.names:
            columns[name].append(errors[i] if name == "error" else row.get(name))
    inputs = frame.drop(columns=[c for c in schema.names if c in frame.columns])  # e.g. file_lines' error
    table = pa.Table.from_pandas(inputs, preserve_index=False)
    for field in schema:
        table = table.append_column(field, pa.array(columns[field.name], type=field.type))
    return table


def _read_row(frame, i: int, text_column: str, question_column: str) -> Tuple[Any, Optional[str], Optional[str]]:
    """(text, question, error) of row i, the error naming what is wrong."""
    if text_column not in frame.columns:
        return None, None, f"missing field {text_column!r}"
    text = frame[text_column].iloc[i]
    if _is_missing(text):
        return None, None, f"missing field {text_column!r}"
    if not isinstance(text, str):
        return None, None, f"field {text_column!r} must be a string, got {type(text).__name__}"
    if not text.strip():
        return None, None, f"empty text in field {text_column!r}"
    question = frame[question_column].iloc[i] if question_column in frame.columns else None
    if _is_missing(question):
        return text, None, None
    if not isinstance(question, str):
        return None, None, f"field {question_column!r} must be a string, got {type(question).__name__}"
    if not question.strip():
        return None, None, f"blank question in field {question_column!r}"
    return text, question, None


def _is_missing(value: Any) -> bool:
    """None, NaN or pandas' NA: how a missing field reaches a pandas batch."""
    import pandas

    return value is None or value is pandas.NA or (isinstance(value, float) and math.isnan(value))


def _results(doc) -> Dict[str, Any]:
    best = doc._.answer
    answers = doc._.answers or []
    return {
        "cats": dict(doc.cats),
        "ent_starts": [e.start_char for e in doc.ents],
        "ent_ends": [e.end_char for e in doc.ents],
        "ent_labels": [e.label_ for e in doc.ents],
        "answer": best.text if best is not None else None,
        "answer_start": best.start_char if best is not None else None,
        "answer_end": best.end_char if best is not None else None,
        "answer_score": answers[0]["score"] if best is not None else None,
        "no_answer_score": doc._.no_answer_score,
    }


class PipelineActor:
    """A Ray Data actor: loads the pipeline once (by name or path) and annotates batches."""

    def __init__(
        self, model: str, text_column: str = "text", question_column: str = "question",
        use_gpu: bool = False, mixed_tasks: bool = False, nlp_batch_size: int = 64,
    ) -> None:
        import spacy

        if use_gpu:
            spacy.require_gpu()
        self.nlp = spacy.load(model)
        if mixed_tasks and "ptuning_mixed_tasks" not in self.nlp.component_names:
            self.nlp.add_pipe("ptuning_mixed_tasks", first=True)
        self.text_column = text_column
        self.question_column = question_column
        self.nlp_batch_size = nlp_batch_size

    def __call__(self, frame) -> pa.Table:
        return annotate_frame(self.nlp, frame, self.text_column, self.question_column, self.nlp_batch_size)


def annotate(
    dataset, model: str, *, text_column: str = "text", question_column: str = "question",
    batch_size: int = 64, concurrency: int = 1, num_gpus: float = 0, num_cpus: float = 1,
    mixed_tasks: bool = False,
):
    """A Dataset of the input rows with the result columns added (see the module docstring).

    model: a pipeline's name (installed package) or path, loaded by every actor;
    concurrency: number of actors; num_gpus / num_cpus: per actor (num_gpus > 0
    runs the pipeline on the actor's GPU); batch_size: rows per batch handed to an
    actor; mixed_tasks: add ptuning_mixed_tasks to the pipeline in each actor.
    Row order is kept: preserve_order is switched on in the returned dataset's DataContext."""
    annotated = dataset.map_batches(
        PipelineActor,
        fn_constructor_kwargs={
            "model": str(model), "text_column": text_column, "question_column": question_column,
            "use_gpu": num_gpus > 0, "mixed_tasks": mixed_tasks, "nlp_batch_size": batch_size,
        },
        batch_size=batch_size,
        batch_format="pandas",
        concurrency=concurrency,
        num_gpus=num_gpus,
        num_cpus=num_cpus,
    )
    annotated.context.execution_options.preserve_order = True
    return annotated


def file_lines(row: Dict[str, Any], text_field: str = "text", question_field: str = "question") -> List[Dict[str, Any]]:
    """Ray Data flat_map over read_binary_files' rows: one parsed row per line of the file."""
    return [parse_line(raw, text_field, question_field) for raw in json_lines(row["bytes"])]


def output_record(row: Dict[str, Any], result_names: List[str]) -> Dict[str, Any]:
    """One JSONL output line: the input object (or {"line": ...} when it was not one) plus the results."""
    try:
        record = json.loads(row["record"])
    except (TypeError, json.JSONDecodeError):
        record = None
    out = dict(record) if isinstance(record, dict) else {"line": row["record"]}
    out.update({name: row.get(name) for name in result_names})
    return out


def actors_do_not_fit(resources: Dict[str, float], concurrency: int, num_cpus: float, num_gpus: float) -> Optional[str]:
    """Why `concurrency` actors of num_cpus / num_gpus each cannot run on a cluster with these
    resources (ray.cluster_resources()) beside the tasks that read and parse a file (ray-annotate),
    or None. Without a CPU left for those tasks Ray Data waits for ever instead of failing."""
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    need_cpus, need_gpus = concurrency * num_cpus, concurrency * num_gpus
    if need_gpus > gpus:
        return (f"{concurrency} actor(s) x {num_gpus} GPU need {need_gpus:g} GPUs; the Ray cluster has {gpus:g}: "
                "lower --concurrency or --num-gpus.")
    if need_cpus >= cpus:
        return (f"{concurrency} actor(s) x {num_cpus} CPU need {need_cpus:g} of the cluster's {cpus:g} CPUs, leaving "
                "none for Ray Data's reading and writing, so the job would wait for ever: lower --num-cpus "
                f"(e.g. {max(cpus - 1, 0.5) / concurrency:g}) or --concurrency.")
    return None
