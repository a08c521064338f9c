"""Windows over long docs: every token gets vectors, nothing is truncated."""
import pytest
import spacy

from spacy_ptuning.backbone import get_backbone
from spacy_ptuning.layers.wordpieces import (
    align_pieces,
    check_window,
    docs_to_wordpieces,
    tokenize_docs,
    window_starts,
)


@pytest.mark.parametrize("n,content,stride", [(0, 10, 5), (10, 10, 5), (11, 10, 5), (95, 14, 14), (100, 30, 7)])
def test_window_starts_cover_everything(n, content, stride):
    starts = window_starts(n, content, stride)
    covered = set()
    for s in starts:
        covered.update(range(s, min(s + content, n)))
    assert covered == set(range(n))
    assert starts[-1] + content >= n and all(b - a == stride for a, b in zip(starts, starts[1:]))


def test_long_doc_every_token_is_pooled(backbone_dir):
    backbone = get_backbone(backbone_dir)
    nlp = spacy.blank("en")
    long_doc = nlp(("the good movie visited london and paris . " * 40).strip())
    docs = [nlp(""), long_doc, nlp("north")]
    batch = docs_to_wordpieces(backbone, docs, window=16, stride=10)
    assert batch.input_ids.shape[1] <= 16
    assert batch.doc_lengths == [0, len(long_doc), 1]
    assert (batch.token_lengths > 0).all() and len(batch.token_lengths) == len(long_doc) + 1
    assert list(batch.cls_lengths) == [1, len([w for w in batch.windows if w[0] == 1]), 1]
    # each flat position points at a real, unmasked wordpiece
    assert batch.attention_mask.reshape(-1)[batch.token_index].all()
    # mean pooling covers every piece of the long doc that holds characters other than
    # spaces (a BPE or SentencePiece piece of a bare space belongs to no token); overlap
    # means some appear twice
    offsets = backbone.tokenizer(long_doc.text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    n_pieces = sum(bool(long_doc.text[s:e].strip()) for d, start, end in batch.windows if d == 1
                   for s, e in offsets[start:end])
    assert batch.token_lengths[: len(long_doc)].sum() == n_pieces


def test_first_piece_pooling(bert_dir):
    backbone = get_backbone(bert_dir)
    doc = spacy.blank("en")("goodness xyz the")
    batch = docs_to_wordpieces(backbone, [doc], window=32, stride=16, pooling="first")
    assert list(batch.token_lengths) == [1, 1, 1]
    mean = docs_to_wordpieces(backbone, [doc], window=32, stride=16, pooling="mean")
    assert mean.token_lengths[0] > 1


def test_odd_inputs_do_not_crash(backbone_dir):
    backbone = get_backbone(backbone_dir)
    nlp = spacy.blank("en")
    docs = [nlp(t) for t in ["", "   ", "\n\n\t", "a", "💥🙂 ∑ ́ ﷽ \u200b", "北京 上海"]]
    batch = docs_to_wordpieces(backbone, docs, window=16, stride=8)
    assert len(batch.token_lengths) == sum(len(d) for d in docs)
    assert len(batch.cls_lengths) == len(docs) and (batch.cls_lengths >= 1).all()


def test_bad_windows_are_explained(bert_dir):
    backbone = get_backbone(bert_dir)
    with pytest.raises(ValueError, match="window must be an integer, got '24'"):
        check_window(backbone, "24", 16)
    with pytest.raises(ValueError, match="stride must be an integer, got 8.5"):
        check_window(backbone, 24, 8.5)
    with pytest.raises(ValueError, match="window=1000 is longer than the backbone allows"):
        check_window(backbone, 1000, 100)
    with pytest.raises(ValueError, match="stride=40"):
        check_window(backbone, 32, 40)


FIDELITY_TEXTS = [
    "Hello, world. It's John's movie, isn't it?",
    "north  and   south\tmet\n\nin paris",  # multiple spaces, tab, blank line: whitespace tokens
    "Café déjà vu in Zürich, naïve résumé — 北京 and 上海!",
    "(red) [blue] \"green\"; one-two/three... ten%",
]


@pytest.mark.parametrize("text", FIDELITY_TEXTS)
def test_wordpieces_are_the_tokenizers_own(backbone_dir, text):
    """The window holds exactly tokenizer(doc.text)'s ids (raw text, no word
    splitting, so RoBERTa's first word has no space marker and punctuation none
    either), and every spaCy token, whitespace tokens included, gets a vector."""
    backbone = get_backbone(backbone_dir)
    doc = spacy.blank("en")(text)
    assert any(token.is_space for token in doc) or "  " not in text
    batch = docs_to_wordpieces(backbone, [doc], window=64, stride=32)
    assert len(batch.windows) == 1
    ids = batch.input_ids[0][batch.attention_mask[0] == 1].tolist()
    assert ids == backbone.tokenizer(text)["input_ids"]
    assert len(batch.token_lengths) == len(doc) and (batch.token_lengths > 0).all()


@pytest.mark.parametrize("text", FIDELITY_TEXTS[:2])
def test_pair_windows_are_the_tokenizers_own(backbone_dir, text):
    """A QA window (question, context) holds tokenizer(question, context)'s ids and token types."""
    backbone = get_backbone(backbone_dir)
    doc = spacy.blank("en")(text)
    question = "Who met in paris?"
    first = backbone.tokenizer(question, add_special_tokens=False)["input_ids"]
    batch = docs_to_wordpieces(backbone, [doc], window=64, stride=32, firsts=[first])
    real = batch.attention_mask[0] == 1
    expected = backbone.tokenizer(question, text)
    assert batch.input_ids[0][real].tolist() == expected["input_ids"]
    if "token_type_ids" in expected and backbone.type_vocab_size > 1:
        assert batch.token_type_ids[0][real].tolist() == expected["token_type_ids"]


def test_pieces_align_to_tokens_by_characters(bert_dir):
    """A piece spanning two spaCy tokens serves both; a token without pieces takes the one before it."""
    backbone = get_backbone(bert_dir)
    doc = spacy.blank("en")("john  visited")  # tokens: john, " ", visited
    pieces = tokenize_docs(backbone, [doc])[0]
    pairs = sorted(zip(pieces.token.tolist(), pieces.piece.tolist()))
    assert pairs == [(0, 0), (1, 0), (2, 1)]
    # a made-up piece covering "jo" .. "vi" (characters 0-8) overlaps all three tokens
    merged = align_pieces(doc, [7], [(0, 8)])
    assert sorted(merged.token.tolist()) == [0, 1, 2] and merged.piece.tolist() == [0, 0, 0]
    # no pieces at all: every token falls back to the window's first special token
    blank = align_pieces(doc, [], [])
    assert blank.piece.tolist() == [-1, -1, -1]
