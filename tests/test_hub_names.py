"""Hugging Face model names as backbones: resolved from the local cache (a folder this test
builds in Hugging Face's layout), never downloaded unless HF_HUB_OFFLINE=0."""
import shutil

import pytest
import spacy

from spacy_ptuning.backbone import BackboneError, clear_cache, get_backbone, resolve_backbone_path

from util import blank, encoder_cfg, sentiment_texts, textcat_examples, train

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(bert_dir, tmp_path, monkeypatch):
    """A cache holding "tiny-org/tiny-bert" at one commit, as huggingface_hub lays it out."""
    cache = tmp_path / "hub"
    repo = cache / "models--tiny-org--tiny-bert"
    snapshot = repo / "snapshots" / COMMIT
    shutil.copytree(bert_dir, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT, encoding="utf8")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    clear_cache()
    yield snapshot
    clear_cache()


def test_a_model_name_resolves_to_its_cached_snapshot(hub_cache, tmp_path):
    assert resolve_backbone_path("tiny-org/tiny-bert") == hub_cache.resolve()
    backbone = get_backbone("tiny-org/tiny-bert")
    assert backbone.path == hub_cache.resolve() and backbone.fingerprint
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg("tiny-org/tiny-bert")}})
    train(nlp, textcat_examples(nlp, sentiment_texts(4)), n_iter=2)
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    assert loaded("good movie").cats == nlp("good movie").cats


def test_a_missing_model_name_says_how_to_fetch_it(hub_cache, monkeypatch):
    with pytest.raises(BackboneError) as info:
        resolve_backbone_path("tiny-org/not-there")
    text = str(info.value)
    assert "not in the local Hugging Face cache" in text and "huggingface-cli download tiny-org/not-there" in text
    assert "HF_HUB_OFFLINE=0" in text


def test_downloads_need_the_users_word(monkeypatch):
    from spacy_ptuning.backbone import downloads_allowed

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not downloads_allowed()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not downloads_allowed()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert downloads_allowed()
