"""Docs to padded wordpiece windows, with the maps back to spaCy tokens.

Long docs are split into overlapping windows of at most `window` wordpieces
(special tokens included) that start every `stride` wordpieces, so nothing is
truncated; a token's vector is the mean over all occurrences of its
wordpieces (or of its first wordpiece) in all windows.
"""
import warnings
import weakref
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


def doc_groups(docs: Sequence[Doc], window: int, stride: int, max_windows: int) -> List[Tuple[int, int]]:
    """(start, end) runs of docs whose estimated windows add up to at most max_windows
    (a doc longer than that is a run of its own), so that predicting run by run keeps the
    per-batch outputs of the encoder bounded too.

    The estimate assumes two characters per wordpiece (English averages about four; a
    CJK character is one piece), so runs hold at most about twice the cap; it needs no
    tokenization."""
    runs: List[Tuple[int, int]] = []
    start, used = 0, 0
    for i, doc in enumerate(docs):
        pieces = len(doc.text) // 2 + 1
        windows = 1 + max(0, pieces - (window // 2)) // max(stride, 1)
        if i > start and used + windows > max_windows:
            runs.append((start, i))
            start, used = i, 0
        used += windows
    if start < len(docs):
        runs.append((start, len(docs)))
    return runs


PAIR_MIN_WINDOW = 10  # room for up to 4 special tokens (RoBERTa's pair), a question and a context


def check_window(backbone: Backbone, window: int, stride: int, n_special: int = 2, pair: bool = False) -> None:
    """Raise a clear error for a window the backbone cannot take (before its tokenizer is loaded;
    a window that holds a pair is checked exactly against the tokenizer's special tokens at the
    first batch, first_segments)."""
    for name, value in (("window", window), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"{name} must be an integer, got {value!r} ({type(value).__name__}): "
                f"write e.g. {name} = 128 in the config, without quotes."
            )
    if window > backbone.max_length:
        raise ValueError(
            f"window={window} is longer than the backbone allows ({backbone.max_length} "
            f"wordpieces, from its max_position_embeddings): set window <= {backbone.max_length}."
        )
    if window <= n_special:
        raise ValueError(f"window={window} leaves no room for text: use at least {n_special + 8}.")
    if pair and window < PAIR_MIN_WINDOW:
        raise ValueError(
            f"window={window} is too small for a question/context pair: use at least {PAIR_MIN_WINDOW} "
            "(up to 4 special tokens, then half the rest for the question and half for the context)."
        )
    if not 1 <= stride <= window - n_special:
        raise ValueError(
            f"stride={stride} must be between 1 and window - {n_special} = {window - n_special}, "
            "or windows would skip wordpieces."
        )


@dataclass(frozen=True)
class DocPieces:
    """A doc's wordpiece ids (the tokenizer run on doc.text) and their alignment to its tokens.

    piece/token: parallel arrays, sorted by piece, pairing each piece with every
    spaCy token whose characters it overlaps (pieces and tokens need not nest:
    one piece may span two tokens and a token many pieces). A token no piece
    overlaps (whitespace, characters the tokenizer drops) is paired with the
    nearest piece before it (after it, at the start), or with piece -1, the
    window's first special token, when the doc has no pieces at all.
    """

    ids: List[int]
    piece: numpy.ndarray
    token: numpy.ndarray


def tokenize_docs(backbone: Backbone, docs: Sequence[Doc]) -> List[DocPieces]:
    """Tokenize each doc's raw text (no special tokens) and align the pieces to its tokens by offsets."""
    out: List[Optional[DocPieces]] = [None] * len(docs)
    texts = [i for i, doc in enumerate(docs) if doc.text]
    if texts:
        encoded = backbone.tokenizer(
            [docs[i].text for i in texts], add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        for j, i in enumerate(texts):
            out[i] = align_pieces(docs[i], list(encoded["input_ids"][j]), encoded["offset_mapping"][j])
    return [p if p is not None else align_pieces(doc, [], []) for p, doc in zip(out, docs)]


def align_pieces(doc: Doc, ids: List[int], offsets: Sequence[Tuple[int, int]]) -> DocPieces:
    """Pair pieces with the tokens they overlap (see DocPieces)."""
    n_tokens = len(doc)
    empty = numpy.zeros((0,), dtype="int64")
    if n_tokens == 0:
        return DocPieces(list(ids), empty, empty)
    tok_start = numpy.asarray([t.idx for t in doc], dtype="int64")
    tok_end = tok_start + numpy.asarray([len(t.text) for t in doc], dtype="int64")
    spans = numpy.asarray(offsets, dtype="int64").reshape(-1, 2)
    piece_start, piece_end = spans[:, 0], spans[:, 1]
    # tokens first..last overlap a piece: token end > piece start and token start < piece end
    first = numpy.searchsorted(tok_end, piece_start, side="right")
    last = numpy.searchsorted(tok_start, piece_end, side="left") - 1
    counts = numpy.where(piece_end > piece_start, numpy.maximum(last - first + 1, 0), 0)
    piece = numpy.repeat(numpy.arange(len(spans), dtype="int64"), counts)
    within = numpy.arange(len(piece), dtype="int64") - numpy.repeat(numpy.cumsum(counts) - counts, counts)
    token = numpy.repeat(first, counts) + within
    lonely = numpy.setdiff1d(numpy.arange(n_tokens, dtype="int64"), token)
    if len(lonely):
        if len(spans):
            nearest = numpy.searchsorted(piece_start, tok_start[lonely], side="right") - 1
            nearest = numpy.clip(nearest, 0, len(spans) - 1)
        else:
            nearest = numpy.full(len(lonely), -1, dtype="int64")
        piece = numpy.concatenate([piece, nearest])
        token = numpy.concatenate([token, lonely])
        order = numpy.argsort(piece, kind="stable")
        piece, token = piece[order], token[order]
    return DocPieces(list(ids), piece, token)


@dataclass(frozen=True)
class WindowLayout:
    """ids/types around a window's content: head + content + tail (head holds any first segment)."""

    head: List[int]
    head_types: List[int]
    content_type: int
    tail: List[int]
    tail_types: List[int]


@dataclass(frozen=True)
class Segment:
    """A run of special tokens and their token type ids."""

    ids: List[int]
    types: List[int]


@dataclass(frozen=True)
class SpecialTemplate:
    """Where the tokenizer puts its special tokens around one text (A) or a pair (A, B)."""

    single: Tuple[Segment, Segment]  # before A, after A
    pair: Tuple[Segment, Segment, Segment]  # before A, between A and B, after B
    single_type: int  # token type of A alone
    pair_types: Tuple[int, int]  # token types of A and B in a pair


_TEMPLATES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def special_template(backbone: Backbone) -> SpecialTemplate:
    """The backbone tokenizer's special-token template, single and pair.

    Read from `tokenizer(text)` and `tokenizer(text, pair)` with their
    sequence_ids, the public API of transformers 4 and 5 alike. BERT:
    [CLS] A [SEP] / [CLS] A [SEP] B [SEP]; RoBERTa: <s> A </s> / <s> A </s></s> B </s>.
    """
    tokenizer = backbone.tokenizer
    template = _TEMPLATES.get(tokenizer)
    if template is None:
        single, single_types = _segments(tokenizer("a"), backbone)
        pair, pair_types = _segments(tokenizer("a", "b"), backbone)
        template = SpecialTemplate(tuple(single), tuple(pair), single_types[0], tuple(pair_types))
        _TEMPLATES[tokenizer] = template
    return template


def _segments(encoding, backbone: Backbone) -> Tuple[List[Segment], List[int]]:
    """The special-token runs around the encoding's texts, and each text's token type."""
    ids = list(encoding["input_ids"])
    types = list(encoding.get("token_type_ids") or [0] * len(ids))
    if backbone.type_vocab_size < 2:
        types = [0] * len(ids)
    sequence = encoding.sequence_ids(0)
    runs, text_types, i = [], [], 0
    for text in sorted({s for s in sequence if s is not None}):
        j = sequence.index(text)
        runs.append(Segment(ids[i:j], types[i:j]))
        text_types.append(types[j])
        i = len(sequence) - sequence[::-1].index(text)
    runs.append(Segment(ids[i:], types[i:]))
    return runs, text_types


def window_layout(backbone: Backbone, first: Optional[List[int]] = None) -> WindowLayout:
    """The layout of a window: the content alone, or after a first segment (a QA question)."""
    template = special_template(backbone)
    if first is None:
        before, after = template.single
        return WindowLayout(before.ids, before.types, template.single_type, after.ids, after.types)
    before, between, after = template.pair
    first_type, content_type = template.pair_types
    return WindowLayout(
        before.ids + list(first) + between.ids,
        before.types + [first_type] * len(first) + between.types,
        content_type,
        after.ids,
        after.types,
    )


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
    pieces = tokenize_docs(backbone, docs)
    if firsts is None:
        layouts = [window_layout(backbone)] * len(docs)
    else:
        layouts = [window_layout(backbone, first) for first in firsts]
    windows: List[Tuple[int, int, int]] = []
    for d, doc_pieces in enumerate(pieces):
        content = window - len(layouts[d].head) - len(layouts[d].tail)
        n_pieces = len(doc_pieces.ids)
        for start in window_starts(n_pieces, content, min(stride, content)):
            windows.append((d, start, min(start + content, n_pieces)))
    lengths = [len(layouts[d].head) + (end - start) + len(layouts[d].tail) for d, start, end in windows]
    seq_len = max(lengths) if lengths else 0
    n_rows = len(windows)
    input_ids = numpy.full((n_rows, seq_len), tokenizer.pad_token_id, dtype="int64")
    attention_mask = numpy.zeros((n_rows, seq_len), dtype="int64")
    token_type_ids = numpy.zeros((n_rows, seq_len), dtype="int64")
    cls_index = numpy.zeros((n_rows,), dtype="int64")
    cls_lengths = numpy.zeros((len(docs),), dtype="int32")
    for row, (d, start, end) in enumerate(windows):
        layout = layouts[d]
        width = end - start
        input_ids[row, : lengths[row]] = layout.head + pieces[d].ids[start:end] + layout.tail
        token_type_ids[row, : lengths[row]] = layout.head_types + [layout.content_type] * width + layout.tail_types
        attention_mask[row, : lengths[row]] = 1
        cls_index[row] = row * seq_len
        cls_lengths[d] += 1
    token_index, token_lengths = _token_gather(docs, pieces, windows, layouts, seq_len, pooling)
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
    pieces: List[DocPieces],
    windows: List[Tuple[int, int, int]],
    layouts: List[WindowLayout],
    seq_len: int,
    pooling: str,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """For every token of every doc in order, the flat positions of its pieces in every window."""
    token_offsets = numpy.cumsum([0] + [len(doc) for doc in docs])
    n_tokens = int(token_offsets[-1])
    pairs = [_first_pieces(p) if pooling == "first" else (p.piece, p.token) for p in pieces]
    tokens: List[numpy.ndarray] = []
    flats: List[numpy.ndarray] = []
    for row, (d, start, end) in enumerate(windows):
        piece, token = pairs[d]
        lo, hi = numpy.searchsorted(piece, [start, end])
        tokens.append(token[lo:hi] + token_offsets[d])
        flats.append(row * seq_len + len(layouts[d].head) + piece[lo:hi] - start)
        cls_only = numpy.searchsorted(piece, 0)  # pairs with piece -1: the doc has no pieces
        if cls_only and start == 0:
            tokens.append(token[:cls_only] + token_offsets[d])
            flats.append(numpy.full(cls_only, row * seq_len, dtype="int64"))
    if not tokens:
        return numpy.zeros((0,), dtype="int64"), numpy.zeros((n_tokens,), dtype="int32")
    token_all, flat_all = numpy.concatenate(tokens), numpy.concatenate(flats)
    order = numpy.argsort(token_all, kind="stable")
    lengths = numpy.bincount(token_all, minlength=n_tokens).astype("int32")
    return flat_all[order], lengths


def _first_pieces(pieces: DocPieces) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """The pairs of each token's first piece only ("first" pooling)."""
    if not len(pieces.token):
        return pieces.piece, pieces.token
    _, first = numpy.unique(pieces.token, return_index=True)  # pairs are sorted by piece
    keep = numpy.sort(first)
    return pieces.piece[keep], pieces.token[keep]


def first_segments(backbone: Backbone, docs: Sequence[Doc], extension: str, window: int) -> List[List[int]]:
    """Wordpiece ids of each doc's `doc._.<extension>` text (e.g. its QA question).

    A missing or blank text is an error that names the doc: there is no
    sensible output without it. A text longer than half the window (less
    special tokens) is cut to that length with a warning naming it (and its
    doc._.qa_id when set), as SQuAD systems cut questions to max_query_length.
    """
    if not Doc.has_extension(extension):
        raise ValueError(f"The encoder reads Doc._.{extension}, but no such extension is registered.")
    texts = []
    for doc in docs:
        text = getattr(doc._, extension)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"Doc._.{extension} is {text!r} for the doc {doc.text[:50]!r}: set it to a non-blank string "
                f"before running the pipeline (doc = nlp.make_doc(context); doc._.{extension} = '...'; nlp(doc))."
            )
        texts.append(text)
    if not texts:
        return []
    ids = backbone.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    limit = window // 2 - n_special(backbone, pair=True)
    if limit < 1:
        raise ValueError(
            f"window={window} leaves no room for the {extension}: half the window, less this backbone's "
            f"{n_special(backbone, pair=True)} special tokens of a pair, is {limit}. Use window >= "
            f"{2 * (n_special(backbone, pair=True) + 1)}."
        )
    out = []
    for doc, text, piece_ids in zip(docs, texts, ids):
        if len(piece_ids) > limit:
            qa_id = doc._.get("qa_id") if doc.has_extension("qa_id") else None
            named = f" (question {qa_id})" if qa_id else ""
            warnings.warn(
                f"Doc._.{extension} {text[:50]!r}{named} has {len(piece_ids)} wordpieces; with window={window} "
                f"only its first {limit} are read (half the window, less special tokens). Shorten it or raise window."
            )
            piece_ids = piece_ids[:limit]
        out.append(list(piece_ids))
    return out
