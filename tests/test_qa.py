"""ptuning_qa: overfitting and round trips, windows, offsets, bad input, Chinese, spacy train."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train as spacy_train
from spacy.training import Example

from spacy_ptuning import answer_question
from spacy_ptuning.layers.encoder import get_torch_module
from spacy_ptuning.qa.extensions import ANSWER_KEY

from util import encoder_cfg, train

CONFIG = Path(__file__).parent.parent / "spacy_ptuning" / "configs" / "qa.cfg"
# (question, context, answer or None)
DATA = [
    ("who visited london", "john visited london and mary works in paris", "john"),
    ("where does mary work", "john visited london and mary works in paris", "paris"),
    ("who said what", "acme corp said the plot was good", "acme corp"),
    ("what is red", "the movie was good and the story was fun", None),
]


def qa_examples(nlp, data=DATA):
    out = []
    for question, context, answer in data:
        predicted = nlp.make_doc(context)
        predicted._.question = question
        reference = nlp.make_doc(context)
        reference._.question = question
        reference._.gold_answers = [answer] if answer else []
        if answer:
            start = context.index(answer)
            reference.spans[ANSWER_KEY] = [reference.char_span(start, start + len(answer))]
        out.append(Example(predicted, reference))
    return out


def qa_nlp(backbone, lang="en", **enc):
    nlp = spacy.blank(lang)
    cfg = encoder_cfg(backbone, **{"window": 48, "stride": 16, "text_pair": "question", **enc})
    nlp.add_pipe("ptuning_qa", config={"model": {"encoder": cfg}})
    return nlp


def _answers(nlp, data=DATA):
    return [answer_question(nlp, q, c) for q, c, _ in data]


def test_overfitting_IO(backbone_dir, tmp_path):
    nlp = qa_nlp(backbone_dir)
    loss = train(nlp, qa_examples(nlp), n_iter=150, learn_rate=0.05)
    assert loss < 0.1  # every family; the answers below must then be exact
    results = _answers(nlp)
    assert [r["answer"] for r in results] == [a for _, _, a in DATA]
    for (q, context, _), r in zip(DATA, results):
        if r["answer"] is not None:  # exact character offsets of the context
            assert context[r["start_char"] : r["end_char"]] == r["answer"]
            assert r["score"] > r["no_answer_score"]
        assert len(r["alternatives"]) == 5
    nlp.to_disk(tmp_path / "qa")
    assert sorted(p.name for p in (tmp_path / "qa" / "ptuning_qa").iterdir()) == ["adapter.safetensors", "cfg"]
    loaded = spacy.load(tmp_path / "qa")
    assert _answers(loaded) == results
    scores = loaded.evaluate(qa_examples(loaded))
    assert scores["qa_exact"] == 1.0 and scores["qa_noans_f1"] == 1.0


def test_answer_in_last_window_of_long_context(bert_dir):
    """Contexts several windows long; the answer sits at the very end."""
    filler = "the movie was good and the story was fun but the plot was bad " * 4
    data = [
        ("who visited paris", filler + "then john visited paris", "john"),
        ("who visited london", filler + "then mary visited london", "mary"),
    ]
    nlp = qa_nlp(bert_dir, window=32, stride=16)
    train(nlp, qa_examples(nlp, data), n_iter=120, learn_rate=0.02)
    doc = nlp.make_doc(data[0][1])
    doc._.question = data[0][0]
    batch = nlp.get_pipe("ptuning_qa").model.layers[0].attrs["build_batch"](
        get_torch_module(nlp.get_pipe("ptuning_qa").model).backbone, [doc]
    )
    assert len(batch.windows) >= 4
    assert [r["answer"] for r in _answers(nlp, data)] == ["john", "mary"]
    assert answer_question(nlp, *data[0][:2])["start_char"] == data[0][1].index("john visited paris")


def test_bad_questions_and_empty_context(bert_dir):
    nlp = qa_nlp(bert_dir)
    train(nlp, qa_examples(nlp), n_iter=2)
    for question in ("", "   "):
        doc = nlp.make_doc("john visited london")
        doc._.question = question
        with pytest.raises(ValueError, match=r"Doc._.question is .* set it to a non-blank string before running the pipeline"):
            nlp(doc)
    with pytest.warns(UserWarning, match=r"has \d+ wordpieces; with window=48 only its first 21 are read"):
        long = answer_question(nlp, "who " * 30, "john visited london")  # cut, as max_query_length does
    assert isinstance(long["no_answer_score"], float)
    unasked = nlp("john visited london")  # no question set: the QA component leaves the doc alone
    assert unasked._.answers is None and unasked._.answer is None and "answer" not in unasked.spans
    empty = answer_question(nlp, "who visited london", "")
    assert empty["answer"] is None and empty["alternatives"] == [] and isinstance(empty["no_answer_score"], float)


def test_null_threshold_controls_abstention(bert_dir):
    nlp = qa_nlp(bert_dir)
    train(nlp, qa_examples(nlp), n_iter=60, learn_rate=0.02)
    qa = nlp.get_pipe("ptuning_qa")
    qa.cfg["null_threshold"] = float("-inf")  # SQuAD 1.1 style: always answer
    assert answer_question(nlp, *DATA[3][:2])["answer"] is not None
    qa.cfg["null_threshold"] = float("inf")  # never answer
    assert all(r["answer"] is None for r in _answers(nlp))


def test_chinese_context_with_character_tokens(bert_dir):
    data = [
        ("在哪", "我们在北京的大学", "北京"),
        ("是什么", "中国人民银行是公司", "公司"),
        ("有什么", "上海有大学", "大学"),
    ]
    nlp = qa_nlp(bert_dir, lang="zh")
    train(nlp, qa_examples(nlp, data), n_iter=100, learn_rate=0.02)
    results = _answers(nlp, data)
    assert [r["answer"] for r in results] == ["北京", "公司", "大学"]
    assert [(r["start_char"], r["end_char"]) for r in results] == [(3, 5), (7, 9), (3, 5)]


def test_spacy_train_from_squad_json(bert_dir, tmp_path, capsys):
    paragraphs = [
        {"context": c, "qas": [
            {"id": f"q{i}", "question": q, "is_impossible": a is None,
             "answers": [] if a is None else [{"text": a, "answer_start": c.index(a)}]}
        ]}
        for i, (q, c, a) in enumerate(DATA)
    ]
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": paragraphs}]}), encoding="utf8")
    overrides = {
        "paths.train": str(path), "paths.dev": str(path), "paths.backbone": str(bert_dir),
        "components.ptuning_qa.model.encoder.prefix_length": 4,
        "components.ptuning_qa.model.encoder.window": 48,
        "components.ptuning_qa.model.encoder.stride": 16,
        "components.ptuning_qa.model.encoder.prefix_dropout": 0.0,
        "training.dropout": 0.0, "training.max_epochs": 0, "training.max_steps": 100, "training.eval_frequency": 50,
        "training.batcher.size": 4,
    }
    spacy_train(CONFIG, tmp_path / "out", overrides=overrides)
    log = capsys.readouterr().out
    # forced-answer HasAns F1 and best-threshold F1 (model selection) next to the overall score
    assert re.search(r"QA_FORCED_F1\s+QA_BEST_F1\s+QA_F1\s+QA_HASANS_F1\s+QA_NOANS_F1", log), log
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert [r["answer"] for r in _answers(nlp)] == [a for _, _, a in DATA]
    # the saved null threshold is the one that maximised F1 at the last evaluation
    dev = qa_examples(nlp)
    threshold = nlp.get_pipe("ptuning_qa").cfg["null_threshold"]
    nlp.get_pipe("ptuning_qa").cfg["null_threshold"] = 0.0
    assert threshold != 0.0 and threshold == pytest.approx(nlp.evaluate(dev)["qa_best_f1_thresh"])
    # a threshold given at load time wins over the saved, calibrated one; none given keeps it
    for given in (-1e9, 2.5):  # (a config holds no infinities: -1e9 answers always)
        overridden = spacy.load(tmp_path / "out" / "model-last",
                                config={"components": {"ptuning_qa": {"null_threshold": given}}})
        assert overridden.get_pipe("ptuning_qa").cfg["null_threshold"] == given
        assert overridden.config["components"]["ptuning_qa"]["null_threshold"] == given
    assert spacy.load(tmp_path / "out" / "model-last").get_pipe("ptuning_qa").cfg["null_threshold"] == threshold


def test_answer_that_cannot_be_placed_is_not_trained_as_no_answer(bert_dir):
    nlp = qa_nlp(bert_dir)
    (eg,) = qa_examples(nlp, [("who", "john visited london", None)])
    eg.reference._.gold_answers = ["rome"]  # answer text not in the context: the reader warned
    nlp.initialize(lambda: [eg])
    qa = nlp.get_pipe("ptuning_qa")
    logits = qa.model.predict([eg.predicted])
    loss, (d,) = qa.get_loss([eg], logits)
    assert loss == 0.0 and not d.any()
    (unanswerable,) = qa_examples(nlp, [("who", "john visited london", None)])
    loss, (d,) = qa.get_loss([unanswerable], logits)
    assert loss > 0.0 and d[0, 0] < 0  # a true "no answer" example pulls row 0 up


def _many_questions():
    """36 answerable questions over 36 contexts; the clause order varies, so
    answering needs the question, not a fixed position."""
    names, places = ["john", "mary", "acme corp"], ["london", "paris", "new york"]
    data = []
    for i, (n1, n2) in enumerate((a, b) for a in names for b in names if a != b):
        for j, (p1, p2) in enumerate((a, b) for a in places for b in places if a != b):
            visit, work = f"{n1} visited {p1}", f"{n2} works in {p2}"
            context = f"{visit} and {work}" if (i + j) % 2 else f"{work} and {visit}"
            if (i * 6 + j) % 2:
                data.append((f"who visited {p1}", context, n1))
            else:
                data.append((f"where does {n2} work", context, p2))
    return data


def test_overfitting_a_few_dozen_questions_IO(bert_dir, tmp_path):
    """spaCy-style overfitting: HasAns F1 >= 90 on the training questions, before and after a disk round trip."""
    data = _many_questions()
    assert len(data) == 36
    nlp = qa_nlp(bert_dir)
    train(nlp, qa_examples(nlp, data), n_iter=250, learn_rate=0.03)
    scores = nlp.evaluate(qa_examples(nlp, data))
    assert scores["qa_hasans_f1"] >= 0.9 and scores["qa_forced_f1"] >= 0.9
    nlp.to_disk(tmp_path / "qa")
    loaded = spacy.load(tmp_path / "qa")
    assert loaded.evaluate(qa_examples(loaded, data))["qa_hasans_f1"] == scores["qa_hasans_f1"]
    assert _answers(loaded, data) == _answers(nlp, data)


def test_spacy_evaluate_on_qa_docbin_fails_loudly_and_the_cli_scores_it(bert_dir, tmp_path):
    """`spacy evaluate` drops doc._.question (spaCy's Corpus makes predicted docs from text):
    an error that names the fix, never a table of silent abstentions."""
    from spacy.tokens import DocBin
    from typer.testing import CliRunner

    from spacy_ptuning.cli import app

    nlp = qa_nlp(bert_dir)
    train(nlp, qa_examples(nlp), n_iter=40, learn_rate=0.05)
    nlp.to_disk(tmp_path / "qa")
    db = DocBin(store_user_data=True)
    for eg in qa_examples(nlp):
        db.add(eg.reference)
    db.to_disk(tmp_path / "dev.spacy")
    run = subprocess.run([sys.executable, "-m", "spacy", "evaluate", str(tmp_path / "qa"), str(tmp_path / "dev.spacy")],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "never asked" in run.stderr and "spacy-ptuning evaluate" in run.stderr
    without = DocBin(store_user_data=False)  # the questions are user data: this file lost them
    for eg in qa_examples(nlp):
        without.add(eg.reference)
    without.to_disk(tmp_path / "no-user-data.spacy")
    run = subprocess.run([sys.executable, "-m", "spacy", "evaluate", str(tmp_path / "qa"),
                          str(tmp_path / "no-user-data.spacy")], capture_output=True, text=True)
    assert run.returncode != 0
    assert "saved without user data" in run.stderr and "store_user_data=True" in run.stderr
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "qa"), str(tmp_path / "dev.spacy"), "--task", "qa",
                                      "--output", str(tmp_path / "scores.json")])
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "scores.json").read_text())
    expected = nlp.evaluate(qa_examples(nlp))
    assert scores["qa_total"] == len(DATA) and scores["qa_f1"] == pytest.approx(expected["qa_f1"])


@pytest.mark.parametrize("null_pooling,hidden_width", [("cls", 0), ("mean", 0), ("cls", 3)])
def test_span_and_null_head_gradients(null_pooling, hidden_width):
    """SpanExtractor.v2's head: token rows from the span scorer (linear, or a hidden GELU
    layer and a linear one), row 0 from the null classifier in both columns; its backward
    pass matches finite differences."""
    import numpy

    from spacy_ptuning.layers.span_head import span_and_null_scores

    head = span_and_null_scores(4, dropout=0.0, null_pooling=null_pooling, hidden_width=hidden_width)
    rng = numpy.random.default_rng(0)
    rows = [rng.random((3, 4), dtype="float32"), rng.random((5, 4), dtype="float32")]
    head.initialize(X=rows)
    out, backprop = head(rows, is_train=True)
    assert [o.shape for o in out] == [(3, 2), (5, 2)]
    assert all(o[0, 0] == o[0, 1] for o in out)
    null = head.get_ref("null")
    pooled = rows[1][0] if null_pooling == "cls" else rows[1][1:].mean(axis=0)
    assert out[1][0, 0] == pytest.approx(float(pooled @ null.get_param("W")[0] + null.get_param("b")[0]), abs=1e-5)
    d_rows = backprop([numpy.ones_like(o) for o in out])

    def total(xs):
        return sum(float(o.astype("float64").sum()) for o in head(xs, is_train=False)[0])

    def moved(doc, row, col, step):
        xs = [r.copy() for r in rows]
        xs[doc][row, col] += step
        return xs

    for doc, row, col in [(1, 0, 2), (0, 1, 1), (0, 0, 3), (1, 4, 0)]:  # central differences
        slope = (total(moved(doc, row, col, 1e-2)) - total(moved(doc, row, col, -1e-2))) / 2e-2
        assert slope == pytest.approx(float(d_rows[doc][row, col]), abs=1e-3)


@pytest.mark.parametrize("null_pooling,hidden_width", [("cls", 0), ("mean", 0), ("cls", 8)])
def test_span_extractor_v2_learns_abstention_and_round_trips(bert_dir, tmp_path, null_pooling, hidden_width):
    """The v2 head (a separate "no answer" classifier; with or without a hidden layer in
    its span scorer) overfits the toy data, abstention included."""
    nlp = spacy.blank("en")
    cfg = {"@architectures": "spacy_ptuning.PromptEncoder.v1",
           **encoder_cfg(bert_dir, window=48, stride=16, text_pair="question")}
    model = {"@architectures": "spacy_ptuning.SpanExtractor.v2", "null_pooling": null_pooling,
             "hidden_width": hidden_width, "encoder": cfg}
    nlp.add_pipe("ptuning_qa", config={"model": model})
    train(nlp, qa_examples(nlp), n_iter=150, learn_rate=0.05)
    assert [r["answer"] for r in _answers(nlp)] == [a for _, _, a in DATA]
    nlp.to_disk(tmp_path / "v2")
    loaded = spacy.load(tmp_path / "v2")
    assert loaded.config["components"]["ptuning_qa"]["model"]["@architectures"] == "spacy_ptuning.SpanExtractor.v2"
    assert _answers(loaded) == _answers(nlp)


def test_span_scorer_hidden_width_is_checked():
    """A negative hidden width is refused with the value and what is allowed; 0 keeps one
    linear layer and a positive width adds a GELU layer that wide."""
    from spacy_ptuning.layers.span_head import token_scorer

    with pytest.raises(ValueError, match=r"hidden_width must be 0 .* got -1"):
        token_scorer(4, -1)
    assert token_scorer(4, 0).name == "linear"
    hidden = token_scorer(4, 6)
    assert [layer.get_dim("nO") for layer in hidden.layers] == [6, 2]
