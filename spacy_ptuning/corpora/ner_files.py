"""One NER reader for configs: picks CoNLL columns, CLUENER JSON or a .spacy DocBin by file type."""
from pathlib import Path
from typing import Callable, Iterator, List, Literal, Optional, Union

from spacy.language import Language
from spacy.training import Corpus, Example
from spacy.util import registry

from . import missing_path
from .cluener import cluener_corpus
from .conll import conll_corpus

FORMATS = ("auto", "conll", "cluener", "spacy")


def detect_format(path: Union[str, Path]) -> str:
    """conll for text columns, cluener for .json/.jsonl, spacy for .spacy."""
    suffix = Path(path).suffix.lower()
    if suffix == ".spacy":
        return "spacy"
    if suffix in (".json", ".jsonl"):
        return "cluener"
    return "conll"


@registry.readers("spacy_ptuning.NerCorpus.v1")
def ner_corpus(
    path: Optional[Union[str, Path]],
    format: Literal["auto", "conll", "cluener", "spacy"] = "auto",
    labels: Optional[List[str]] = None,
    limit: int = 0,
) -> Callable[[Language], Iterator[Example]]:
    """Train NER from CoNLL columns, CLUENER2020 JSON lines or .spacy files with one config.

    With format "auto" the file's suffix decides; switching an English config to
    Chinese is then `--nlp.lang zh --paths.train train.json`.
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown NER corpus format {format!r}: use one of {', '.join(FORMATS)}.")
    if path is None:
        return missing_path("spacy_ptuning.NerCorpus.v1")
    chosen = detect_format(path) if format == "auto" else format
    if chosen == "conll":
        return conll_corpus(path, labels=labels, limit=limit)
    if chosen == "cluener":
        return cluener_corpus(path, labels=labels, limit=limit)
    return Corpus(path, limit=limit)
