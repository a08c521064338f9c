"""The benchmark's data: seeded subsets of the shared data sets, written once per setting.

SST-2 -> .spacy (a seeded sample of each TSV), CoNLL-2003 -> the first sentences of each
file (column files are read with a limit, nothing is written), SQuAD -> SQuAD JSON files
holding a seeded sample of questions drawn across all articles: v1.1 trains on
train-v1.1.json and is scored on the answerable questions of dev-v2.0.json (forced
answers: SQuAD v1.1's metric); v2.0 trains on train-v2.0.json and is scored on dev-v2.0.json.
A SQuAD sample may draw from several files at once (their articles one after the other).
"""
import json
import random
from pathlib import Path
from typing import Dict, Sequence, Union

from sst2_to_spacy import main as sst2_to_spacy


def squad_sample(
    source: Union[Path, Sequence[Path]], target: Path, n: int, seed: int, answerable_only: bool = False,
) -> Path:
    """Write `n` questions of `source` (seeded, across articles; 0: all) as a SQuAD file `target`;
    several sources count as one file holding their articles in order."""
    sources = [source] if isinstance(source, Path) else list(source)
    read = [json.loads(s.read_text(encoding="utf8")) for s in sources]
    data = {"version": read[0].get("version", ""), "data": [a for d in read for a in d["data"]]}
    found = [
        (a, p, q)
        for a, article in enumerate(data["data"])
        for p, paragraph in enumerate(article["paragraphs"])
        for q, qa in enumerate(paragraph["qas"])
        if not answerable_only or (qa.get("answers") and not qa.get("is_impossible"))
    ]
    if n > len(found):
        raise SystemExit(f"{' + '.join(map(str, sources))}: asked for {n} questions, it has {len(found)}")
    keep = sorted(random.Random(seed).sample(found, n)) if n else found
    articles: Dict[int, Dict[int, list]] = {}
    for a, p, q in keep:
        articles.setdefault(a, {}).setdefault(p, []).append(q)
    out = []
    for a, paragraphs in articles.items():
        article = data["data"][a]
        out.append({
            "title": article.get("title", ""),
            "paragraphs": [
                {"context": article["paragraphs"][p]["context"], "qas": [article["paragraphs"][p]["qas"][q] for q in qs]}
                for p, qs in paragraphs.items()
            ],
        })
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"version": data.get("version", ""), "data": out}), encoding="utf8")
    return target


def sst2_sample(source: Path, target: Path, n: int, seed: int) -> Path:
    """Write a seeded sample of `n` rows (0: all) of an SST-2 TSV as a .spacy file `target`."""
    sst2_to_spacy(source, target, limit=n or None, seed=seed, lang="en")
    return target
