"""The `spacy-ptuning` command line (typer): one module per command."""
from ._app import app
from . import convert  # noqa: F401  (registers the command)

__all__ = ["app"]
