"""Ray Data connector: on a local Ray instance (2 CPUs), results equal nlp.pipe, rows keep
their order and ids, and bad rows get an error instead of stopping the job."""
import json

import pytest
import spacy
from typer.testing import CliRunner

pytest.importorskip("ray.data")
import pandas  # noqa: E402  (a dependency of ray[data])
import ray  # noqa: E402

from spacy_ptuning.cli import app  # noqa: E402
from spacy_ptuning.qa.extensions import register_extensions  # noqa: E402
from spacy_ptuning.ray_data import annotate, annotate_frame  # noqa: E402

from test_ner import ner_examples, ner_nlp  # noqa: E402
from test_qa import qa_examples, qa_nlp  # noqa: E402
from util import blank, encoder_cfg, randomize_adapters, sentiment_texts, textcat_examples, train  # noqa: E402

GOOD = [
    {"id": "a", "text": "john visited london and mary works in paris", "question": "who visited london"},
    {"id": "b", "text": "the movie was good"},
    {"id": "c", "text": " ".join(["mary works in paris"] * 10), "question": "where does mary work"},
    {"id": "d", "text": "acme corp said the plot was good", "question": None},
]
BAD = [
    ({"id": "e", "text": ""}, "empty text in field 'text'"),
    ({"id": "f", "text": "   "}, "empty text in field 'text'"),
    ({"id": "g", "text": None}, "missing field 'text'"),
    ({"id": "h", "text": "mary works", "question": "  "}, "blank question in field 'question'"),
]


@pytest.fixture(scope="module")
def pipeline_path(bert_dir, tmp_path_factory):
    """A textcat + NER + QA pipeline over one backbone, saved to disk."""
    textcat = blank()
    textcat.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir, init_std=1.0,
                                                                                 adapter_width=4)}})
    train(textcat, textcat_examples(textcat, sentiment_texts(8)), n_iter=2)
    randomize_adapters(textcat)
    ner = ner_nlp(bert_dir, init_std=1.0)
    train(ner, ner_examples(ner), n_iter=2)
    qa = qa_nlp(bert_dir, init_std=1.0)
    train(qa, qa_examples(qa), n_iter=2)
    nlp = blank()
    for source in (textcat, ner, qa):
        nlp.add_pipe(source.pipe_names[0], source=source)
    path = tmp_path_factory.mktemp("ray") / "pipeline"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def _expected(path, rows):
    """What nlp.pipe gives for the good rows: the connector's columns, built by hand."""
    register_extensions()
    nlp = spacy.load(path)
    docs = []
    for row in rows:
        doc = nlp.make_doc(row["text"])
        doc._.question = row.get("question")
        docs.append(doc)
    out = []
    for doc in nlp.pipe(docs):
        best = doc._.answer
        out.append({
            "cats": doc.cats,
            "ents": [(e.start_char, e.end_char, e.label_) for e in doc.ents],
            "answer": None if best is None else (best.text, best.start_char, best.end_char),
            "no_answer_score": doc._.no_answer_score,
        })
    return out


def _check(results, rows, expected):
    assert [r["id"] for r in results] == [r["id"] for r in rows]  # order and ids kept
    for got, want in zip(results, expected):
        assert got["error"] is None
        assert got["cats"] == pytest.approx(want["cats"], abs=1e-6)
        assert list(zip(got["ent_starts"], got["ent_ends"], got["ent_labels"])) == want["ents"]
        answer = None if got["answer"] is None else (got["answer"], got["answer_start"], got["answer_end"])
        assert answer == want["answer"]
        if want["no_answer_score"] is None:
            assert got["no_answer_score"] is None and got["answer_score"] is None
        else:
            assert got["no_answer_score"] == pytest.approx(want["no_answer_score"], abs=1e-6)


def test_annotate_frame_equals_nlp_pipe_without_ray(pipeline_path):
    nlp = spacy.load(pipeline_path)
    frame = pandas.DataFrame(GOOD + [row for row, _ in BAD])
    table = annotate_frame(nlp, frame).to_pylist()
    _check(table[: len(GOOD)], GOOD, _expected(pipeline_path, GOOD))
    for got, (row, error) in zip(table[len(GOOD) :], BAD):
        assert got["id"] == row["id"] and got["error"] == error
        assert got["cats"] is None and got["ent_starts"] is None and got["answer"] is None
    no_text = annotate_frame(nlp, pandas.DataFrame([{"id": "x", "body": "some text"}])).to_pylist()
    assert no_text[0]["error"] == "missing field 'text'"
    with_runner = spacy.load(pipeline_path)
    with_runner.add_pipe("ptuning_mixed_tasks", first=True)
    _check(annotate_frame(with_runner, pandas.DataFrame(GOOD)).to_pylist(), GOOD, _expected(pipeline_path, GOOD))


