"""The benchmark's full fine-tuning baselines (spacy-transformers) train and load with a tiny backbone."""
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train

from test_ner_data import CONLL
from util import blank, sentiment_texts, write_docbin

# the baselines need the `finetune` extra (spacy-transformers, which caps transformers < 4.53.3)
pytest.importorskip("spacy_transformers")

CONFIGS = Path(__file__).parent.parent / "spacy_ptuning" / "configs" / "finetune"
COMMON = {
    "training.max_epochs": 0, "training.max_steps": 6, "training.eval_frequency": 3,
    "training.batcher.size": 4,
}


@pytest.mark.parametrize("task", ["textcat", "ner"])
def test_finetune_config_trains_and_loads(task, bert_dir, tmp_path):
    if task == "textcat":
        train_path = write_docbin(blank(), sentiment_texts(16), tmp_path / "train.spacy")
        dev_path = train_path
    else:
        train_path = dev_path = tmp_path / "train.txt"
        train_path.write_text(CONLL, encoding="utf8")
    overrides = {"paths.train": str(train_path), "paths.dev": str(dev_path), "paths.backbone": str(bert_dir), **COMMON}
    train(CONFIGS / f"{task}.cfg", tmp_path / "out", overrides=overrides)
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert nlp.pipe_names[0] == "transformer"
    doc = nlp("Peter Blackburn visited good films")
    if task == "textcat":
        assert sum(doc.cats.values()) == pytest.approx(1.0)
    else:
        assert all(e.label_ in {"ORG", "MISC", "PER"} for e in doc.ents)
    again = spacy.load(tmp_path / "out" / "model-last")(doc.text)  # a disk round trip predicts the same
    assert again.cats == doc.cats
    assert [(e.start, e.end, e.label_) for e in again.ents] == [(e.start, e.end, e.label_) for e in doc.ents]
