"""The benchmark's data sampling, command lines and report arithmetic (no training here)."""
import json
import sys
from pathlib import Path

import pytest
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "project" / "scripts"))

import bench_report  # noqa: E402
import benchmark  # noqa: E402
from bench_data import squad_sample  # noqa: E402

from spacy_ptuning.corpora.squad import read_squad  # noqa: E402


def _squad(path: Path) -> Path:
    articles = []
    for a in range(3):
        paragraphs = []
        for p in range(2):
            context = f"Article {a} paragraph {p} says the answer is blue."
            qas = [
                {"id": f"{a}-{p}-{q}", "question": f"What colour {q}?", "is_impossible": q == 2,
                 "answers": [] if q == 2 else [{"text": "blue", "answer_start": context.index("blue")}]}
                for q in range(3)
            ]
            paragraphs.append({"context": context, "qas": qas})
        articles.append({"title": f"t{a}", "paragraphs": paragraphs})
    path.write_text(json.dumps({"version": "v2.0", "data": articles}), encoding="utf8")
    return path


def test_squad_sample_is_seeded_across_articles_and_readable(tmp_path):
    source = _squad(tmp_path / "src.json")
    first = squad_sample(source, tmp_path / "a.json", 7, seed=0)
    again = squad_sample(source, tmp_path / "b.json", 7, seed=0)
    other = squad_sample(source, tmp_path / "c.json", 7, seed=1)
    assert first.read_text() == again.read_text() != other.read_text()
    records, problems = read_squad(first)
    assert len(records) == 7 and not problems
    assert len({r.qid.split("-")[0] for r in records}) > 1  # drawn across articles
    answerable, _ = read_squad(squad_sample(source, tmp_path / "d.json", 12, seed=0, answerable_only=True))
    assert len(answerable) == 12 and all(r.answers for r in answerable)
    with pytest.raises(SystemExit, match="asked for 13 questions, it has 12"):
        squad_sample(source, tmp_path / "e.json", 13, seed=0, answerable_only=True)
    # size 0 (the full setting): every question, or every answerable one, in the source's order
    every, _ = read_squad(squad_sample(source, tmp_path / "f.json", 0, seed=0))
    assert [r.qid for r in every] == [f"{a}-{p}-{q}" for a in range(3) for p in range(2) for q in range(3)]
    every_answerable, _ = read_squad(squad_sample(source, tmp_path / "g.json", 0, seed=0, answerable_only=True))
    assert len(every_answerable) == 12 and all(r.answers for r in every_answerable)


def test_a_squad_source_may_join_files(tmp_path):
    """squad2-cpu trains on train-v1.1 + train-v2.0: "+" joins SQuAD files into one sample, their
    articles one after the other; asking for more questions than they hold names every file.
    The template is split before its folders are filled in: a folder's own "+" is kept."""
    (tmp_path / "c++").mkdir()
    first, second = _squad(tmp_path / "c++" / "one.json"), _squad(tmp_path / "c++" / "two.json")
    data = benchmark.SETTINGS["squad2-cpu"]["squad2"]
    sources = benchmark.source_paths("{data}/one.json+{data}/two.json", data=str(tmp_path / "c++"))
    assert sources == [first, second]
    joined = benchmark.draw_sample(data, sources, tmp_path / "joined", 0, seed=0)
    records, problems = read_squad(joined)
    assert not problems and [r.qid for r in records] == [f"{a}-{p}-{q}" for _ in range(2)
                                                         for a in range(3) for p in range(2) for q in range(3)]
    assert data.train.count("+") == 1 and data.sample == {"train": 0, "dev": 0}
    with pytest.raises(SystemExit, match=r"one\.json \+ .*two\.json: asked for 37 questions, it has 36"):
        benchmark.draw_sample(data, sources, tmp_path / "more", 37, seed=0)


def test_the_full_setting_keeps_every_sst2_row(tmp_path):
    """sst2_sample with size 0 converts the whole TSV (a limit of 0 would keep nothing)."""
    from bench_data import sst2_sample
    from spacy.tokens import DocBin

    import spacy

    rows = ["sentence\tlabel"] + [f"sentence number {i}\t{i % 2}" for i in range(25)]
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf8")
    out = sst2_sample(tmp_path / "train.tsv", tmp_path / "train.spacy", 0, seed=0)
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert [d.text for d in docs] == [f"sentence number {i}" for i in range(25)]
    assert all(benchmark.SETTINGS["full"][name].sample in ({}, {"train": 0, "dev": 0})
               for name in benchmark.SETTINGS["full"])