def test_ray_dataset_equals_nlp_pipe(pipeline_path, local_ray):
    rows = []
    for i in range(3):  # 24 rows over several batches and two actors
        rows += [{**row, "id": f"{row['id']}{i}"} for row in GOOD]
        rows += [{**row, "id": f"{row['id']}{i}"} for row, _ in BAD]
    dataset = ray.data.from_items(rows)
    results = annotate(dataset, str(pipeline_path), batch_size=5, concurrency=2).take_all()
    assert [r["id"] for r in results] == [r["id"] for r in rows]
    good = [(r, row) for r, row in zip(results, rows) if row["id"][0] in "abcd"]
    _check([r for r, _ in good], [row for _, row in good], _expected(pipeline_path, [row for _, row in good]))
    errors = {row["id"][0]: r["error"] for r, row in zip(results, rows) if row["id"][0] not in "abcd"}
    assert errors == {row["id"]: error for row, error in BAD}


def test_cli_writes_one_line_per_input_line(pipeline_path, local_ray, tmp_path):
    lines = [json.dumps(row) for row in GOOD]
    lines.insert(1, "{not json")
    lines.insert(3, json.dumps(["a", "list"]))
    lines.append(json.dumps({"id": "n", "text": 42}))
    lines.append(json.dumps({"id": "m", "question": "who"}))
    lines.append("")  # an empty line is a line
    lines.append(json.dumps({"id": "u", "text": "mary\u2028works in paris"}, ensure_ascii=False))  # no splitlines
    source = tmp_path / "in.jsonl"
    raw = "\r\n".join(lines).encode("utf8") + b"\n\xff\xfenot utf-8\n"
    source.write_bytes(raw)
    lines.append("not utf-8")
    target = tmp_path / "out" / "results.jsonl"
    result = CliRunner().invoke(app, ["ray-annotate", str(pipeline_path), str(source), str(target), "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in target.open(encoding="utf8")]  # lines as files split them
    assert len(out) == len(lines)
    assert out[1]["line"] == "{not json" and out[1]["error"].startswith("not JSON")
    assert out[3]["error"].startswith("not a JSON object")
    assert out[-5]["id"] == "n" and out[-5]["error"] == "field 'text' must be a string, got int"
    assert out[-4]["id"] == "m" and out[-4]["error"] == "missing field 'text'"
    assert out[-3]["line"] == "" and out[-3]["error"].startswith("not JSON")
    assert out[-2]["id"] == "u" and out[-2]["error"] is None and out[-2]["text"] == "mary\u2028works in paris"
    assert out[-1]["error"] == "not UTF-8: byte 0xff at column 1"
    good = [o for o in out if o.get("id") in {"a", "b", "c", "d"}]
    assert [o["id"] for o in good] == ["a", "b", "c", "d"]
    assert all(o["text"] == row["text"] for o, row in zip(good, GOOD))  # the input object is kept
    _check(good, GOOD, _expected(pipeline_path, GOOD))


@pytest.mark.parametrize("resources,concurrency,cpus,gpus,expected", [
    ({"CPU": 1.0}, 1, 1.0, 0, "leaving none for Ray Data's reading"),
    ({"CPU": 4.0}, 4, 1.0, 0, "lower --num-cpus"),
    ({"CPU": 8.0}, 2, 1.0, 1, "need 2 GPUs; the Ray cluster has 0"),
    ({"CPU": 2.0}, 1, 1.0, 0, None),
    ({"CPU": 1.0}, 1, 0.5, 0, None),
])
def test_actors_that_cannot_fit_are_refused_before_the_job_waits(resources, concurrency, cpus, gpus, expected):
    from spacy_ptuning.ray_data import actors_do_not_fit

    problem = actors_do_not_fit(resources, concurrency, cpus, gpus)
    assert (problem is None) if expected is None else (expected in problem)


def test_cli_fails_fast_when_the_actors_take_every_cpu(pipeline_path, local_ray, tmp_path):
    """On the 2-CPU local instance, 2 actors of 1 CPU would leave Ray Data none: one line, exit 1."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(GOOD[1]) + "\n", encoding="utf8")
    result = CliRunner().invoke(app, ["ray-annotate", str(pipeline_path), str(source), str(tmp_path / "out.jsonl"),
                                      "--concurrency", "2", "--num-cpus", "1"])
    assert result.exit_code == 1 and "would wait for ever" in " ".join(result.output.split())
    assert not (tmp_path / "out.jsonl").exists()
