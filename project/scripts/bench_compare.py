"""Methods side by side over seeds: the dev score per seed with mean ± sd, the gap of each
frozen-backbone method to full fine-tuning, trainable share, training words/second and
artifact size, from run records (bench_run.py's JSON: a benchmark.json's "runs", or single
run files, e.g. the recipe search's runs/*.json).

    python scripts/bench_compare.py ../benchmarks/results/standard.json ../benchmarks/results/standard-seed1.json \
        metrics/mam-seed1/benchmark.json --methods p-tuning-v2,mam,full-fine-tuning \
        --output ../benchmarks/results/adapters.json

A run file can stand for another method (--as FILE=METHOD, e.g. a search trial that is the
method's recipe). Prints a Markdown table and writes it with the rows as JSON.
"""
import json
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import typer

DATASETS = ("sst2", "conll", "squad1", "squad2")


def read_runs(paths: List[Path], renamed: Dict[str, str]) -> List[dict]:
    """Every run record in the files (a benchmark.json's runs, or one run), with the method a
    file stands for when --as names it."""
    runs = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf8"))
        records = data["runs"] if "runs" in data else [data]
        for record in records:
            record = dict(record)
            if str(path) in renamed:
                record["method"] = renamed[str(path)]
            record["source"] = str(path)
            runs.append(record)
    return runs


def _mean_sd(values: List[float]) -> Tuple[float, Optional[float]]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def compare(runs: List[dict], methods: List[str]) -> List[dict]:
    """One row per (data set, method): scores by seed, mean, sd, gap to full fine-tuning's mean
    (over the seeds both have), trainable share, words/s and artifact bytes (means)."""
    by: Dict[Tuple[str, str], Dict[int, dict]] = {}
    for run in runs:
        by.setdefault((run["label"], run["method"]), {})[int(run["seed"])] = run
    rows = []
    for data in DATASETS:
        reference = by.get((data, "full-fine-tuning"), {})
        for method in methods:
            seeds = by.get((data, method))
            if not seeds:
                continue
            scores = {seed: run["dev_score"] * 100 for seed, run in sorted(seeds.items())}
            mean, sd = _mean_sd(list(scores.values()))
            shared = [s for s in scores if s in reference]
            gap = None
            if method != "full-fine-tuning" and shared:
                gap = statistics.mean(scores[s] - reference[s]["dev_score"] * 100 for s in shared)
            runs_of = list(seeds.values())
            rows.append({
                "data": data, "method": method, "score_name": runs_of[0]["score_name"], "scores": scores,
                "mean": mean, "sd": sd, "gap_to_full_fine_tuning": gap, "gap_seeds": shared,
                "trainable_share": statistics.mean(r["trainable_share"] for r in runs_of),
                "train_words_per_second": statistics.mean(r["train_words_per_second"] for r in runs_of),
                "artifact_bytes": statistics.mean(r["artifact_bytes"] for r in runs_of),
                "settings": runs_of[0].get("settings", {}),
            })
    return rows


def markdown(rows: List[dict]) -> str:
    lines = ["| data | method | dev score by seed | mean ± sd | gap to full FT (seeds) | trainable | train words/s | artifact |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        seeds = ", ".join(f"{s}: {v:.1f}" for s, v in r["scores"].items())
        spread = f"{r['mean']:.1f} ± {r['sd']:.1f}" if r["sd"] is not None else f"{r['mean']:.1f}"
        gap = "-" if r["gap_to_full_fine_tuning"] is None else (
            f"{r['gap_to_full_fine_tuning']:+.1f} ({', '.join(map(str, r['gap_seeds']))})")
        lines.append(f"| {r['data']} | {r['method']} | {r['score_name']} {seeds} | {spread} | {gap} | "
                     f"{r['trainable_share']:.2%} | {r['train_words_per_second']:.0f} | "
                     f"{r['artifact_bytes'] / 1e6:.2f} MB |")
    return "\n".join(lines) + "\n"


def main(
    files: List[Path] = typer.Argument(..., help="benchmark.json files or single run JSON files"),
    methods: str = typer.Option("p-tuning-v2,mam,adapters,full-fine-tuning", help="Methods to show, in order"),
    as_method: Optional[List[str]] = typer.Option(None, "--as", help="FILE=METHOD: the runs of FILE are METHOD's"),
    output: Optional[Path] = typer.Option(None, help="Write the rows (JSON) here and the table next to it (.md)"),
    note: str = typer.Option("", help="A line above the table: date, machine, commands"),
) -> None:
    renamed = dict(item.split("=", 1) for item in as_method or [])
    missing = [p for p in files if not p.exists()]
    if missing:
        raise typer.BadParameter(f"no such file: {', '.join(map(str, missing))}")
    rows = compare(read_runs(files, renamed), methods.split(","))
    table = markdown(rows)
    print(table)
    if output is not None:
        output.write_text(json.dumps({"note": note, "files": [str(p) for p in files], "rows": rows}, indent=2),
                          encoding="utf8")
        output.with_suffix(".md").write_text((note + "\n\n" if note else "") + table, encoding="utf8")


if __name__ == "__main__":
    typer.run(main)
