"""`spacy ptuning convert`: CoNLL columns or CLUENER JSON -> a .spacy DocBin.

CoNLL files go through spaCy's own NER converter (`spacy convert -c ner`), after this
package's format and label checks, so the docs are exactly the ones spaCy writes."""
from enum import Enum
from pathlib import Path
from typing import Iterable, List, Optional

import spacy
import typer
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from wasabi import msg

from ..corpora.cluener import read_records, record_to_doc
from ..corpora.conll import ConllFormatError, read_sentences
from ._app import app
from .checks import fail, input_file, output_folder


class InputFormat(str, Enum):
    conll = "conll"
    cluener = "cluener"


FORMATS = {InputFormat.conll: "a CoNLL column file", InputFormat.cluener: "a CLUENER2020 JSON lines file"}


def conll_docs(nlp: Language, path: Path, n_sents: int = 1, labels: Optional[List[str]] = None) -> List[Doc]:
    """The docs `spacy convert -c ner -n n_sents` writes for `path`, once the file passes this
    package's checks (columns, tags, and the entity types in `labels` when given)."""
    from spacy.training.converters import conll_ner_to_docs

    for _ in read_sentences(path, labels):  # format and label errors name the line
        pass
    text = path.read_text(encoding="utf-8-sig")  # a byte order mark is not part of the first word
    return list(conll_ner_to_docs(text, n_sents=n_sents, no_print=True))


def cluener_docs(nlp: Language, path: Path, labels: Optional[List[str]] = None) -> List[Doc]:
    """One doc per record, tokenized by the pipeline's tokenizer (characters for zh)."""
    return [record_to_doc(nlp, f"{path}:{n}", text, m) for n, text, m in read_records(path, labels)]


def write_docbin(docs: Iterable[Doc], path: Path) -> int:
    db = DocBin(store_user_data=True)
    for doc in docs:
        db.add(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(path)
    return len(db)


@app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(..., help="CoNLL column file or CLUENER JSON lines"),
    output_dir: Path = typer.Argument(..., help="Folder for <input stem>.spacy"),
    file_type: InputFormat = typer.Option(InputFormat.conll, "--format", "-f", help="Input format"),
    lang: str = typer.Option("en", "--lang", "-l", help="Language of the blank pipeline (zh: character tokens)"),
    n_sents: int = typer.Option(1, "--n-sents", "-n", min=1, help="CoNLL sentences per doc"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated entity types; others are errors"),
) -> None:
    """Write a .spacy file for `spacy train` / `spacy.Corpus.v1`: CoNLL through spaCy's own NER
    converter (the docs `spacy convert -c ner` writes), CLUENER2020 JSON lines as tokenised docs."""
    input_file(input_path, FORMATS[file_type])
    output_folder(output_dir, "the folder for the .spacy file")
    nlp = spacy.blank(lang)
    label_list = labels.split(",") if labels else None
    try:
        if file_type == InputFormat.conll:
            docs = conll_docs(nlp, input_path, n_sents, label_list)
        else:
            docs = cluener_docs(nlp, input_path, label_list)
    except ConllFormatError as err:  # CluenerFormatError included
        fail(str(err))
    out = output_dir / f"{input_path.stem}.spacy"
    n = write_docbin(docs, out)
    n_ents = sum(len(doc.ents) for doc in docs)
    msg.good(f"Wrote {n} docs ({n_ents} entities) to {out}")
