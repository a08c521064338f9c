"""Make the bundled samples in ../corpus from the full data sets (documented in corpus/README.md)."""
import json
import random
from pathlib import Path

import typer


def conll_sample(source: Path, output: Path, n_sentences: int) -> int:
    """The first n sentences of a CoNLL file (whole sentences, -DOCSTART- lines dropped)."""
    blocks = [b for b in source.read_text(encoding="utf8").split("\n\n") if b.strip()]
    blocks = [b for b in blocks if not b.lstrip().startswith("-DOCSTART-")][:n_sentences]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n\n".join(b.strip("\n") for b in blocks) + "\n", encoding="utf8")
    return len(blocks)


def squad_sample(source: Path, output: Path, n_questions: int, seed: int) -> int:
    """Whole paragraphs, drawn at random (seeded), until n questions are reached."""
    data = json.loads(source.read_text(encoding="utf8"))
    paragraphs = [(a["title"], p) for a in data["data"] for p in a["paragraphs"]]
    random.Random(seed).shuffle(paragraphs)
    articles: dict = {}
    total = 0
    for title, paragraph in paragraphs:
        if total >= n_questions:
            break
        articles.setdefault(title, []).append(paragraph)
        total += len(paragraph["qas"])
    out = {"version": data.get("version", "v2.0"), "data": [{"title": t, "paragraphs": ps} for t, ps in articles.items()]}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(out, ensure_ascii=False, indent=None), encoding="utf8")
    return total


def main(shared: Path = Path("../../shared/data"), corpus: Path = Path("../corpus"), seed: int = 0) -> None:
    print("conll train", conll_sample(shared / "conll2003/train.txt", corpus / "conll2003/train.txt", 1000))
    print("conll dev", conll_sample(shared / "conll2003/dev.txt", corpus / "conll2003/dev.txt", 300))
    print("squad train", squad_sample(shared / "squad/train-v2.0.json", corpus / "squad/train-v2.0.json", 600, seed))
    print("squad train v1.1", squad_sample(shared / "squad/train-v1.1.json", corpus / "squad/train-v1.1.json", 1200, seed))
    print("squad dev", squad_sample(shared / "squad/dev-v2.0.json", corpus / "squad/dev-v2.0.json", 250, seed))


if __name__ == "__main__":
    typer.run(main)