def test_run_args_carry_each_methods_recipe(tmp_path, monkeypatch):
    monkeypatch.setitem(benchmark.RECIPES, "ner", {"p-tuning-v2": {"lr": 0.05, "prefix_length": 64,
                                                                   "encoder": {"backbone_dropout": True}, "epoch_factor": 2},
                                                   "full-fine-tuning": {"epoch_factor": 2}})
    data = benchmark.SETTINGS["standard"]["conll"]
    args = benchmark.run_args(data, "p-tuning-v2", "tr", "dv", tmp_path / "r.json", ["--seed", "0"])
    assert args[1:6] == ["ner", "p-tuning-v2", "tr", "dv", str(tmp_path / "r.json")]
    pairs = dict(zip(args[6::2], args[7::2]))
    assert pairs["--lr"] == "0.05" and pairs["--prefix-length"] == "64"
    assert pairs["--encoder"] == "backbone_dropout=true" and pairs["--epochs"] == "6"
    # another prompt method takes P-tuning v2's settings at the data set's own epochs
    other = benchmark.run_args(data, "prompt-tuning", "tr", "dv", tmp_path / "r.json", ["--seed", "0"])
    pairs = dict(zip(other[6::2], other[7::2]))
    assert pairs["--lr"] == "0.05" and pairs["--encoder"] == "backbone_dropout=true" and pairs["--epochs"] == "3"
    fine_tuned = benchmark.run_args(data, "full-fine-tuning", "tr", "dv", tmp_path / "r.json", [])
    assert "--lr" not in fine_tuned and fine_tuned[fine_tuned.index("--ft-lr") + 1] == str(data.ft_lr)
    assert fine_tuned[fine_tuned.index("--ft-head-lr") + 1] == str(data.ft_head_lr)
    assert fine_tuned[fine_tuned.index("--epochs") + 1] == "6"  # its recipe: twice the data set's epochs
    sst2 = benchmark.run_args(benchmark.SETTINGS["standard"]["sst2"], "full-fine-tuning", "t", "d", tmp_path, [])
    assert sst2[sst2.index("--epochs") + 1] == "3"  # no recipe: the data set's own epochs
    squad1 = benchmark.run_args(benchmark.SETTINGS["standard"]["squad1"], "p-tuning-v2", "t", "d", tmp_path, [])
    assert squad1[squad1.index("--score") + 1] == "qa_forced_f1"
    assert "--batch-size" not in squad1  # bench_run's default for QA
    assert pairs["--batch-size"] == "16"  # the data set's own (CoNLL)
    smaller = benchmark.run_args(data, "full-fine-tuning", "t", "d", tmp_path, [], {"batch_size": 8})
    assert smaller[smaller.index("--batch-size") + 1] == "8"  # a recipe's batch size replaces it


def _run(method, score, curve, words_per_second, label="conll", epochs=1):
    """A run record; curve points are (seconds, score) or (seconds, score, epoch)."""
    return {"task": "ner", "label": label, "method": method, "dev_score": score, "score_name": "seqeval_f",
            "train_words_per_second": words_per_second, "epochs": epochs,
            "curve": [{"seconds": p[0], "score": p[1], "step": i, "epoch": p[2] if len(p) > 2 else 0, "words": 0}
                      for i, p in enumerate(curve)]}


