"""ptuning_textcat / ptuning_textcat_multilabel: overfitting, round trips, sharing, errors."""
import os

import pytest
import spacy
import torch
from spacy.training import Example

from spacy_ptuning.backbone import BackboneError, get_backbone
from spacy_ptuning.layers.encoder import get_torch_module
from spacy_ptuning.report import parameter_report
from spacy_ptuning.serialize import ArtifactMismatchError

from util import blank, cats, encoder_cfg, textcat_examples, train

TRAIN = [
    ("good movie great fun", "POS"),
    ("bad film awful boring", "NEG"),
    ("i love the plot", "POS"),
    ("hate this story", "NEG"),
]


def _nlp(backbone, factory="ptuning_textcat", name=None, **enc):
    nlp = blank()
    nlp.add_pipe(factory, name=name, config={"model": {"encoder": encoder_cfg(backbone, **enc)}})
    return nlp


def test_overfitting_IO(backbone_dir, tmp_path):
    nlp = _nlp(backbone_dir)
    loss = train(nlp, textcat_examples(nlp, TRAIN), n_iter=80)
    assert loss < 0.01
    for text, label in TRAIN:
        doc_cats = nlp(text).cats
        assert max(doc_cats, key=doc_cats.get) == label
    before = [nlp(t).cats for t, _ in TRAIN]
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe")
    assert [loaded(t).cats for t, _ in TRAIN] == before
    fresh = _nlp(backbone_dir)
    fresh.from_bytes(nlp.to_bytes())
    assert [fresh(t).cats for t, _ in TRAIN] == before
    # the component's artifact holds prompts + head only, in safetensors
    files = sorted(p.name for p in (tmp_path / "pipe" / "ptuning_textcat").iterdir())
    assert files == ["adapter.safetensors", "cfg"]


def test_overfitting_IO_multilabel(bert_dir, tmp_path):
    nlp = _nlp(bert_dir, "ptuning_textcat_multilabel")
    data = [
        ("good fun movie", {"POS": 1.0, "FILM": 1.0}),
        ("bad boring story", {"POS": 0.0, "FILM": 0.0}),
        ("great plot", {"POS": 1.0, "FILM": 0.0}),
        ("awful film", {"POS": 0.0, "FILM": 1.0}),
    ]
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in data]
    assert train(nlp, examples, n_iter=100, learn_rate=0.03) < 0.01
    for text, gold in data:
        assert {k: v > 0.5 for k, v in nlp(text).cats.items()} == {k: v > 0.5 for k, v in gold.items()}
    nlp.to_disk(tmp_path / "ml")
    loaded = spacy.load(tmp_path / "ml")
    assert [loaded(t).cats for t, _ in data] == [nlp(t).cats for t, _ in data]
    scores = nlp.evaluate(examples)
    assert scores["cats_macro_f"] == 1.0


def test_spacy_textcat_with_registered_architecture(bert_dir, tmp_path):
    """spaCy's own textcat component accepts the architecture (thinc serialisation)."""
    nlp = blank()
    model = {"@architectures": "spacy_ptuning.TextCat.v1", "encoder": {"@architectures": "spacy_ptuning.PromptEncoder.v1", **encoder_cfg(bert_dir)}}
    nlp.add_pipe("textcat", config={"model": model})
    assert train(nlp, textcat_examples(nlp, TRAIN), n_iter=80) < 0.02
    nlp.to_disk(tmp_path / "plain")
    loaded = spacy.load(tmp_path / "plain")
    assert [loaded(t).cats for t, _ in TRAIN] == [nlp(t).cats for t, _ in TRAIN]


def test_components_share_one_backbone(bert_dir, tmp_path):
    nlp = _nlp(bert_dir, name="sentiment")
    nlp.add_pipe("ptuning_textcat", name="topic", config={"model": {"encoder": encoder_cfg(bert_dir, prefix_length=2)}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": cats(lab)}) for t, lab in TRAIN]
    train(nlp, examples, n_iter=3)
    modules = [get_torch_module(nlp.get_pipe(n).model) for n in ("sentiment", "topic")]
    assert modules[0].backbone is modules[1].backbone
    assert modules[0].prefix.table.data_ptr() != modules[1].prefix.table.data_ptr()
    nlp.to_disk(tmp_path / "two")
    other = spacy.load(tmp_path / "two")
    other_module = get_torch_module(other.get_pipe("topic").model)
    weights = modules[0].backbone.model.embeddings.word_embeddings.weight
    assert other_module.backbone.model.embeddings.word_embeddings.weight.data_ptr() == weights.data_ptr()
    # nothing of the backbone is on disk: each component holds far fewer bytes than its weights
    saved = sum(f.stat().st_size for n in ("sentiment", "topic") for f in (tmp_path / "two" / n).iterdir())
    backbone_bytes = sum(p.numel() * 4 for p in modules[0].backbone.model.parameters())
    assert saved < backbone_bytes / 4
    from safetensors.numpy import load_file

    keys = set(load_file(tmp_path / "two" / "topic" / "adapter.safetensors"))
    assert sorted(k.split(".", 1)[1] for k in keys) == ["softmax.W", "softmax.b", "torch.prefix.table"]
    assert not list((tmp_path / "two").rglob("model.safetensors"))


@pytest.mark.skipif(bool(os.environ.get("SPACY_PTUNING_TEST_GPU")), reason="CUDA does not survive fork")
def test_pipe_with_two_processes_matches_one(bert_dir):
    nlp = _nlp(bert_dir)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=10)
    texts = [t for t, _ in TRAIN] * 3
    one = [d.cats for d in nlp.pipe(texts, batch_size=2)]
    two = [d.cats for d in nlp.pipe(texts, batch_size=2, n_process=2)]
    assert len(two) == len(one)
    for a, b in zip(one, two):
        assert a == pytest.approx(b, abs=1e-6)


def test_odd_docs_are_processed(backbone_dir):
    nlp = _nlp(backbone_dir)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=2)
    texts = ["", "   ", "\n", "a", "💥🙂 ∑ ́ ﷽ \u200b", "北京 上海", "good " * 400]
    docs = list(nlp.pipe(texts))
    assert [d.text for d in docs] == texts
    for doc in docs:
        assert set(doc.cats) == {"POS", "NEG"}
        assert all(0.0 <= v <= 1.0 for v in doc.cats.values())


