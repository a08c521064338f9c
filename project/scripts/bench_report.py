"""benchmark.json -> a Markdown table and a PNG (score vs trainable share, score vs training time)."""
import json
from pathlib import Path

import typer

SCORE_LABEL = {"textcat": "accuracy", "ner": "seqeval F1", "qa": "SQuAD F1"}


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def markdown(summary: dict) -> str:
    lines = [
        f"Setting `{summary['setting']}`, seed {summary['seed']}, backbone `{summary['backbone']}`, "
        f"{summary['machine']}, {summary['wall_seconds'] / 60:.0f} min in all.",
        "",
        "| task | method | dev score | EM | trainable | share | train words/s | s to best | peak RSS | peak GPU | artifact | infer words/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in summary["runs"]:
        score = r["dev_score"]
        em = r["dev_scores"].get("qa_exact")
        gpu = f"{r['peak_gpu_mb']:.0f} MB" if r.get("peak_gpu_mb") else "-"
        lines.append(
            f"| {r['task']} | {r['method']} | {SCORE_LABEL[r['task']]} {score * 100:.1f} | "
            f"{'-' if em is None else f'{em * 100:.1f}'} | {r['trainable_parameters']:,} | {r['trainable_share']:.2%} | "
            f"{r['train_words_per_second']:.0f} | {r['seconds_to_best']:.0f} | {r['peak_rss_mb']:.0f} MB | {gpu} | "
            f"{_size(r['artifact_bytes'])} | {r['inference_words_per_second']:.0f} |"
        )
    qa = [r for r in summary["runs"] if r["task"] == "qa"]
    if qa:
        n, n_has = qa[0]["dev_scores"].get("qa_total"), qa[0]["dev_scores"].get("qa_hasans_n")
        if n and n_has is not None:
            lines += ["", f"QA always-no-answer baseline on the same {n} dev questions: F1 = EM = {(n - n_has) / n * 100:.1f}."]
    memory = summary.get("multitask") or {}
    if memory:
        lines += ["", "| textcat + NER + QA | resident memory | disk (backbone counted once) |", "| --- | --- | --- |"]
        for key, label in (("multitask", "one multitask pipeline (P-tuning v2)"),
                           ("three_single", "three single-task P-tuning v2 pipelines"),
                           ("three_fine_tuned", "three fully fine-tuned pipelines")):
            if key in memory:
                lines.append(f"| {label} | {memory[key]['rss_mb']:.0f} MB | {memory[key]['disk_mb']:.0f} MB |")
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"p-tuning-v2": "o", "prefix-tuning": "s", "prompt-tuning": "^", "head-only": "v", "full-fine-tuning": "*"}
    colors = {"textcat": "tab:blue", "ner": "tab:orange", "qa": "tab:green"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in summary["runs"]:
        style = dict(marker=markers[r["method"]], color=colors[r["task"]], s=70)
        left.scatter(r["trainable_share"] * 100, r["dev_score"] * 100, **style)
        right.scatter(r["seconds_to_best"], r["dev_score"] * 100, **style)
    left.set_xscale("log")
    left.set_xlabel("trainable parameters, % of the backbone (log)")
    right.set_xlabel("seconds to the best dev score")
    for ax in (left, right):
        ax.set_ylabel("dev score (accuracy / seqeval F1 / SQuAD F1)")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker=m, linestyle="", color="grey", label=k) for k, m in markers.items()]
    handles += [plt.Line2D([], [], marker="o", linestyle="", color=c, label=k) for k, c in colors.items()]
    fig.legend(handles=handles, loc="lower center", ncol=8, fontsize=8, frameon=False)
    fig.suptitle(f"spacy-ptuning benchmark ({summary['setting']}, {summary['machine']})", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)


def main(benchmark_json: Path, markdown_out: Path, png_out: Path) -> None:
    summary = json.loads(benchmark_json.read_text(encoding="utf8"))
    markdown_out.write_text(markdown(summary), encoding="utf8")
    plot(summary, png_out)
    print(markdown(summary))


if __name__ == "__main__":
    typer.run(main)
