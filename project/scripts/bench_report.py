"""benchmark.json -> Markdown tables and a PNG.

Every setting: one row per run (score, trainable share, speed, memory, size). Settings with
curves (standard, full): P-tuning v2 against full fine-tuning per data set, at equal epochs
and at equal wall-clock time, against the targets, and the dev-score curves of every run.
"""
import json
from pathlib import Path
from typing import Dict, List, Tuple

import typer

SCORE_LABEL = {"textcat": "accuracy", "ner": "seqeval F1", "qa": "SQuAD F1"}
# the least P-tuning v2 minus full fine-tuning dev score aimed for, per data set
TARGETS = {"sst2": -0.005, "conll": -0.015, "squad1": -0.03, "squad2": -0.05}
SPEED_TARGET = 1.6  # P-tuning v2 training words/s over full fine-tuning's
METHODS = ("p-tuning-v2", "mam", "adapters", "prefix-tuning", "prompt-tuning", "head-only", "full-fine-tuning")


def _label(run: dict) -> str:
    return run.get("label", run["task"])


def _labels(runs: List[dict]) -> List[str]:
    return list(dict.fromkeys(_label(r) for r in runs))


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def score_within(run: dict, seconds: float) -> float:
    """The best dev score on a run's training curve reached within `seconds` of training."""
    reached = [p["score"] for p in run.get("curve", []) if p["seconds"] <= seconds]
    return max(reached) if reached else float("nan")


def score_by_epoch(run: dict, epochs: int) -> float:
    """The best dev score on a run's training curve within its first `epochs` epochs."""
    reached = [p["score"] for p in run.get("curve", []) if p["epoch"] < epochs]
    return max(reached) if reached else float("nan")


def last_epoch_gain(run: dict) -> float:
    """How much a run's best dev score rose in its last epoch: about 0 once it has converged."""
    epochs = run.get("epochs", 0)
    return score_by_epoch(run, epochs) - score_by_epoch(run, epochs - 1) if epochs > 1 else float("nan")


def pt2_ft_pairs(runs: List[dict]) -> List[Tuple[str, dict, dict]]:
    """(data set, P-tuning v2 run, full fine-tuning run) for each data set where both have a dev
    score, in the runs' order."""
    by = {(_label(r), r["method"]): r for r in runs}
    pairs = [(label, by.get((label, "p-tuning-v2")), by.get((label, "full-fine-tuning"))) for label in _labels(runs)]
    return [(label, pt2, ft) for label, pt2, ft in pairs
            if pt2 and ft and pt2["dev_score"] is not None and ft["dev_score"] is not None]


def _target_cell(target) -> str:
    return "-" if target is None else f">= {target * 100:+.1f}"


