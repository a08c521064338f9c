"""Windows over long docs: every token gets vectors, nothing is truncated."""
import pytest
import spacy

from spacy_ptuning.backbone import get_backbone
from spacy_ptuning.layers.wordpieces import check_window, docs_to_wordpieces, window_starts


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
    long_doc = nlp("the good movie visited london and paris . " * 40)
    docs = [nlp(""), long_doc, nlp("north")]
    batch = docs_to_wordpieces(backbone, docs, window=16, stride=10)
    assert batch.input_ids.shape[1] <= 16
    assert batch.doc_lengths == [0, len(long_doc), 1]
    assert (batch.token_lengths > 0).all() and len(batch.token_lengths) == len(long_doc) + 1
    assert list(batch.cls_lengths) == [1, len([w for w in batch.windows if w[0] == 1]), 1]
    # each flat position points at a real, unmasked wordpiece
    assert batch.attention_mask.reshape(-1)[batch.token_index].all()
    # mean pooling covers every piece of the long doc; overlap means some appear twice
    n_pieces = sum(e - s for d, s, e in batch.windows if d == 1)
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
    with pytest.raises(ValueError, match="window=1000 is longer than the backbone allows"):
        check_window(backbone, 1000, 100)
    with pytest.raises(ValueError, match="stride=40"):
        check_window(backbone, 32, 40)
