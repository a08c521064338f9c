"""`spacy-ptuning package` and `spacy-ptuning backbone`: installable wheels."""
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..backbone import BackboneError, resolve_backbone_path
from ..packaging import PackagingError, build_backbone_package, build_pipeline_package
from ._app import app
from .checks import PIPELINE_FOLDER, fail, output_folder

BACKBONE = "a Hugging Face model folder (config.json, weights, tokenizer files) or an installed backbone package"


def pipeline_folder(path: Path) -> None:
    """A saved pipeline folder (packages are made from folders, not from installed packages)."""
    if not path.exists():
        fail(f"{path}: no such folder; expected {PIPELINE_FOLDER}.")
    if not path.is_dir():
        fail(f"{path} is a file; expected {PIPELINE_FOLDER}.")


class Kind(str, Enum):
    full = "full"
    slim = "slim"


@app.command("package")
def package_cli(
    pipeline_dir: Path = typer.Argument(..., help="Trained pipeline (e.g. training/ner/model-best)"),
    output_dir: Path = typer.Argument(..., help="Folder for the wheel"),
    name: str = typer.Option(..., "--name", "-n", help="Package name, used by spacy.load(name)"),
    version: str = typer.Option("0.1.0", "--version", "-v", help="Package version"),
    kind: Kind = typer.Option(Kind.full, "--kind", "-k", help="full: backbone included; slim: prompts + heads, backbone package required"),
    backbone_package: Optional[str] = typer.Option(None, "--backbone-package", "-b", help="Slim only: the installed backbone package to depend on"),
) -> None:
    """Build an installable wheel of a trained pipeline (full or slim)."""
    pipeline_folder(pipeline_dir)
    output_folder(output_dir, "the folder for the wheel")
    try:
        wheel = build_pipeline_package(
            pipeline_dir, output_dir, name, version, slim=kind == Kind.slim,
            backbone_package=backbone_package, progress=msg.text,
        )
    except (PackagingError, BackboneError) as err:
        fail(str(err))
    msg.good(f"Wrote {wheel} ({wheel.stat().st_size / 1e6:.2f} MB). Install: pip install {wheel}")


@app.command("backbone")
def backbone_cli(
    model: str = typer.Argument(..., help="Hugging Face model directory (save_pretrained), or an installed backbone package"),
    output_dir: Path = typer.Argument(..., help="Folder for the wheel"),
    name: str = typer.Option(..., "--name", "-n", help="Package name, usable as a backbone setting"),
    version: str = typer.Option("0.1.0", "--version", "-v", help="Package version"),
) -> None:
    """Wrap a local model directory (or the model inside an installed package) into an
    installable backbone package with no dependencies."""
    if Path(model).expanduser().is_file():
        fail(f"{model} is a file; expected {BACKBONE}.")
    output_folder(output_dir, "the folder for the wheel")
    try:
        model_dir = resolve_backbone_path(model)
        wheel = build_backbone_package(model_dir, output_dir, name, version, progress=msg.text)
    except (PackagingError, BackboneError) as err:
        fail(str(err))
    msg.good(f"Wrote {wheel} ({wheel.stat().st_size / 1e6:.2f} MB). Use it as backbone = \"{name}\" once installed.")