def test_comparison_reports_gap_target_speed_equal_epochs_and_equal_time():
    pt2 = _run("p-tuning-v2", 0.84, [(10, 0.5, 0), (100, 0.80, 1), (150, 0.79, 2), (220, 0.84, 3)], 900, epochs=4)
    ft = _run("full-fine-tuning", 0.82, [(10, 0.6, 0), (90, 0.78, 0), (200, 0.82, 1)], 500, epochs=2)
    assert bench_report.score_within(ft, 100) == 0.78 and bench_report.score_by_epoch(pt2, 2) == 0.80
    row = bench_report.comparison([pt2, ft])[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:7] == ["conll", "seqeval_f", "84.0 (4)", "82.0 (2)", "+2.0", ">= -1.5", "yes"]
    assert cells[7].startswith("1.80x (met")
    assert cells[8] == "80.0 / 82.0 at 2 epochs"
    assert cells[9] == "80.0 / 82.0 at 3.3 min"  # the shorter run (full FT, 200 s)
    assert cells[10] == "+4.0 / +4.0"  # best before the last epoch to the end: PT2 0.80 -> 0.84, FT 0.78 -> 0.82


def test_reproduction_table_pairs_runs_by_data_and_method():
    first = {"runs": [_run("p-tuning-v2", 0.8, [], 1), _run("head-only", 0.7, [], 1)]}
    rerun = {"runs": [_run("head-only", 0.7, [], 1), _run("p-tuning-v2", 0.81, [], 1, label="sst2")], "date": "d"}
    rows = bench_report.reproduction(first, rerun)[4:]
    assert rows == ["| conll | head-only | 70.00 | 70.00 | +0.00 |"]  # sst2 has no first run


def test_seed_gaps_give_each_seeds_gap_and_their_mean_and_deviation():
    """Gaps per seed, then mean and sample standard deviation against the target; a data set at
    one seed only, or without full fine-tuning, gets no summary row."""
    seed0 = {"seed": 0, "runs": [_run("p-tuning-v2", 0.80, [], 1), _run("full-fine-tuning", 0.82, [], 1),
                                 _run("p-tuning-v2", 0.86, [], 1, label="sst2")]}
    seed1 = {"seed": 1, "runs": [_run("p-tuning-v2", 0.85, [], 1), _run("full-fine-tuning", 0.85, [], 1),
                                 _run("p-tuning-v2", 0.70, [], 1, label="squad1"),
                                 _run("full-fine-tuning", 0.75, [], 1, label="squad1")]}
    lines = bench_report.seed_gaps([seed0, seed1])
    assert lines[0] == "Gaps over seeds: 0, 1"
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[4:]]
    assert rows[0] == ["conll", "0", "80.0", "82.0", "-2.0", ">= -1.5", ""]
    assert rows[1] == ["conll", "1", "85.0", "85.0", "+0.0", ">= -1.5", ""]
    assert rows[2] == ["squad1", "1", "70.0", "75.0", "-5.0", ">= -3.0", ""]
    # mean -1.0, sample sd sqrt(2) = 1.41
    assert rows[3] == ["conll", "mean of 2", "", "", "-1.0 ± 1.4", ">= -1.5 (met on the mean)", ""]
    assert len(rows) == 4


def test_a_partial_rerun_replaces_its_own_runs_only(tmp_path):
    previous = tmp_path / "benchmark.json"
    old = [_run("p-tuning-v2", 0.7, [], 1), _run("p-tuning-v2", 0.8, [], 1, label="sst2")]
    previous.write_text(json.dumps({"setting": "standard", "seed": 0, "runs": old, "command": "all"}))
    new = [_run("p-tuning-v2", 0.75, [], 1)]
    before = benchmark._read_summary(previous)
    assert benchmark._read_summary(tmp_path / "none.json") is None
    merged, commands = benchmark._keep_other_runs(before, "standard", 0, new, "conll")
    assert [(r["label"], r["dev_score"]) for r in merged] == [("sst2", 0.8), ("conll", 0.75)]
    # runs stay in the setting's data set order, whichever was rerun last
    again, _ = benchmark._keep_other_runs(before, "standard", 0, [_run("p-tuning-v2", 0.9, [], 1, label="sst2")], "sst2")
    assert [(r["label"], r["dev_score"]) for r in again] == [("sst2", 0.9), ("conll", 0.7)]
    assert commands == ["all", "conll"]
    assert benchmark._keep_other_runs(before, "standard", 1, new, "x") == (new, ["x"])  # another seed
    assert benchmark._keep_other_runs(None, "standard", 0, new, "x") == (new, ["x"])  # none before
    # runs finished out of order (several at a time) are listed in the setting's order
    done = [_run("full-fine-tuning", 0.9, [], 1, label="sst2"), _run("p-tuning-v2", 0.8, [], 1),
            _run("p-tuning-v2", 0.85, [], 1, label="sst2")]
    ordered, _ = benchmark._keep_other_runs(None, "standard", 0, done, "x")
    assert [(r["label"], r["method"]) for r in ordered] == [
        ("sst2", "p-tuning-v2"), ("sst2", "full-fine-tuning"), ("conll", "p-tuning-v2")]


