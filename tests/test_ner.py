"""ptuning_ner: overfitting and round trips, long docs, score agreement, errors, spaCy's ner."""
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example

from spacy_ptuning.ner.scoring import doc_bio
from spacy_ptuning.ner.tags import is_valid

from util import encoder_cfg, train

# (words, IOB2 tags)
SENTENCES = [
    ("john visited london".split(), ["B-PER", "O", "B-LOC"]),
    ("mary works at acme corp".split(), ["B-PER", "O", "O", "B-ORG", "I-ORG"]),
    ("the city of new york is good".split(), ["O", "O", "O", "B-LOC", "I-LOC", "O", "O"]),
    ("acme corp said who visited paris".split(), ["B-ORG", "I-ORG", "O", "O", "O", "B-LOC"]),
]


def ner_examples(nlp, sentences=SENTENCES):
    out = []
    for words, tags in sentences:
        reference = Doc(nlp.vocab, words=words, ents=tags)
        out.append(Example(Doc(nlp.vocab, words=words), reference))
    return out


def ner_nlp(backbone, lang="en", hidden_width=0, **enc):
    nlp = spacy.blank(lang)
    model = {"encoder": encoder_cfg(backbone, **enc), "hidden_width": hidden_width}
    nlp.add_pipe("ptuning_ner", config={"model": model})
    return nlp


def _ents(doc):
    return [(e.start, e.end, e.label_) for e in doc.ents]


def test_overfitting_IO(backbone_dir, tmp_path):
    nlp = ner_nlp(backbone_dir)
    examples = ner_examples(nlp)
    loss = train(nlp, examples, n_iter=80, learn_rate=0.02)
    assert loss < 0.05
    ner = nlp.get_pipe("ptuning_ner")
    assert ner.labels == ("LOC", "ORG", "PER")
    texts = [" ".join(words) for words, _ in SENTENCES]
    predicted = [doc_bio(nlp(t)) for t in texts]
    assert predicted == [tags for _, tags in SENTENCES]
    nlp.to_disk(tmp_path / "pipe")
    assert sorted(p.name for p in (tmp_path / "pipe" / "ptuning_ner").iterdir()) == ["adapter.safetensors", "cfg"]
    loaded = spacy.load(tmp_path / "pipe")
    assert [_ents(loaded(t)) for t in texts] == [_ents(nlp(t)) for t in texts]
    fresh = ner_nlp(backbone_dir)
    fresh.from_bytes(nlp.to_bytes())
    assert [_ents(fresh(t)) for t in texts] == [_ents(nlp(t)) for t in texts]
    scores = loaded.evaluate(ner_examples(loaded))
    assert scores["seqeval_f"] == 1.0 and scores["ents_f"] == 1.0


def test_hidden_layer_head_overfits_and_round_trips(bert_dir, tmp_path):
    """TokenTagger with hidden_width: a GELU layer before the softmax, in the saved adapter."""
    nlp = ner_nlp(bert_dir, hidden_width=12)
    train(nlp, ner_examples(nlp), n_iter=80, learn_rate=0.02)
    texts = [" ".join(words) for words, _ in SENTENCES]
    assert [doc_bio(nlp(t)) for t in texts] == [tags for _, tags in SENTENCES]
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe")
    assert loaded.config["components"]["ptuning_ner"]["model"]["hidden_width"] == 12
    assert [_ents(loaded(t)) for t in texts] == [_ents(nlp(t)) for t in texts]
    with pytest.raises(ValueError, match=r"hidden_width\tat root: -3 is not a whole number >= 0"):
        ner_nlp(bert_dir, hidden_width=-3)


def test_long_doc_gets_a_tag_on_every_token(bert_dir):
    """A doc many windows long trains and predicts through the windows: every token tagged."""
    nlp = ner_nlp(bert_dir)  # window 24 wordpieces, stride 16
    words, tags = [], []
    for _ in range(6):
        for w, t in SENTENCES:
            words += w
            tags += t
    long_examples = ner_examples(nlp, [(words, tags)])
    train(nlp, long_examples, n_iter=80, learn_rate=0.02)
    ner = nlp.get_pipe("ptuning_ner")
    doc = Doc(nlp.vocab, words=words)
    (path,) = ner.predict([doc])
    assert len(path) == len(doc) > 100
    ner.set_annotations([doc], [path])
    assert doc_bio(doc) == tags


def test_seqeval_and_spacy_scores_agree(bert_dir):
    """On the same (imperfect) predictions, seqeval's strict IOB2 F1 equals spaCy's ents_f."""
    nlp = ner_nlp(bert_dir)
    examples = ner_examples(nlp)
    train(nlp, examples, n_iter=6, learn_rate=0.02)  # partly trained: some errors
    scores = nlp.evaluate(ner_examples(nlp))
    assert 0.0 <= scores["ents_f"] <= 1.0
    assert scores["seqeval_f"] == pytest.approx(scores["ents_f"])
    assert scores["seqeval_p"] == pytest.approx(scores["ents_p"])
    assert scores["seqeval_r"] == pytest.approx(scores["ents_r"])
    assert set(scores["seqeval_per_type"]) <= {"PER", "LOC", "ORG"}


def test_unknown_label_in_data_is_an_error(bert_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("ptuning_ner", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    examples = ner_examples(nlp)
    nlp.get_pipe("ptuning_ner").initialize(lambda: examples, nlp=nlp, labels=["PER", "LOC"])
    with pytest.raises(ValueError, match="entity labelled 'ORG'.*initialize.components.ptuning_ner.labels"):
        nlp.update(examples)
    with pytest.raises(ValueError, match="cannot add 'MISC'"):
        nlp.get_pipe("ptuning_ner").add_label("MISC")


def test_no_labels_is_an_error(bert_dir):
    nlp = ner_nlp(bert_dir)
    examples = [Example(Doc(nlp.vocab, words=["the", "movie"]), Doc(nlp.vocab, words=["the", "movie"]))]
    with pytest.raises(ValueError, match="found no entity labels"):
        nlp.initialize(lambda: examples)


def test_empty_and_whitespace_docs(bert_dir):
    nlp = ner_nlp(bert_dir)
    train(nlp, ner_examples(nlp), n_iter=2)
    docs = list(nlp.pipe(["", "   ", "john", "x " * 40]))
    assert [len(d) for d in docs][:3] == [0, 1, 1]
    assert all(is_valid(doc_bio(d)) for d in docs)


def test_spacy_ner_with_prompt_tok2vec(bert_dir):
    """spaCy's transition-based ner takes the prompt encoder as its tok2vec."""
    nlp = spacy.blank("en")
    tok2vec = {
        "@architectures": "spacy_ptuning.PromptTok2Vec.v1",
        "encoder": {"@architectures": "spacy_ptuning.PromptEncoder.v1", **encoder_cfg(bert_dir)},
    }
    model = {
        "@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner", "extra_state_tokens": False,
        "hidden_width": 32, "maxout_pieces": 2, "use_upper": True, "nO": None, "tok2vec": tok2vec,
    }
    nlp.add_pipe("ner", config={"model": model})
    train(nlp, ner_examples(nlp), n_iter=60, learn_rate=0.01)
    assert nlp.evaluate(ner_examples(nlp))["ents_f"] > 0.9
