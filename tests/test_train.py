"""`spacy train` with the shipped textcat config on a generated corpus and a tiny backbone."""
import hashlib
import re
from pathlib import Path

import spacy
import torch
from safetensors.torch import load_file
from spacy.cli.train import train

from spacy_ptuning.backbone import get_backbone
from spacy_ptuning.layers.encoder import get_torch_module

from util import blank, sentiment_texts, write_docbin

CONFIG = Path(__file__).parent.parent / "spacy_ptuning" / "configs" / "textcat.cfg"


def _digest(state: dict) -> str:
    h = hashlib.sha256()
    # the prompt-injecting wrapper holds each self-attention module as .inner
    named = {key.replace(".inner.", "."): value for key, value in state.items()}
    for key in sorted(named):
        h.update(key.encode())
        h.update(named[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_spacy_train_freezes_backbone_and_learns(bert_dir, tmp_path, capsys):
    nlp = blank()
    train_path = write_docbin(nlp, sentiment_texts(64, seed=1), tmp_path / "train.spacy")
    dev_path = write_docbin(nlp, sentiment_texts(16, seed=2), tmp_path / "dev.spacy")
    overrides = {
        "paths.train": str(train_path),
        "paths.dev": str(dev_path),
        "paths.backbone": str(bert_dir),
        "components.ptuning_textcat.model.encoder.prefix_length": 4,
        "components.ptuning_textcat.model.encoder.window": 32,
        "components.ptuning_textcat.model.encoder.stride": 16,
        "training.max_epochs": 0,
        "training.max_steps": 60,
        "training.eval_frequency": 20,
        "training.batcher.size": 8,
    }
    train(CONFIG, tmp_path / "out", overrides=overrides)
    log = capsys.readouterr().out
    rows = [line.split() for line in log.splitlines() if re.match(r"^\s*\d+\s+\d+\s+[\d.]+", line)]
    assert len(rows) >= 3, log
    # the loss column sums the losses since the previous row: compare per-step means
    steps = [int(r[1]) for r in rows]
    per_step = [float(r[2]) / max(1, b - a) for r, a, b in zip(rows, [-1] + steps, steps)]
    assert per_step[-1] < 0.8 * per_step[0], log
    assert "cats_score" in log.lower() or "CATS_SCORE" in log
    assert "trainable parameters" in log

    # the in-memory backbone after training is bit-identical to the weights file
    backbone = get_backbone(bert_dir)
    assert _digest(backbone.model.state_dict()) == _digest(load_file(bert_dir / "model.safetensors"))

    # prompts moved away from their (seeded) initial values
    trained = spacy.load(tmp_path / "out" / "model-last")
    fresh = spacy.util.load_model_from_config(trained.config, auto_fill=True)
    trained_prompts = get_torch_module(trained.get_pipe("ptuning_textcat").model).prefix.table
    initial_prompts = get_torch_module(fresh.get_pipe("ptuning_textcat").model).prefix.table
    assert trained_prompts.shape == initial_prompts.shape
    assert not torch.equal(trained_prompts, initial_prompts)
    assert trained.evaluate([]) is not None
