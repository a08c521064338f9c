"""`spacy ptuning init-config`: a filled copy of a shipped config, with the plugin's recipe.

`spacy init config -p ptuning_textcat` knows the factory but not the recipe (schedule, rates,
epochs, batching); the shipped configs in `spacy_ptuning/configs/` carry it. This writes one of
them, with any overrides (`--paths.backbone ...`), filled with every default as spaCy's
`init fill-config` would, so `spacy train`, `debug config` and `debug data` take it as is.
"""
from pathlib import Path
from typing import Dict

import typer
from spacy import util
from spacy.cli._util import parse_config_overrides
from wasabi import msg

from ._app import app
from .checks import fail, output_file

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def shipped_configs() -> Dict[str, Path]:
    """{name: path} of the shipped configs: textcat, ner, qa, multitask, finetune-textcat, finetune-ner."""
    found = {p.stem: p for p in CONFIGS.glob("*.cfg")}
    found.update({f"finetune-{p.stem}": p for p in (CONFIGS / "finetune").glob("*.cfg")})
    return dict(sorted(found.items()))


def filled_config(name: str, overrides: Dict) -> util.Config:
    """The shipped config `name` with the overrides applied and every default filled in."""
    configs = shipped_configs()
    if name not in configs:
        raise ValueError(f"No shipped config {name!r}: use one of {', '.join(configs)}.")
    config = util.load_config(configs[name], overrides=overrides)
    return util.load_model_from_config(config, auto_fill=True, validate=True).config


@app.command(
    "init-config", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def init_config_cli(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Shipped config: textcat, ner, qa, multitask, finetune-textcat, finetune-ner"),
    output: Path = typer.Argument(..., help="Where to write the config ('-' for stdout)"),
) -> None:
    """Write a shipped config, filled with spaCy's defaults, with overrides such as --paths.backbone X."""
    if str(output) != "-":
        output_file(output, "the config file to write")
    overrides = parse_config_overrides(ctx.args)
    try:
        config = filled_config(name, overrides)
    except ValueError as err:
        fail(str(err))
    if str(output) == "-":
        print(config.to_str())
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    config.to_disk(output)
    msg.good(f"Wrote the {name} config to {output}")
    msg.text(f"python -m spacy train {output} --paths.train ... --paths.dev ...")
