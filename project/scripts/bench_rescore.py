"""Score a benchmark's trained pipelines again, here (e.g. GPU-trained ones on a CPU).

For each run of <benchmark>/benchmark.json whose model-best folder is there (prompt methods'
artifacts are small enough to copy back from a GPU machine; fine-tuned ones are not), load
it on this machine's CPU, score it on the same dev data (benchmark.prepare, same seed) and
compare with the score the run recorded. Writes <benchmark>/rescore.json and prints a table.
"""
import json
import os
import platform
import time
from pathlib import Path

import spacy
import typer

from bench_run import dev_scores
from benchmark import SETTINGS, prepare


def main(
    benchmark_dir: Path, shared_data: str = "../../shared/data", ner_data: str = "../corpus/conll2003",
    qa_data: str = "../corpus/squad",
    methods: str = typer.Option("", help="Comma-separated methods to rescore (default: every run with a model)."),
) -> None:
    summary = json.loads((benchmark_dir / "benchmark.json").read_text(encoding="utf8"))
    setting, seed = summary["setting"], summary["seed"]
    paths = prepare(setting, benchmark_dir, seed, shared_data, ner_data, qa_data)
    rows = []
    for run in summary["runs"]:
        label = run.get("label", run["task"])
        model = benchmark_dir / "runs" / f"{label}-{run['method']}" / "model-best"
        if not model.exists() or (methods and run["method"] not in methods.split(",")):
            continue
        data = SETTINGS[setting][label]
        nlp = spacy.load(model)
        dev_limit = data.budget.get("dev_limit", 0)
        started = time.perf_counter()
        scores, n_words, _ = dev_scores(nlp, data.task, Path(paths[label][1]), dev_limit, timed=False)
        here = scores.get(run["score_name"])
        rows.append({"label": label, "method": run["method"], "score_name": run["score_name"],
                     "recorded": run["dev_score"], "here": here, "difference": here - run["dev_score"],
                     "score_seconds": time.perf_counter() - started})
        print(f"{label} {run['method']}: {run['score_name']} recorded {run['dev_score'] * 100:.2f}, "
              f"here {here * 100:.2f}", flush=True)
    result = {"machine": f"{platform.node()} {platform.machine()}, {len(os.sched_getaffinity(0))} CPU cores", "date": time.strftime("%Y-%m-%d"),
              "trained_on": summary["machine"], "setting": setting, "seed": seed, "runs": rows}
    (benchmark_dir / "rescore.json").write_text(json.dumps(result, indent=2), encoding="utf8")
    print("\n".join(table(result)))


def table(result: dict) -> list:
    """Markdown: each rescored run's recorded score next to the score here."""
    lines = [f"Trained on {result['trained_on']}; loaded and scored on {result['machine']} ({result['date']}):",
             "", "| data | method | dev score | recorded | here | difference | seconds to score here |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["runs"]:
        lines.append(f"| {r['label']} | {r['method']} | {r['score_name']} | {r['recorded'] * 100:.2f} | "
                     f"{r['here'] * 100:.2f} | {r['difference'] * 100:+.2f} | {r['score_seconds']:.0f} |")
    return lines


if __name__ == "__main__":
    typer.run(main)
