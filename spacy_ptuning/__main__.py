"""`python -m spacy_ptuning ...`: the same CLI as the `spacy-ptuning` script."""
from .cli import app

app()
