"""The `spacy-ptuning` command line (typer): one module per command."""
from . import convert, evaluate, info, init_config, package, ray_annotate  # noqa: F401  (register the commands)
from ._app import app

__all__ = ["app"]
