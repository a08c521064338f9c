"""What the commands check of the paths they are given, and how they fail: one line on
stderr that names the path and what was expected, exit status 1, no traceback."""
import importlib.util
import sys
from pathlib import Path
from typing import Any, Dict, NoReturn, Optional

import typer

PIPELINE_FOLDER = "a pipeline folder (config.cfg, saved by nlp.to_disk or spacy train)"
PIPELINE = f"{PIPELINE_FOLDER} or an installed pipeline package"


def fail(message: str) -> NoReturn:
    """Print the message as one line on stderr and exit with status 1."""
    print("✘ " + " ".join(str(message).split()), file=sys.stderr)
    raise typer.Exit(1)


def input_file(path: Path, expected: str) -> Path:
    """An existing file to read."""
    if not path.exists():
        fail(f"{path}: no such file; expected {expected}.")
    if not path.is_file():
        fail(f"{path} is a folder; expected {expected}.")
    return path


def output_folder(path: Path, expected: str) -> Path:
    """A folder to write into (made if missing)."""
    if path.exists() and not path.is_dir():
        fail(f"{path} is a file; expected {expected} (a folder, made if missing).")
    return path


def output_file(path: Path, expected: str) -> Path:
    """A file to write (its folder made if missing)."""
    if path.is_dir():
        fail(f"{path} is a folder; expected {expected} (a file path).")
    if path.parent.exists() and not path.parent.is_dir():
        fail(f"{path.parent} is a file; expected a folder for {expected}.")
    return path


def pipeline_location(name: str) -> str:
    """A pipeline folder (with config.cfg) or the name of an installed package."""
    path = Path(name).expanduser()
    if path.is_file():
        fail(f"{name} is a file; expected {PIPELINE}.")
    if path.is_dir():
        if not (path / "config.cfg").is_file():
            fail(f"{name} has no config.cfg; expected {PIPELINE}.")
        return name
    module = name.replace("-", "_")
    if not module.isidentifier() or importlib.util.find_spec(module) is None:
        fail(f"{name}: no such folder or installed package; expected {PIPELINE}.")
    return name


def load_pipeline(name: str, config: Optional[Dict[str, Any]] = None):
    """spacy.load after pipeline_location's checks; a pipeline that cannot load fails in one line."""
    import spacy

    pipeline_location(name)
    try:
        return spacy.load(name, config=config or {})
    except (OSError, ValueError, ImportError, KeyError) as err:
        fail(f"{name} could not be loaded as a pipeline: {err}")
