"""configs/multitask.cfg: three prompt-tuned components assembled over one shared backbone."""
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from spacy_ptuning import answer_question
from spacy_ptuning.layers.encoder import get_torch_module

import srsly

from spacy_ptuning.evaluation import evaluate_task, task_reader

from test_ner import SENTENCES, ner_examples, ner_nlp
from test_qa import DATA, qa_examples, qa_nlp
from util import blank, encoder_cfg, textcat_examples, train, write_docbin

ROOT = Path(__file__).parent.parent
CONFIG = ROOT / "spacy_ptuning" / "configs" / "multitask.cfg"
EVALUATE_MULTITASK = ROOT / "project" / "scripts" / "evaluate_multitask.py"


def test_assembled_pipeline_matches_single_task_pipelines(bert_dir, tmp_path):
    textcat = blank()
    textcat.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    train(textcat, textcat_examples(textcat, [("good fun", "POS"), ("bad film", "NEG")]), n_iter=5)
    ner = ner_nlp(bert_dir)
    train(ner, ner_examples(ner), n_iter=5)
    qa = qa_nlp(bert_dir)
    train(qa, qa_examples(qa), n_iter=5)
    for name, nlp in (("textcat", textcat), ("ner", ner), ("qa", qa)):
        nlp.to_disk(tmp_path / name)
    cmd = [sys.executable, "-m", "spacy", "assemble", str(CONFIG), str(tmp_path / "multi")]
    cmd += [f"--paths.{name}={tmp_path / name}" for name in ("textcat", "ner", "qa")]
    subprocess.run(cmd, check=True, capture_output=True)
    # spaCy's debug config takes the shipped assemble config, with the sources given (fill-config
    # takes no overrides: the same fill in Python)
    sources = [f"--paths.{name}={tmp_path / name}" for name in ("textcat", "ner", "qa")]
    corpus = write_docbin(blank(), [("good fun", "POS"), ("bad film", "NEG")], tmp_path / "corpus.spacy")
    sources += [f"--paths.train={corpus}", f"--paths.dev={corpus}"]
    run = subprocess.run([sys.executable, "-m", "spacy", "debug", "config", str(CONFIG), *sources],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    overrides = {f"paths.{name}": str(tmp_path / name) for name in ("textcat", "ner", "qa")}
    filled = spacy.util.load_model_from_config(spacy.util.load_config(CONFIG, overrides=overrides), auto_fill=True)
    assert filled.config["nlp"]["pipeline"] == ["ptuning_textcat", "ptuning_ner", "ptuning_qa"]
    multi = spacy.load(tmp_path / "multi")
    assert multi.pipe_names == ["ptuning_textcat", "ptuning_ner", "ptuning_qa"]
    backbones = {id(get_torch_module(pipe.model).backbone) for _, pipe in multi.pipeline}
    assert len(backbones) == 1
    text = "john visited london and mary works in paris"
    doc = multi(text)
    assert doc.cats == textcat(text).cats
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in ner(text).ents]
    assert doc._.answers is None  # no question asked
    assert answer_question(multi, "who visited london", text) == answer_question(qa, "who visited london", text)
    _evaluate_each_task(multi, tmp_path)
    _evaluate_with_the_project_script(tmp_path)


def _evaluate_each_task(multi, tmp_path):
    """The multitask pipeline scored on each task's dev data: that task's scores, no crash."""
    textcat_dev = write_docbin(multi, [("good fun", "POS"), ("bad film", "NEG")], tmp_path / "textcat.spacy")
    ner_dev = tmp_path / "ner.txt"
    ner_dev.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in zip(words, tags))
                                     for words, tags in SENTENCES) + "\n", encoding="utf8")
    qa_dev = tmp_path / "qa.json"
    qas = [{"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": c.index(a)}] if a else [],
            "is_impossible": a is None} for i, (q, c, a) in enumerate(DATA) if c == DATA[0][1]]
    srsly.write_json(qa_dev, {"data": [{"title": "t", "paragraphs": [{"context": DATA[0][1], "qas": qas}]}]})
    textcat = evaluate_task(multi, textcat_dev, "textcat")
    assert textcat["cats_score"] is not None and textcat["accuracy"] is not None
    ner = evaluate_task(multi, ner_dev, "ner")
    assert ner["seqeval_f"] is not None and ner["ents_f"] is not None
    qa = evaluate_task(multi, qa_dev, "qa")
    assert qa["qa_total"] == len(qas) and qa["baseline_no_answer"]["qa_f1"] == 0.0  # every question answerable
    # each task's file holds no other task's examples: their scorers report None, never 0 or a crash
    scores = multi.evaluate(list(task_reader(ner_dev, "ner")(multi)))
    assert scores["cats_score"] is None and scores["qa_f1"] is None and scores["seqeval_f"] is not None


def _evaluate_with_the_project_script(tmp_path):
    """project/scripts/evaluate_multitask.py loads the pipeline once and writes, per task, the
    scores evaluate_task gives (words/second aside); a missing data file stops it by name."""
    dev = [tmp_path / "textcat.spacy", tmp_path / "ner.txt", tmp_path / "qa.json"]  # from _evaluate_each_task
    prefix = tmp_path / "metrics" / "multitask-"
    cmd = [sys.executable, str(EVALUATE_MULTITASK), str(tmp_path / "multi"), *map(str, dev), "--output-prefix", str(prefix)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    multi = spacy.load(tmp_path / "multi")
    for task, path in zip(("textcat", "ner", "qa"), dev):
        written = srsly.read_json(f"{prefix}{task}.json")
        expected = evaluate_task(multi, path, task)
        assert written.pop("words_per_second") > 0 and expected.pop("words_per_second") > 0
        _assert_same_scores(written, expected)
    cmd[4] = str(tmp_path / "missing.txt")  # the NER dev file
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode != 0 and "missing.txt: no such file or folder (ner dev data)" in run.stderr


def _assert_same_scores(written, expected):
    """Equal, floats to rounding (another process may sum in another order), nested dicts too."""
    if isinstance(expected, dict):
        assert written.keys() == expected.keys()
        for key in expected:
            _assert_same_scores(written[key], expected[key])
    elif isinstance(expected, float):
        assert written == pytest.approx(expected, rel=1e-6)
    else:
        assert written == expected
