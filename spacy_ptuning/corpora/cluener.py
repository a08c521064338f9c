"""CLUENER2020 JSON lines (`{"text", "label": {type: {mention: [[start, end_incl]]}}}`) as Examples.

Offsets are characters with an inclusive end. Every mention is checked
against the text; problems are reported with the file and line. Nested
mentions (a company inside a book title) cannot both be entities of one Doc:
the longest is kept and each dropped one is named in a warning.
"""
import json
import warnings
from pathlib import Path
from typing import Callable, Iterator, List, Literal, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from . import missing_path
from .conll import ConllFormatError, read_lines

Mention = Tuple[int, int, str]  # (start, end exclusive, type)
OVERLAPS = ("longest", "error")


class CluenerFormatError(ConllFormatError):
    """A CLUENER JSON file that cannot be read as it is."""


def read_records(
    path: Union[str, Path], labels: Optional[List[str]] = None, overlaps: str = "longest"
) -> Iterator[Tuple[int, str, List[Mention]]]:
    """Yield (line number, text, mentions) with end-exclusive character offsets."""
    if overlaps not in OVERLAPS:
        raise ValueError(f"Unknown overlaps policy {overlaps!r}: use one of {', '.join(OVERLAPS)}.")
    path = Path(path)
    if not path.exists():
        raise CluenerFormatError(f"{path}: no such file")
    known = set(labels) if labels else None
    seen_any = False
    for number, line in read_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise CluenerFormatError(f"{where}: not a JSON object ({err.msg})") from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise CluenerFormatError(f"{where}: expected an object with a \"text\" string")
        mentions = _mentions(where, text, record.get("label") or {}, known)
        kept = _resolve_overlaps(mentions)
        if len(kept) != len(mentions):
            if overlaps == "error":
                raise CluenerFormatError(f"{where}: overlapping mentions {sorted(set(mentions) - set(kept))}")
            lost = ", ".join(f"{text[s:e]!r} ({t})" for s, e, t in sorted(set(mentions) - set(kept)))
            warnings.warn(f"{where}: nested mention(s) {lost} not used (a Doc holds no overlapping entities)")
        seen_any = True
        yield number, text, kept
    if not seen_any:
        raise CluenerFormatError(f"{path}: the file holds no records")


def _mentions(where: str, text: str, label: dict, known: Optional[set]) -> List[Mention]:
    if not isinstance(label, dict):
        raise CluenerFormatError(f"{where}: \"label\" must be an object {{type: {{mention: [[start, end]]}}}}, got {label!r}")
    mentions: List[Mention] = []
    for etype, by_mention in label.items():
        if known is not None and etype not in known:
            raise CluenerFormatError(f"{where}: unknown entity type {etype!r} (known: {sorted(known)})")
        if not isinstance(by_mention, dict):
            raise CluenerFormatError(f"{where}: label {etype!r} must map mentions to offset lists, got {by_mention!r}")
        for mention, offsets in by_mention.items():
            if not isinstance(offsets, list):
                raise CluenerFormatError(f"{where}: offsets of {mention!r} must be a list of [start, end] pairs, got {offsets!r}")
            for pair in offsets:
                if not (isinstance(pair, list) and len(pair) == 2 and all(_is_int(x) for x in pair)):
                    raise CluenerFormatError(f"{where}: offsets of {mention!r} must be [start, end] pairs, got {pair!r}")
                start, end = pair[0], pair[1] + 1
                if not 0 <= start < end <= len(text) or text[start:end] != mention:
                    raise CluenerFormatError(
                        f"{where}: {etype} mention {mention!r} at [{pair[0]}, {pair[1]}] does not match "
                        f"the text there ({text[max(start, 0):max(end, 0)]!r})"
                    )
                mentions.append((start, end, etype))
    return sorted(set(mentions))


def _is_int(value) -> bool:
    """An integer offset (JSON true/false are not offsets, though Python counts them as ints)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _resolve_overlaps(mentions: List[Mention]) -> List[Mention]:
    """Greedily keep the longest mentions (earliest first on ties) that do not overlap."""
    kept: List[Mention] = []
    for m in sorted(mentions, key=lambda m: (m[0] - m[1], m[0])):
        if all(m[1] <= k[0] or k[1] <= m[0] for k in kept):
            kept.append(m)
    return sorted(kept)


def record_to_doc(nlp: Language, where: str, text: str, mentions: List[Mention]) -> Doc:
    """A Doc from the pipeline's tokenizer with the mentions as entities."""
    doc = nlp.make_doc(text)
    spans = []
    for start, end, etype in mentions:
        span = doc.char_span(start, end, label=etype)
        if span is None:
            raise CluenerFormatError(
                f"{where}: mention {text[start:end]!r} ({etype}) does not fall on token boundaries of "
                f"the {nlp.lang!r} tokenizer; use character tokens (spacy.blank('zh'))."
            )
        spans.append(span)
    doc.ents = spans
    return doc


@registry.readers("spacy_ptuning.CluenerCorpus.v1")
def cluener_corpus(
    path: Optional[Union[str, Path]], labels: Optional[List[str]] = None, limit: int = 0,
    overlaps: Literal["longest", "error"] = "longest",
) -> Callable[[Language], Iterator[Example]]:
    """Read CLUENER2020 JSON lines directly in `spacy train`."""
    if path is None:
        return missing_path("spacy_ptuning.CluenerCorpus.v1")

    def read(nlp: Language) -> Iterator[Example]:
        for i, (number, text, mentions) in enumerate(read_records(path, labels, overlaps)):
            if limit and i >= limit:
                break
            reference = record_to_doc(nlp, f"{path}:{number}", text, mentions)
            yield Example(nlp.make_doc(text), reference)

    return read
