"""`spacy-ptuning info`: backbone, prompts, trainable share and artifact sizes of a pipeline."""
import json
from pathlib import Path

import typer
from wasabi import msg

from ..pipeline_info import pipeline_info
from ._app import app
from .checks import load_pipeline


@app.command("info")
def info_cli(
    pipeline: str = typer.Argument(..., help="Pipeline directory or installed package name"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables"),
) -> None:
    """Show the backbone (and its hash), components, prefix lengths, adapter widths, trainable parameters and sizes."""
    path = Path(pipeline)
    nlp = load_pipeline(pipeline)
    info = pipeline_info(nlp, path if path.is_dir() else None)
    if as_json:
        print(json.dumps(info, indent=2))
        return
    msg.divider(f"{pipeline} ({info['lang']}): {', '.join(info['pipeline'])}")
    for where, b in info["backbones"].items():
        msg.info(f"backbone {where}")
        msg.text(f"  {b['model_type']}, {b['layers']} layers x {b['hidden_size']}, {b['parameters']:,} parameters, "
                 f"{b['weights_bytes'] / 1e6:.1f} MB, sha256 {b['fingerprint']}")
    rows = [
        (name, c["factory"], c["prefix_length"], c["mode"], c["adapter_width"] or "-", f"{c['trainable_parameters']:,}",
         f"{c['share_of_backbone']:.2%}", f"{c['artifact_bytes'] / 1e3:.1f} kB")
        for name, c in info["components"].items()
    ]
    msg.table(rows, header=("component", "factory", "prefix", "mode", "adapter", "trainable", "share", "artifact"), divider=True)