def test_squad2_rows_at_the_no_answer_baseline_are_flagged():
    def qa(method, score, forced):
        run = _run(method, score, [(5, score)], 1, label="squad2")
        run.update(task="qa", score_name="qa_f1",
                   dev_scores={"qa_total": 150, "qa_hasans_n": 78, "qa_forced_f1": forced})
        return run

    lines = bench_report.comparison([qa("p-tuning-v2", 0.48, 0.097), qa("full-fine-tuning", 0.50, 0.3)])
    assert lines[-1] == ("- squad2: always-no-answer scores 48.0 on these 150 questions; P-tuning v2 did not beat "
                         "it by more than one question, so the gap is no evidence of answering. Forced-answer "
                         "HasAns F1: P-tuning v2 9.7, full FT 30.0.")
    # a gap within the target (-2 >= -5), but P-tuning v2 answers nothing: not met
    assert "| no: P-tuning v2 at the no-answer baseline |" in lines[2]
    seeds = bench_report.seed_gaps([{"seed": 0, "runs": [qa("p-tuning-v2", 0.48, 0.097), qa("full-fine-tuning", 0.50, 0.3)]}])
    assert seeds[4].endswith("| P-tuning v2 at the no-answer baseline |")
    answering = bench_report.comparison([qa("p-tuning-v2", 0.49, 0.2), qa("full-fine-tuning", 0.50, 0.3)])
    assert "| yes |" in answering[2] and "did not beat" not in answering[-1]
    both = bench_report.comparison([qa("p-tuning-v2", 0.48, 0.097), qa("full-fine-tuning", 0.48, 0.3)])
    assert "| void: both at the no-answer baseline |" in both[2]
    # one question above the baseline (73 of 150 against 72) is no evidence either
    one_more = bench_report.comparison([qa("p-tuning-v2", 73 / 150, 0.18), qa("full-fine-tuning", 73 / 150, 0.26)])
    assert "| void: both at the no-answer baseline |" in one_more[2]


def test_a_baseline_below_the_linear_probe_voids_the_comparison():
    runs = [_run("p-tuning-v2", 0.81, [(5, 0.81)], 2), _run("full-fine-tuning", 0.40, [(9, 0.40)], 1),
            _run("head-only", 0.65, [(3, 0.65)], 3)]
    lines = bench_report.comparison(runs)
    assert "| void: full FT below head only |" in lines[2]
    assert lines[-1].startswith("- conll: full fine-tuning (40.0) scored below the frozen linear probe (65.0)")


def test_every_search_trial_is_a_valid_run(tmp_path):
    """Each trial of bench_search.TRIALS names a standard data set, a method and only settings
    bench_run knows (encoder keys are PromptConfig fields or pooling; full fine-tuning: epochs)."""
    import dataclasses

    import bench_search

    from spacy_ptuning.config import PromptConfig

    known_encoder = {f.name for f in dataclasses.fields(PromptConfig)} | {"pooling"}
    for name, trials in bench_search.TRIALS.items():
        data = benchmark.SETTINGS["standard"][name]
        assert [t["name"] for t in trials].count("base") == 1
        for trial in trials:
            assert "," not in trial["name"]  # --trials takes a comma-separated list
            method, settings = bench_search.trial_settings(data.recipe_key, trial)
            assert method in benchmark.METHODS
            args = benchmark.run_args(data, method, "t", "d", tmp_path / "r.json", [], settings)
            pairs = dict(zip(args[6::2], args[7::2]))
            if "batch_size" in trial:
                assert pairs["--batch-size"] == str(trial["batch_size"])
            assert "train_size" not in trial or data.sample  # only sampled data sets take their own size
            assert set(trial.get("encoder", {})) <= known_encoder, trial
            encoder_args = _option_values(args, "--encoder")
            assert encoder_args == [f"{k}={json.dumps(v)}" for k, v in settings.get("encoder", {}).items()]
            if method == "full-fine-tuning":  # its epochs, batches, data and head change, never its rates
                assert set(trial) <= {"name", "method", "epoch_factor", "batch_size", "train_size", "encoder"}, trial
                assert int(pairs["--epochs"]) == round(data.budget["epochs"] * settings.get("epoch_factor", 1))
                continue
            assert set(trial) <= {"name", "method", "lr", "prefix_length", "epoch_factor", "batch_size",
                                  "train_size", "encoder", "model"}, trial
            model_args = _option_values(args, "--model")
            assert model_args == [f"{k}={json.dumps(v)}" for k, v in settings.get("model", {}).items()]
            assert set(trial.get("model", {})) <= {"@architectures", "null_pooling", "dropout", "hidden_width"}, trial
            assert args[2] == method and float(pairs["--lr"]) == settings["lr"]