def test_long_doc_uses_all_windows(bert_dir):
    nlp = _nlp(bert_dir)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=20)
    short = nlp("bad film awful boring").cats
    tail = nlp("the the the the " * 30 + "bad film awful boring").cats
    assert tail != nlp("the the the the " * 30).cats
    assert set(short) == set(tail)


def test_unknown_gold_label_is_named(bert_dir):
    nlp = _nlp(bert_dir)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=1)
    bad = [Example.from_dict(nlp.make_doc("good"), {"cats": {"POS": 1.0, "NEG": 0.0, "NEUTRAL": 0.0}})]
    with pytest.raises(ValueError, match=r"\['NEUTRAL'\]"):
        nlp.update(bad)


def test_label_set_mismatch_on_load(bert_dir, tmp_path):
    nlp = _nlp(bert_dir)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=1)
    nlp.to_disk(tmp_path / "p")
    cfg_path = tmp_path / "p" / "ptuning_textcat" / "cfg"
    cfg_path.write_text(cfg_path.read_text().replace('"NEG"', '"NEG","NEUTRAL"'))
    with pytest.raises(ValueError, match="label set does not match"):
        spacy.load(tmp_path / "p")


def test_layer_mix_round_trip(bert_dir, tmp_path):
    """A trained layer mix is saved with the prompts and head, and refused by a config without it."""
    nlp = _nlp(bert_dir, layer_mix=True)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=5)
    before = [nlp(t).cats for t, _ in TRAIN]
    nlp.to_disk(tmp_path / "p")
    assert [spacy.load(tmp_path / "p")(t).cats for t, _ in TRAIN] == before
    with pytest.raises(ArtifactMismatchError, match="layer_mix"):
        spacy.load(tmp_path / "p", config={"components": {"ptuning_textcat": {"model": {"encoder": {"layer_mix": False}}}}})


def test_prompt_config_mismatch_on_load(bert_dir, tmp_path):
    nlp = _nlp(bert_dir)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=1)
    nlp.to_disk(tmp_path / "p")
    with pytest.raises(ArtifactMismatchError, match="prefix_length"):
        spacy.load(tmp_path / "p", config={"components": {"ptuning_textcat": {"model": {"encoder": {"prefix_length": 9}}}}})


def test_other_backbone_weights_are_refused(bert_dir, tmp_path):
    from conftest import write_bert

    nlp = _nlp(bert_dir)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=1)
    nlp.to_disk(tmp_path / "p")
    other = write_bert(tmp_path / "other-bert")
    with torch.no_grad():
        get_backbone(other).model.embeddings.word_embeddings.weight.add_(1.0)
        get_backbone(other).model.save_pretrained(other)
    from spacy_ptuning.backbone import clear_cache

    clear_cache()
    with pytest.raises(ArtifactMismatchError, match="fingerprint"):
        spacy.load(tmp_path / "p", config={"components": {"ptuning_textcat": {"model": {"encoder": {"backbone": str(other)}}}}})


def test_config_errors(tmp_path, bert_dir):
    with pytest.raises(BackboneError, match="not found"):
        _nlp(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"prefix_length\tat root: 0 is not a whole number >= 1"):
        _nlp(bert_dir, prefix_length=0)


def test_parameter_report(bert_dir):
    nlp = _nlp(bert_dir)
    train(nlp, textcat_examples(nlp, TRAIN), n_iter=1)
    report = parameter_report(nlp.get_pipe("ptuning_textcat").model)
    backbone = get_backbone(bert_dir)
    prompts = 4 * 2 * backbone.n_layers * backbone.hidden_size
    head = backbone.hidden_size * 2 + 2
    assert report.trainable == prompts + head
    assert report.share == pytest.approx((prompts + head) / backbone.n_parameters)
