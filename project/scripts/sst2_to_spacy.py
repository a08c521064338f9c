"""Convert SST-2 style TSV (header `sentence<TAB>label`, 0/1 labels) into a .spacy file."""
import random
from pathlib import Path
from typing import Optional

import spacy
import typer
from spacy.tokens import DocBin

LABELS = {"0": "NEGATIVE", "1": "POSITIVE"}


def main(
    tsv: Path,
    output: Path,
    limit: Optional[int] = typer.Option(None, help="Keep at most this many rows (a seeded random sample)."),
    seed: int = 0,
    lang: str = "en",
) -> None:
    nlp = spacy.blank(lang)
    lines = tsv.read_text(encoding="utf8").splitlines()
    if not lines or lines[0].split("\t") != ["sentence", "label"]:
        raise SystemExit(f"{tsv}:1: expected the header 'sentence<TAB>label'")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if len(parts) != 2 or parts[1].strip() not in LABELS:
            raise SystemExit(f"{tsv}:{number}: expected '<sentence>\\t<0|1>', got {line[:80]!r}")
        rows.append((parts[0].strip(), LABELS[parts[1].strip()]))
    if limit is not None and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    db = DocBin()
    for text, label in rows:
        doc = nlp.make_doc(text)
        doc.cats = {name: float(name == label) for name in LABELS.values()}
        db.add(doc)
    output.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(output)
    print(f"{tsv} -> {output}: {len(rows)} docs")


if __name__ == "__main__":
    typer.run(main)