def test_a_search_output_keeps_one_seed(tmp_path):
    """A search at another seed than the rows already in its output is refused with the fix;
    the same seed gets those rows back, and a new output none."""
    import bench_search

    done = tmp_path / "search.json"
    assert bench_search.previous_trials(done, 1) == []
    done.write_text(json.dumps({"seed": 0, "trials": [{"data": "sst2", "trial": "base"}]}))
    assert bench_search.previous_trials(done, 0) == [{"data": "sst2", "trial": "base"}]
    with pytest.raises(typer.BadParameter, match=r"seed 0, not --seed 1: .*metrics/search-seed1"):
        bench_search.previous_trials(done, 1)


@pytest.mark.parametrize("args, fragment", [
    (["--setting", "nope"], "'nope': not one of quick, standard"),
    (["--setting", "scaling", "--datasets", "squad1"], "'squad1': setting 'scaling' has sst2, conll"),
])
def test_a_search_refuses_a_setting_or_data_set_it_does_not_have(tmp_path, args, fragment):
    """--setting picks another setting's subsets and budget; an unknown one, or a data set that
    setting lacks, is refused before anything is written."""
    import bench_search
    from typer.testing import CliRunner

    app = typer.Typer()
    app.command()(bench_search.main)
    result = CliRunner().invoke(app, ["--output", str(tmp_path / "out"), *args])
    assert result.exit_code == 2
    assert fragment in " ".join(result.output.split())
    assert not (tmp_path / "out" / "search.json").exists()


def test_a_trial_draws_its_own_larger_training_sample(tmp_path):
    import bench_search

    (tmp_path / "squad").mkdir()
    _squad(tmp_path / "squad" / "train-v1.1.json")
    data = benchmark.SETTINGS["standard"]["squad1"]
    path = bench_search.larger_sample("squad1", data, str(tmp_path), tmp_path / "out", 9, seed=0)
    records, problems = read_squad(Path(path))
    assert len(records) == 9 and not problems and path.endswith("squad1-train-9.json")
    with pytest.raises(typer.BadParameter, match="conll is not sampled"):
        bench_search.larger_sample("conll", benchmark.SETTINGS["standard"]["conll"], str(tmp_path), tmp_path, 9, 0)


