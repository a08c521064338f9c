"""spaCy's `spacy_cli` entry point: every command as `spacy ptuning <command>`.

spaCy imports this module when its CLI starts (`registry.cli.get_all()`), and only then; the
`spacy-ptuning` script stays as an alias of the same typer application.
"""
from spacy.cli._util import app as spacy_app

from . import app as ptuning_cli

spacy_app.add_typer(ptuning_cli, name="ptuning", help="spacy-ptuning: P-tuning v2 pipelines (convert, "
                    "evaluate, package, info, init-config, ray-annotate)")
