"""Docs to padded wordpiece windows, with the maps back to spaCy tokens.

Long docs are split into overlapping windows of at most `window` wordpieces
(special tokens included) that start every `stride` wordpieces, so nothing is
truncated; a token's vector is the mean over all occurrences of its
wordpieces (or of its first wordpiece) in all windows.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

from ..backbone import Backbone

POOLINGS = ("mean", "first")


@dataclass
class WordpieceBatch:
    """Model inputs for a batch of docs and where each doc's pieces went.

    token_index/token_lengths gather, for every spaCy token of every doc in
    order, the flat positions (row * seq_len + column) of its wordpieces;
    cls_index/cls_lengths do the same for each doc's first ([CLS]) position
    in each of its windows.
    """

    input_ids: numpy.ndarray
    attention_mask: numpy.ndarray
    token_type_ids: numpy.ndarray
    token_index: numpy.ndarray
    token_lengths: numpy.ndarray
    doc_lengths: List[int]
    cls_index: numpy.ndarray
    cls_lengths: numpy.ndarray
    windows: List[Tuple[int, int, int]] = field(default_factory=list)

    @property
    def shape(self) -> Tuple[int, int]:
        return tuple(self.input_ids.shape)  # type: ignore[return-value]


def window_starts(n_pieces: int, content: int, stride: int) -> List[int]:
    """Start offsets of windows of `content` pieces, every `stride`, covering n_pieces."""
    starts = [0]
    while starts[-1] + content < n_pieces:
        starts.append(starts[-1] + stride)
    return starts


def check_window(backbone: Backbone, window: int, stride: int, n_special: int = 2) -> None:
    """Raise a clear error for a window the backbone cannot take."""
    if window > backbone.max_length:
        raise ValueError(
            f"window={window} is longer than the backbone allows ({backbone.max_length} "
            f"wordpieces, from its max_position_embeddings): set window <= {backbone.max_length}."
        )
    if window <= n_special:
        raise ValueError(f"window={window} leaves no room for text: use at least {n_special + 8}.")
    if not 1 <= stride <= window - n_special:
        raise ValueError(
            f"stride={stride} must be between 1 and window - {n_special} = {window - n_special}, "
            "or windows would skip wordpieces."
        )


def tokenize_words(backbone: Backbone, docs: Sequence[Doc]) -> List[Tuple[List[int], List[int]]]:
    """(piece ids, token index of each piece) for each doc, without special tokens."""
    out: List[Tuple[List[int], List[int]]] = [([], []) for _ in docs]
    nonempty = [i for i, doc in enumerate(docs) if len(doc)]
    if not nonempty:
        return out
    words = [[token.text for token in docs[i]] for i in nonempty]
    encoded = backbone.tokenizer(
        words, is_split_into_words=True, add_special_tokens=False, verbose=False
    )
    for j, i in enumerate(nonempty):
        word_ids = encoded.word_ids(j)
        out[i] = (list(encoded["input_ids"][j]), [int(w) for w in word_ids])
    return out


_SLOT = -7  # stands for the content in the tokenizer's special-token template


@dataclass(frozen=True)
class WindowLayout:
    """ids/types around a window's content: head + content + tail (head holds any first segment)."""

    head: List[int]
    head_types: List[int]
    content_type: int
    tail: List[int]
    tail_types: List[int]


def window_layout(backbone: Backbone, first: Optional[List[int]] = None) -> WindowLayout:
    """The backbone tokenizer's own special-token template, single or pair.

    BERT: [CLS] content [SEP] or [CLS] first [SEP] content [SEP];
    RoBERTa: <s> content </s> or <s> first </s></s> content </s>.
    """
    tokenizer = backbone.tokenizer
    if first is None:
        ids = tokenizer.build_inputs_with_special_tokens([_SLOT])
        types = tokenizer.create_token_type_ids_from_sequences([_SLOT])
    else:
        ids = tokenizer.build_inputs_with_special_tokens(list(first), [_SLOT])
        types = tokenizer.create_token_type_ids_from_sequences(list(first), [_SLOT])
    if backbone.type_vocab_size < 2:
        types = [0] * len(ids)
    k = ids.index(_SLOT)
    return WindowLayout(ids[:k], types[:k], types[k], ids[k + 1 :], types[k + 1 :])


def n_special(backbone: Backbone, pair: bool = False) -> int:
    """Special tokens one window spends (2 for BERT; 3 or 4 for pairs)."""
    layout = window_layout(backbone, [] if pair else None)
    return len(layout.head) + len(layout.tail)