def test_squad2_follows_its_own_recipe_and_its_prompt_methods_share_the_head(tmp_path):
    """SQuAD v2.0's runs read RECIPES["squad2"] (rate and head), v1.1's the QA task's; the other
    prompt methods take P-tuning v2's head and rate, full fine-tuning takes neither."""
    squad2, squad1 = benchmark.SETTINGS["standard"]["squad2"], benchmark.SETTINGS["standard"]["squad1"]
    assert (squad2.recipe_key, squad1.recipe_key) == ("squad2", "qa")
    assert benchmark.SETTINGS["full"]["squad2"].recipe_key == "squad2"
    args = benchmark.run_args(squad2, "prompt-tuning", "t", "d", tmp_path / "r.json", [])
    head = benchmark.RECIPES["squad2"]["p-tuning-v2"]["model"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--model"] == [f"{k}={json.dumps(v)}" for k, v in head.items()]
    assert args[args.index("--lr") + 1] == str(benchmark.RECIPES["squad2"]["p-tuning-v2"]["lr"])
    assert "--model" not in benchmark.run_args(squad1, "p-tuning-v2", "t", "d", tmp_path / "r.json", [])
    assert "--model" not in benchmark.run_args(squad2, "full-fine-tuning", "t", "d", tmp_path / "r.json", [])


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(typer.BadParameter, match="--jobs must be at least 1, got 0"):
        benchmark.main(output=tmp_path, setting="standard", jobs=0)


def test_every_recipe_is_a_valid_prompt_config_for_its_method(tmp_path):
    """Each prompt method's encoder settings, as run_args passes them, make a PromptConfig of that
    method's mode (head only has no prompts, so a recipe giving it a prompt rate would fail at
    training time); P-tuning v2's prompts learn above the head's rate on SST-2 only (SQuAD v1.1 went
    back to one rate after seeds 1 and 2)."""
    import bench_run

    from spacy_ptuning.config import PromptConfig

    for setting in benchmark.SETTINGS.values():
        for data in setting.values():
            for method, mode_settings in bench_run.METHODS.items():
                if method == "full-fine-tuning":
                    continue
                args = benchmark.run_args(data, method, "t", "d", tmp_path / "r.json", [])
                encoder = dict(a.split("=", 1) for a in _option_values(args, "--encoder"))
                PromptConfig(**mode_settings, **{k: json.loads(v) for k, v in encoder.items() if k != "pooling"})
    assert benchmark.RECIPES["textcat"]["p-tuning-v2"]["encoder"]["prompt_lr_scale"] > 1
    assert benchmark.RECIPES["qa"]["p-tuning-v2"].get("encoder", {}).get("prompt_lr_scale", 1.0) == 1.0


def _option_values(args, option):
    """The values of a repeatable command-line option, in order."""
    return [args[i + 1] for i, arg in enumerate(args) if arg == option]


def test_the_depth_trial_keeps_a_backbones_first_layers(bert_dir, tmp_path):
    import bench_depth
    import torch
    from transformers import AutoModel

    bench_depth.main(tmp_path / "cut", layers=1, backbone=str(bert_dir))
    full, cut = AutoModel.from_pretrained(str(bert_dir)), AutoModel.from_pretrained(str(tmp_path / "cut"))
    assert len(full.encoder.layer) > 1 and len(cut.encoder.layer) == cut.config.num_hidden_layers == 1
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    with torch.no_grad():
        first = full(ids, output_hidden_states=True).hidden_states[1]
        assert torch.allclose(cut(ids).last_hidden_state, first)
    with pytest.raises(typer.BadParameter, match="--layers must be from 1 to the backbone's"):
        bench_depth.main(tmp_path / "none", layers=0, backbone=str(bert_dir))


def test_families_benchmark_counts_each_methods_parameters(family_dirs, tmp_path):
    """bench_families: the trainable counts are the prompts' (prefix x 2 x layers x hidden) and
    with MAM the adapters' too; every speed is measured; the table has a row per backbone."""
    import bench_families

    rows = [bench_families.measure(name, family_dirs[name], prefix_length=4, batch_size=2, repeats=1)
            for name in ("bert", "distilbert")]
    for row in rows:
        layers, hidden = row["layers"], row["hidden"]
        prompts = 4 * 2 * layers * hidden
        adapters = layers * (hidden * 32 + 32 + 32 * hidden + hidden)
        assert row["p-tuning-v2_trainable"] == prompts
        assert row["mam_trainable"] == prompts + adapters
        assert row["mam_share"] == pytest.approx((prompts + adapters) / row["parameters"])
        assert all(row[f"{m}_words_per_second"] > 0 for m in ("frozen", "p-tuning-v2", "mam"))
    assert [r["family"] for r in rows] == ["bert", "distilbert"]
    table = bench_families.markdown(rows, {"date": "d", "machine": "m", "threads": 1, "prefix_length": 4,
                                           "batch_size": 2, "repeats": 1})
    table_lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(table_lines) == 2 + len(rows)  # header, rule, one row per backbone
    assert table_lines[2].startswith(f"| bert | bert | {rows[0]['parameters']:,} |") and table_lines[3].startswith("| distilbert |")
