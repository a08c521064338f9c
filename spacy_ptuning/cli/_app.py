"""The typer application the command modules attach to."""
import typer

app = typer.Typer(
    name="spacy-ptuning",
    help="P-tuning v2 pipelines for spaCy: convert data, package pipelines and backbones, inspect them.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """P-tuning v2 pipelines for spaCy."""
