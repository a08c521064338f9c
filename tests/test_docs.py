"""The docs hold: every registered name is in the configuration reference with each of its
arguments; every `ini` block validates with spaCy's config system; every command shown exists
(`--help` passes); the README stays a user's page."""
import importlib
import inspect
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import spacy
from spacy.util import registry
from thinc.api import Config
from typer.testing import CliRunner

from spacy_ptuning.cli import app

ROOT = Path(__file__).parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / "benchmarks" / "README.md"]
REFERENCE = (ROOT / "docs" / "configuration.md").read_text(encoding="utf8")


def _entry_points():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf8"))["project"]
    for group, entries in project["entry-points"].items():
        if group == "spacy_cli":
            continue
        for name, target in entries.items():
            module, attr = target.split(":")
            yield group, name, getattr(importlib.import_module(module), attr)


def _section(name: str) -> str:
    """The reference's text from the heading naming `name` to the next heading, or the table row."""
    match = re.search(rf"^#+ {re.escape(name)}\b.*?(?=^#+ )", REFERENCE + "\n# end", re.M | re.S)
    if match:
        return match.group(0)
    rows = [line for line in REFERENCE.splitlines() if line.startswith("|") and f"`{name}`" in line]
    return "\n".join(rows)


@pytest.mark.parametrize("group,name,function", list(_entry_points()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_registered_name_and_argument_is_documented(group, name, function):
    section = _section(name)
    assert section, f"{name} ({group}) is not in docs/configuration.md"
    skip = {"nlp", "name"} if group == "spacy_factories" else set()
    for parameter in inspect.signature(function).parameters:
        if parameter not in skip:
            assert f"`{parameter}`" in section, f"{name}: argument {parameter!r} is not documented"


def _blocks(kind: str):
    for path in DOCS:
        text = path.read_text(encoding="utf8")
        for i, block in enumerate(re.findall(rf"^```{kind}\n(.*?)^```", text, re.M | re.S)):
            yield pytest.param(block, id=f"{path.name}-{i}")


def _tiny(node, backbone: str) -> None:
    """Point every encoder block at the tiny backbone with windows it can hold."""
    if isinstance(node, dict):
        if node.get("@architectures") == "spacy_ptuning.PromptEncoder.v1":
            node["backbone"] = backbone
            node["window"], node["stride"] = 48, 16
        for value in node.values():
            _tiny(value, backbone)


def _promises(node, path=()):
    """The top-most registered-function blocks of a config (dicts with an @ key)."""
    if isinstance(node, dict):
        if any(key.startswith("@") for key in node):
            yield path, node
            return
        for key, value in node.items():
            yield from _promises(value, path + (key,))


def _with_parents(block: str) -> str:
    """The block with the parent sections it leaves out (as a snippet of a larger config does)."""
    headers = re.findall(r"^\[([^\]]+)\]", block, re.M)
    missing = []
    for header in headers:
        parts = header.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent not in headers and parent not in missing:
                missing.append(parent)
    return "".join(f"[{parent}]\n" for parent in missing) + block


@pytest.mark.parametrize("block", list(_blocks("ini")))
def test_every_ini_block_validates(block, bert_dir):
    """Component blocks build their component (spaCy validates every argument); other blocks
    resolve their registered functions with validation."""
    config = Config().from_str(_with_parents(block), interpolate=False)
    _tiny(config, str(bert_dir))
    components = config.pop("components", {})
    nlp = spacy.blank(config.get("nlp", {}).get("lang", "en"))
    for name, settings in components.items():
        settings = dict(settings)
        if "factory" in settings:
            nlp.add_pipe(settings.pop("factory"), name=name, config=settings, validate=True)
        else:  # a block of a component's model only
            config.setdefault("models", {})[name] = settings
    for path, promise in _promises(config):
        registry.resolve({"block": promise}, validate=True)


def _commands():
    for path in DOCS:
        text = path.read_text(encoding="utf8")
        for block in re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split("  #")[0].strip()
                if line and not line.startswith("#"):
                    for command in line.split("&&"):
                        yield path.name, command.strip()


def _argv(command: str):
    """What `--help` to run for a shown command: ("ptuning", sub), ("spacy", subs) or ("script", path)."""
    words = shlex.split(re.sub(r"\$\(.*?\)", "X", command))
    if words[:3] == ["python", "-m", "spacy"] or words[:1] == ["spacy"]:
        rest = words[3:] if words[0] == "python" else words[1:]
        if rest[:1] == ["ptuning"]:
            return "ptuning", rest[1]
        return "spacy", rest[:2] if rest[0] in ("project", "debug", "init", "benchmark") else rest[:1]
    if words[0] == "spacy-ptuning" or words[:3] == ["python", "-m", "spacy_ptuning"]:
        return "ptuning", words[1] if words[0] == "spacy-ptuning" else words[3]
    if words[0] == "python" and words[1].endswith(".py"):
        return "script", words[1]
    if words[:1] == ["bash"]:
        return "file", words[1]
    return None, None


def test_every_shown_command_exists():
    """Every `spacy ptuning`, `spacy` and script command the docs show answers `--help`."""
    spacy_help = set()
    for page, command in _commands():
        kind, target = _argv(command)
        if kind == "ptuning":
            result = CliRunner().invoke(app, [target, "--help"])
            assert result.exit_code == 0, f"{page}: {command}: {result.output}"
        elif kind == "spacy":
            spacy_help.add(tuple(target))
        elif kind == "script":
            candidates = [ROOT / target, ROOT / "project" / target]
            assert any(p.exists() for p in candidates), f"{page}: {command}: no such script"
        elif kind == "file":
            assert (ROOT / target).exists(), f"{page}: {command}: no such file"
    for words in sorted(spacy_help):
        out = subprocess.run([sys.executable, "-m", "spacy", *words, "--help"], capture_output=True, text=True,
                             cwd=ROOT / "project")  # where `spacy project` commands run
        assert out.returncode == 0, f"spacy {' '.join(words)} --help: {out.stderr}"


def test_readme_is_a_users_page():
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    assert len(readme.encode("utf8")) < 12_000
    for heading in ("## Install", "## Quickstart", "## Components", "## Results", "## Documentation",
                    "## Development", "## Citation"):
        assert heading in readme
    for page in re.findall(r"\]\((docs/[^)#]+|benchmarks/README.md|CHANGELOG.md|LICENSE)", readme):
        assert (ROOT / page).exists(), page


def test_doc_links_resolve():
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text(encoding="utf8")):
            assert (path.parent / target).exists(), f"{path.name}: broken link {target}"
