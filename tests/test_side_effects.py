"""Importing the package and resolving configs touch nothing global and read no weights."""
import subprocess
import sys
from pathlib import Path

import spacy

from spacy_ptuning.backbone import clear_cache, get_backbone

from util import blank, encoder_cfg, textcat_examples, write_docbin

CONFIGS = Path(__file__).parent.parent / "spacy_ptuning" / "configs"


def test_import_changes_nothing_global():
    code = (
        "import os, sys, torch; env = dict(os.environ); threads = torch.get_num_threads(); "
        "import spacy_ptuning, spacy_ptuning.pipeline.ner; "
        "assert dict(os.environ) == env, set(os.environ.items()) ^ set(env.items()); "
        "assert torch.get_num_threads() == threads; "
        "heavy = [m for m in ('sklearn', 'seqeval', 'scipy') if m in sys.modules]; "
        "assert not heavy, heavy; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_config_resolution_reads_no_weights(bert_dir):
    """Building a pipeline from its config (spacy debug config, init fill-config) leaves the
    weights unread; the component's initialize reads them."""
    clear_cache()
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    config = nlp.config
    rebuilt = spacy.util.load_model_from_config(config, auto_fill=True)
    assert not get_backbone(bert_dir).is_loaded
    rebuilt.initialize(lambda: textcat_examples(rebuilt, [("good fun", "POS"), ("bad film", "NEG")]))
    assert get_backbone(bert_dir).is_loaded


def test_fill_and_debug_config_run_without_weights(bert_dir, tmp_path):
    """`spacy init fill-config` then `spacy debug config` on a shipped config, pointed at a
    backbone folder whose weight file is not weights at all (any read would fail)."""
    hollow = tmp_path / "hollow"
    hollow.mkdir()
    for f in bert_dir.iterdir():
        if not f.name.endswith(".safetensors"):
            (hollow / f.name).write_bytes(f.read_bytes())
    (hollow / "model.safetensors").write_bytes(b"not weights")
    data = write_docbin(spacy.blank("en"), [("good fun", "POS"), ("bad film", "NEG")], tmp_path / "d.spacy")
    filled = tmp_path / "filled.cfg"
    fill = [sys.executable, "-m", "spacy", "init", "fill-config", str(CONFIGS / "textcat.cfg"), str(filled)]
    out = subprocess.run(fill, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-1500:] + out.stderr[-1500:]
    debug = [sys.executable, "-m", "spacy", "debug", "config", str(filled),
             "--paths.backbone", str(hollow), "--paths.train", str(data), "--paths.dev", str(data),
             "--components.ptuning_textcat.model.encoder.window", "48",
             "--components.ptuning_textcat.model.encoder.stride", "32"]
    out = subprocess.run(debug, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-1500:] + out.stderr[-1500:]
    assert "Config is valid" in out.stdout
