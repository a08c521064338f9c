"""Summarise a training run: best dev score, training words/second, trainable share."""
import json
from pathlib import Path

import spacy
import typer

from spacy_ptuning.report import parameter_report


def main(model_dir: Path, log_file: Path, metrics: Path, output: Path) -> None:
    records = [json.loads(line) for line in log_file.read_text(encoding="utf8").splitlines() if line.strip()]
    nlp = spacy.load(model_dir)
    components = {}
    for name, pipe in nlp.pipeline:
        if hasattr(pipe, "model"):
            try:
                report = parameter_report(pipe.model)
            except ValueError:
                continue
            components[name] = {"trainable": report.trainable, "backbone": report.backbone, "share": report.share}
    last = records[-1] if records else {}
    summary = {
        "model": str(model_dir),
        "train_seconds": last.get("seconds"),
        "train_words": last.get("words"),
        "train_words_per_second": last.get("words_per_second"),
        "best_score": max((r["score"] for r in records), default=None),
        "components": components,
        "dev": json.loads(metrics.read_text(encoding="utf8")),
    }
    output.write_text(json.dumps(summary, indent=2), encoding="utf8")
    print(json.dumps({k: v for k, v in summary.items() if k != "dev"}, indent=2))


if __name__ == "__main__":
    typer.run(main)