def comparison(runs: List[dict]) -> List[str]:
    """P-tuning v2 (its recipe's epochs) against full fine-tuning per data set, with the targets;
    then both at equal epochs (P-tuning v2's curve within full FT's epochs) and at equal time
    (each curve's best within the shorter run's training time), and how much each rose in its last
    epoch (convergence)."""
    by = {(_label(r), r["method"]): r for r in runs}
    lines = [
        "| data | dev score | P-tuning v2 (epochs) | full FT (epochs) | gap | target | met | train words/s PT2 / FT | "
        "equal epochs: PT2 / FT | equal time: PT2 / FT | last-epoch gain PT2 / FT |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes: List[str] = []
    for label, pt2, ft in pt2_ft_pairs(runs):
        gap = pt2["dev_score"] - ft["dev_score"]
        target = TARGETS.get(label)
        speed = pt2["train_words_per_second"] / ft["train_words_per_second"]
        at = min(r["curve"][-1]["seconds"] if r.get("curve") else 0.0 for r in (pt2, ft))
        epochs = ft.get("epochs", 0)
        met = "-" if target is None else ("yes" if gap >= target else "no")
        probe = by.get((label, "head-only"))
        if probe and probe["dev_score"] is not None and ft["dev_score"] < probe["dev_score"]:
            met = "void: full FT below head only"  # an unconverged baseline, not a result
            notes.append(f"- {label}: full fine-tuning ({ft['dev_score'] * 100:.1f}) scored below the frozen linear "
                         f"probe ({probe['dev_score'] * 100:.1f}); it is not a converged baseline and the gap means nothing.")
        baseline_note, at_baseline = _baseline_note(label, pt2, ft)
        if len(at_baseline) == 2:
            met = "void: both at the no-answer baseline"
        elif "P-tuning v2" in at_baseline:  # a gap within the target, but it learned not to answer
            met = "no: P-tuning v2 at the no-answer baseline"
        notes += baseline_note
        lines.append(
            f"| {label} | {pt2['score_name']} | {pt2['dev_score'] * 100:.1f} ({pt2.get('epochs', '?')}) | "
            f"{ft['dev_score'] * 100:.1f} ({epochs or '?'}) | "
            f"{gap * 100:+.1f} | {_target_cell(target)} | {met} | "
            f"{speed:.2f}x ({'met' if speed >= SPEED_TARGET else 'not met'}: >= {SPEED_TARGET}x) | "
            f"{score_by_epoch(pt2, epochs) * 100:.1f} / {score_by_epoch(ft, epochs) * 100:.1f} at {epochs} epochs | "
            f"{score_within(pt2, at) * 100:.1f} / {score_within(ft, at) * 100:.1f} at {at / 60:.1f} min | "
            f"{last_epoch_gain(pt2) * 100:+.1f} / {last_epoch_gain(ft) * 100:+.1f} |"
        )
    return lines + ([""] + notes if notes else [])


def _baseline_note(label: str, pt2: dict, ft: dict) -> Tuple[List[str], List[str]]:
    """SQuAD v2.0: where a method scores at the always-no-answer baseline, its gap says nothing
    about answering; a note with the forced-answer HasAns F1 of both, and the methods that sit
    there ("P-tuning v2", "full FT"). At the baseline means at most one question's worth (1/n)
    above it: one lucky answer among n is no evidence of having learned to answer."""
    scores = pt2.get("dev_scores", {})
    n, n_has = scores.get("qa_total"), scores.get("qa_hasans_n")
    if pt2["score_name"] != "qa_f1" or not n or n_has is None or n_has == n:
        return [], []
    baseline = (n - n_has) / n
    at_baseline = [name for name, run in (("P-tuning v2", pt2), ("full FT", ft))
                   if run["dev_score"] <= baseline + 1 / n + 1e-9]
    return [
        f"- {label}: always-no-answer scores {baseline * 100:.1f} on these {n} questions"
        + (f"; {' and '.join(at_baseline)} did not beat it by more than one question, so the gap is no "
           "evidence of answering" if at_baseline else "")
        + f". Forced-answer HasAns F1: P-tuning v2 {pt2['dev_scores'].get('qa_forced_f1', 0) * 100:.1f}, "
        f"full FT {ft['dev_scores'].get('qa_forced_f1', 0) * 100:.1f}."
    ], at_baseline


def markdown(summary: dict) -> str:
    order = _labels(summary["runs"])
    runs = sorted(summary["runs"], key=lambda r: (order.index(_label(r)), METHODS.index(r["method"])))
    lines = [
        f"Setting `{summary['setting']}`, seed {summary['seed']}, backbone `{summary['backbone']}`, "
        f"{summary['machine']}, {summary.get('date', '')}, {summary['wall_seconds'] / 60:.0f} min in all.",
    ]
    commands = summary.get("commands") or ([summary["command"]] if summary.get("command") else [])
    if commands:
        lines += ["", "Commands (in `project/`, in this order): " + "; ".join(f"`{c}`" for c in commands)]
    if any(r.get("curve") for r in runs) and summary["setting"] != "quick":
        lines += ["", *comparison(runs)]
    lines += [
        "",
        "| data | method | epochs | train examples | dev score | EM | trainable | share | train words/s | "
        "train min | s to best | peak RSS | peak GPU | artifact | infer words/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        score = r["dev_score"]
        em = r["dev_scores"].get("qa_exact")
        gpu = f"{r['peak_gpu_mb']:.0f} MB" if r.get("peak_gpu_mb") else "-"
        minutes = r.get("train_seconds", 0) / 60
        lines.append(
            f"| {_label(r)} | {r['method']} | {r['epochs']} | {r['train_examples']:,} | "
            f"{r.get('score_name', SCORE_LABEL[r['task']])} {'-' if score is None else f'{score * 100:.1f}'} | "
            f"{'-' if em is None else f'{em * 100:.1f}'} | {r['trainable_parameters']:,} | {r['trainable_share']:.2%} | "
            f"{r['train_words_per_second']:.0f} | {minutes:.1f} | {r['seconds_to_best']:.0f} | {r['peak_rss_mb']:.0f} MB | "
            f"{gpu} | {_size(r['artifact_bytes'])} | {r['inference_words_per_second']:.0f} |"
        )
    for label in _labels(runs):
        qa = [r for r in runs if _label(r) == label and r["task"] == "qa"]
        n = qa[0]["dev_scores"].get("qa_total") if qa else None
        n_has = qa[0]["dev_scores"].get("qa_hasans_n") if qa else None
        if n and n_has is not None and n_has < n:
            lines += ["", f"{label}: always-no-answer baseline on the same {n} dev questions: "
                          f"F1 = EM = {(n - n_has) / n * 100:.1f}."]
    memory = summary.get("multitask") or {}
    if memory:
        lines += ["", "| textcat + NER + QA | resident memory | disk (backbone counted once) |", "| --- | --- | --- |"]
        for key, label in (("multitask", "one multitask pipeline (P-tuning v2)"),
                           ("three_single", "three single-task P-tuning v2 pipelines"),
                           ("three_fine_tuned", "three fully fine-tuned pipelines")):
            if key in memory:
                lines.append(f"| {label} | {memory[key]['rss_mb']:.0f} MB | {memory[key]['disk_mb']:.0f} MB |")
    return "\n".join(lines) + "\n"


MARKERS = {"p-tuning-v2": "o", "mam": "D", "adapters": "P", "prefix-tuning": "s", "prompt-tuning": "^", "head-only": "v", "full-fine-tuning": "*"}
COLORS = {"p-tuning-v2": "tab:green", "mam": "tab:olive", "adapters": "tab:cyan", "prefix-tuning": "tab:red", "prompt-tuning": "tab:purple",
          "head-only": "tab:orange", "full-fine-tuning": "tab:blue"}


def plot(summary: dict, path: Path) -> None:
    """Curves (dev score over training minutes) per data set when runs have them, else a scatter
    of score against trainable share and time to the best score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = summary["runs"]
    labels = _labels(runs)
    if all(r.get("curve") for r in runs):
        fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 3.8), squeeze=False)
        for ax, label in zip(axes[0], labels):
            for r in sorted((r for r in runs if _label(r) == label), key=lambda r: METHODS.index(r["method"])):
                xs = [p["seconds"] / 60 for p in r["curve"]]
                ax.plot(xs, [p["score"] * 100 for p in r["curve"]], marker=MARKERS[r["method"]], markersize=3,
                        color=COLORS[r["method"]], label=r["method"])
            ax.set_title(label, fontsize=10)
            ax.set_xlabel("training minutes")
            ax.set_ylabel("dev score")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
    else:
        colors: Dict[str, str] = dict(zip(labels, ("tab:blue", "tab:orange", "tab:green", "tab:red")))
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        for r in runs:
            style = dict(marker=MARKERS[r["method"]], color=colors[_label(r)], s=70)
            left.scatter(r["trainable_share"] * 100, r["dev_score"] * 100, **style)
            right.scatter(r["seconds_to_best"], r["dev_score"] * 100, **style)
        left.set_xscale("log")
        left.set_xlabel("trainable parameters, % of the backbone (log)")
        right.set_xlabel("seconds to the best dev score")
        for ax in (left, right):
            ax.set_ylabel("dev score")
            ax.grid(alpha=0.3)
    fig.suptitle(f"spacy-ptuning benchmark ({summary['setting']}, {summary['machine']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def reproduction(summary: dict, rerun: dict) -> List[str]:
    """The dev scores of a second run (same setting and seed) next to the first's, run by run."""
    first = {(_label(r), r["method"]): r["dev_score"] for r in summary["runs"]}
    lines = [
        f"Rerun on {rerun.get('date', '')} ({rerun.get('machine', '')}): "
        + "; ".join(f"`{c}`" for c in rerun.get("commands") or [rerun.get("command", "")]),
        "",
        "| data | method | dev score, first run | rerun | difference |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rerun["runs"]:
        before = first.get((_label(r), r["method"]))
        if before is None or r["dev_score"] is None:
            continue
        lines.append(f"| {_label(r)} | {r['method']} | {before * 100:.2f} | {r['dev_score'] * 100:.2f} | "
                     f"{(r['dev_score'] - before) * 100:+.2f} |")
    return lines


def seed_gaps(summaries: List[dict]) -> List[str]:
    """P-tuning v2 against full fine-tuning per data set over runs of one setting at several
    seeds (the seed draws the sampled subsets and initialises and shuffles the training): each
    seed's scores and gap (noted where a method sits at SQuAD v2.0's no-answer baseline), then
    the gaps' mean and sample standard deviation against the target. Only data sets with both
    methods at two seeds or more get a summary row."""
    lines = [
        "Gaps over seeds: " + ", ".join(str(s["seed"]) for s in summaries),
        "",
        "| data | seed | P-tuning v2 | full FT | gap | target | note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    gaps: Dict[str, List[float]] = {}
    for summary in summaries:
        for label, pt2, ft in pt2_ft_pairs(summary["runs"]):
            gap = pt2["dev_score"] - ft["dev_score"]
            gaps.setdefault(label, []).append(gap)
            at_baseline = _baseline_note(label, pt2, ft)[1]
            note = f"{' and '.join(at_baseline)} at the no-answer baseline" if at_baseline else ""
            lines.append(f"| {label} | {summary['seed']} | {pt2['dev_score'] * 100:.1f} | {ft['dev_score'] * 100:.1f} | "
                         f"{gap * 100:+.1f} | {_target_cell(TARGETS.get(label))} | {note} |")
    for label, values in gaps.items():
        if len(values) < 2:
            continue
        mean = sum(values) / len(values)
        sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
        target = TARGETS.get(label)
        met = "" if target is None else f" ({'met' if mean >= target else 'not met'} on the mean)"
        lines.append(f"| {label} | mean of {len(values)} | | | {mean * 100:+.1f} ± {sd * 100:.1f} | "
                     f"{_target_cell(target)}{met} | |")
    return lines


def main(
    benchmark_json: Path, markdown_out: Path, png_out: Path,
    rerun: Path = typer.Option(None, help="benchmark.json of a second run with the same seed: adds a reproduction table."),
    seeds: List[Path] = typer.Option(
        [], help="benchmark.json of the same setting at another seed (repeatable): adds the gaps per seed, "
                 "their mean and standard deviation."),
) -> None:
    summary = json.loads(benchmark_json.read_text(encoding="utf8"))
    text = markdown(summary)
    if rerun is not None:
        text += "\n" + "\n".join(reproduction(summary, json.loads(rerun.read_text(encoding="utf8")))) + "\n"
    if seeds:
        others = [json.loads(path.read_text(encoding="utf8")) for path in seeds]
        if any(o.get("setting") != summary.get("setting") for o in others):
            raise typer.BadParameter(f"--seeds: every file must be a {summary.get('setting')!r} run, as {benchmark_json} is")
        text += "\n" + "\n".join(seed_gaps([summary] + others)) + "\n"
    markdown_out.write_text(text, encoding="utf8")
    plot(summary, png_out)
    print(text)


if __name__ == "__main__":
    typer.run(main)
