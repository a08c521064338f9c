"""Docs to padded wordpiece windows, with the maps back to spaCy tokens.

Long docs are split into overlapping windows of at most `window` wordpieces
(special tokens included) that start every `stride` wordpieces, so nothing is
truncated; a token's vector is the mean over all occurrences of its
wordpieces (or of its first wordpiece) in all windows.
"""
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

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


def docs_to_wordpieces(
    backbone: Backbone, docs: Sequence[Doc], window: int, stride: int, pooling: str = "mean"
) -> WordpieceBatch:
    """Tokenize docs into windows ([CLS] pieces [SEP]) and build the gather maps."""
    tokenizer = backbone.tokenizer
    content = window - 2
    pieces = tokenize_words(backbone, docs)
    windows: List[Tuple[int, int, int]] = []
    for d, (ids, _) in enumerate(pieces):
        for start in window_starts(len(ids), content, stride):
            windows.append((d, start, min(start + content, len(ids))))
    seq_len = max(end - start for _, start, end in windows) + 2
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
        ids = pieces[d][0]
        width = end - start
        input_ids[row, 0] = tokenizer.cls_token_id
        input_ids[row, 1 : width + 1] = ids[start:end]
        input_ids[row, width + 1] = tokenizer.sep_token_id
        attention_mask[row, : width + 2] = 1
        cls_index[row] = row * seq_len
        cls_lengths[d] += 1
        piece_doc.append(numpy.full((width,), d, dtype="int64"))
        piece_pos.append(numpy.arange(start, end, dtype="int64"))
        piece_flat.append(row * seq_len + 1 + numpy.arange(width, dtype="int64"))
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