def docs_to_wordpieces(
    backbone: Backbone,
    docs: Sequence[Doc],
    window: int,
    stride: int,
    pooling: str = "mean",
    firsts: Optional[Sequence[List[int]]] = None,
) -> WordpieceBatch:
    """Tokenize docs into windows and build the gather maps.

    firsts: optional wordpiece ids of a first segment per doc (a QA question),
    repeated at the head of each of the doc's windows and never gathered into
    token vectors; the doc's own pieces then fill what is left of the window.
    """
    tokenizer = backbone.tokenizer
    pieces = tokenize_words(backbone, docs)
    if firsts is None:
        layouts = [window_layout(backbone)] * len(docs)
    else:
        layouts = [window_layout(backbone, first) for first in firsts]
    windows: List[Tuple[int, int, int]] = []
    for d, (ids, _) in enumerate(pieces):
        content = window - len(layouts[d].head) - len(layouts[d].tail)
        for start in window_starts(len(ids), content, min(stride, content)):
            windows.append((d, start, min(start + content, len(ids))))
    lengths = [len(layouts[d].head) + (end - start) + len(layouts[d].tail) for d, start, end in windows]
    seq_len = max(lengths)
    n_rows = len(windows)
    input_ids = numpy.full((n_rows, seq_len), tokenizer.pad_token_id, dtype="int64")
    attention_mask = numpy.zeros((n_rows, seq_len), dtype="int64")
    token_type_ids = numpy.zeros((n_rows, seq_len), dtype="int64")
    cls_index = numpy.zeros((n_rows,), dtype="int64")
    cls_lengths = numpy.zeros((len(docs),), dtype="int32")
    piece_doc: List[numpy.ndarray] = []
    piece_pos: List[numpy.ndarray] = []
    piece_flat: List[numpy.ndarray] = []
    for row, (d, start, end) in enumerate(windows):
        layout = layouts[d]
        h, width = len(layout.head), end - start
        input_ids[row, : lengths[row]] = layout.head + pieces[d][0][start:end] + layout.tail
        token_type_ids[row, : lengths[row]] = layout.head_types + [layout.content_type] * width + layout.tail_types
        attention_mask[row, : lengths[row]] = 1
        cls_index[row] = row * seq_len
        cls_lengths[d] += 1
        piece_doc.append(numpy.full((width,), d, dtype="int64"))
        piece_pos.append(numpy.arange(start, end, dtype="int64"))
        piece_flat.append(row * seq_len + h + numpy.arange(width, dtype="int64"))
    token_index, token_lengths = _token_gather(
        docs, pieces, numpy.concatenate(piece_doc), numpy.concatenate(piece_pos),
        numpy.concatenate(piece_flat), pooling,
    )
    return WordpieceBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        token_type_ids=token_type_ids,
        token_index=token_index,
        token_lengths=token_lengths,
        doc_lengths=[len(doc) for doc in docs],
        cls_index=cls_index,
        cls_lengths=cls_lengths,
        windows=windows,
    )


def _token_gather(
    docs: Sequence[Doc],
    pieces: List[Tuple[List[int], List[int]]],
    piece_doc: numpy.ndarray,
    piece_pos: numpy.ndarray,
    piece_flat: numpy.ndarray,
    pooling: str,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Group every window occurrence of every piece by its global token number."""
    token_offsets = numpy.cumsum([0] + [len(doc) for doc in docs])
    piece_offsets = numpy.cumsum([0] + [len(p[0]) for p in pieces])
    word_ids = numpy.asarray([w for _, ws in pieces for w in ws], dtype="int64")
    n_tokens = int(token_offsets[-1])
    if len(word_ids) == 0:
        return numpy.zeros((0,), dtype="int64"), numpy.zeros((n_tokens,), dtype="int32")
    global_piece = piece_offsets[piece_doc] + piece_pos
    token = word_ids[global_piece] + token_offsets[piece_doc]
    if pooling == "first":
        is_first = numpy.ones(len(word_ids), dtype=bool)
        is_first[1:] = word_ids[1:] != word_ids[:-1]
        is_first[piece_offsets[:-1][piece_offsets[:-1] < len(word_ids)]] = True
        keep = is_first[global_piece]
        token, piece_flat = token[keep], piece_flat[keep]
    order = numpy.argsort(token, kind="stable")
    lengths = numpy.bincount(token, minlength=n_tokens).astype("int32")
    return piece_flat[order], lengths


def first_segments(backbone: Backbone, docs: Sequence[Doc], extension: str, window: int) -> List[List[int]]:
    """Wordpiece ids of each doc's `doc._.<extension>` text (e.g. its QA question).

    A missing or blank text, or one that would take more than half the window,
    is an error that names the doc: there is no sensible output without it.
    """
    if not Doc.has_extension(extension):
        raise ValueError(f"The encoder reads Doc._.{extension}, but no such extension is registered.")
    texts = []
    for doc in docs:
        text = getattr(doc._, extension)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"Doc._.{extension} is {text!r} for the doc {doc.text[:50]!r}: set it before running the "
                f"pipeline (doc = nlp.make_doc(context); doc._.{extension} = '...'; nlp(doc))."
            )
        texts.append(text)
    if not texts:
        return []
    ids = backbone.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    limit = window // 2 - n_special(backbone, pair=True)
    for text, piece_ids in zip(texts, ids):
        if len(piece_ids) > limit:
            raise ValueError(
                f"Doc._.{extension} {text[:50]!r} has {len(piece_ids)} wordpieces; with window={window} "
                f"it may have at most {limit} (half the window, less special tokens). Shorten it or raise window."
            )
    return [list(x) for x in ids]
