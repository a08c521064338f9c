"""CoNLL column files (`word [POS [chunk]] tag`, IOB1 or IOB2) as spaCy Examples.

Blank lines separate sentences; `-DOCSTART-` lines are skipped. Every problem
is reported with the file and line number; nothing is skipped silently.
"""
import re
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from . import missing_path

Sentence = List[Tuple[str, str]]  # (word, IOB2 tag)
# columns are separated by spaces and tabs only: other Unicode spaces (a
# non-breaking space inside a word) belong to the word
_COLUMN_SPACE = " \t\r\n"
_COLUMNS = re.compile(r"[ \t]+")


class ConllFormatError(ValueError):
    """A CoNLL file that cannot be read as it is."""


def read_lines(path: Path) -> Iterator[Tuple[int, str]]:
    """(line number, text) of a UTF-8 file, without line ends or a leading byte-order mark.

    A line that is not UTF-8 is an error naming the file, the line and the fix,
    not a bare UnicodeDecodeError."""
    with Path(path).open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ConllFormatError(
                    f"{path}:{number}: not UTF-8 (byte {raw[err.start]:#04x} at column {err.start + 1}); "
                    f"convert the file first, e.g. `iconv -f latin1 -t utf-8 {Path(path).name} > fixed.txt`"
                ) from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\n").rstrip("\r")


def read_sentences(path: Union[str, Path], labels: Optional[List[str]] = None) -> Iterator[Sentence]:
    """Yield sentences of (word, IOB2 tag); IOB1 tags are converted."""
    path = Path(path)
    if not path.exists():
        raise ConllFormatError(f"{path}: no such file")
    known = set(labels) if labels else None
    sentence: Sentence = []
    n_columns = None
    seen_any = False
    for number, line in read_lines(path):
        if not line.strip(_COLUMN_SPACE):
            if sentence:
                yield _to_iob2(sentence)
                sentence = []
            continue
        parts = _COLUMNS.split(line.strip(_COLUMN_SPACE))
        if parts[0] == "-DOCSTART-":
            continue
        if n_columns is None:
            n_columns = len(parts)
            if not 2 <= n_columns <= 4:
                raise ConllFormatError(f"{path}:{number}: expected 2 to 4 columns (word [POS [chunk]] tag), got {n_columns}: {line!r}")
        if len(parts) != n_columns:
            raise ConllFormatError(f"{path}:{number}: expected {n_columns} columns like the lines before, got {len(parts)}: {line!r}")
        word, tag = parts[0], parts[-1]
        if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
            raise ConllFormatError(f"{path}:{number}: tag {tag!r} is not O, B-TYPE or I-TYPE")
        if known is not None and tag != "O" and tag[2:] not in known:
            raise ConllFormatError(f"{path}:{number}: unknown entity type {tag[2:]!r} (known: {sorted(known)})")
        sentence.append((word, tag))
        seen_any = True
    if sentence:
        yield _to_iob2(sentence)
    if not seen_any:
        raise ConllFormatError(f"{path}: the file holds no tokens")


def _to_iob2(sentence: Sentence) -> Sentence:
    """IOB1 (I- may open an entity) to IOB2 (every entity opens with B-)."""
    out: Sentence = []
    prev = "O"
    for word, tag in sentence:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append((word, tag))
        prev = tag
    return out


NO_SPACE_LANGS = ("zh", "ja", "th")


def sentence_to_doc(nlp: Language, sentence: Sentence) -> Doc:
    """A Doc whose tokens are the sentence's words and whose ents are its tags.

    Words are joined by spaces, except for languages written without them
    (Chinese character files give the original text back).
    """
    words = [w for w, _ in sentence]
    spaces = [nlp.lang not in NO_SPACE_LANGS] * len(words)
    return Doc(nlp.vocab, words=words, spaces=spaces, ents=[t for _, t in sentence])


@registry.readers("spacy_ptuning.ConllCorpus.v1")
def conll_corpus(
    path: Optional[Union[str, Path]], labels: Optional[List[str]] = None, limit: int = 0
) -> Callable[[Language], Iterator[Example]]:
    """Read a CoNLL column file directly in `spacy train` (no conversion step)."""
    if path is None:
        return missing_path("spacy_ptuning.ConllCorpus.v1")

    def read(nlp: Language) -> Iterator[Example]:
        for i, sentence in enumerate(read_sentences(path, labels)):
            if limit and i >= limit:
                break
            reference = sentence_to_doc(nlp, sentence)
            predicted = Doc(nlp.vocab, words=[t.text for t in reference], spaces=[t.whitespace_ for t in reference])
            yield Example(predicted, reference)

    return read
