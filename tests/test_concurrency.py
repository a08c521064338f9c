"""Inference from several threads at once, and the cap on windows per forward pass."""
from concurrent.futures import ThreadPoolExecutor

import numpy
import pytest

from spacy_ptuning import answer_question
from spacy_ptuning.layers.encoder import get_torch_module

from test_ner import ner_examples, ner_nlp
from test_qa import qa_examples, qa_nlp
from util import blank, encoder_cfg, randomize_adapters, sentiment_texts, textcat_examples, train

TEXTS = [f"john visited london and mary works in paris {i} " + "the movie was good " * (i % 5 * 6) for i in range(24)]


def _outputs(nlp, texts):
    out = []
    for doc in nlp.pipe(texts, batch_size=1):  # many predict calls: many chances to interleave
        out.append((
            {k: round(v, 6) for k, v in doc.cats.items()},
            [(e.start, e.end, e.label_) for e in doc.ents],
        ))
    return out


def _pipelines(bert_dir):
    """textcat, NER and QA pipelines with heavy prompt dropout (0.5), so that any
    dropout leaking into inference would change their outputs; NER and QA with
    feed-forward adapters of their own (random, so that they matter)."""
    dropout = {"prefix_dropout": 0.5}
    textcat = blank()
    textcat.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir, **dropout)}})
    train(textcat, textcat_examples(textcat, sentiment_texts(8)), n_iter=3)
    ner = ner_nlp(bert_dir, adapter_width=4, **dropout)
    train(ner, ner_examples(ner), n_iter=3)
    qa = qa_nlp(bert_dir, adapter_width=8, **dropout)
    train(qa, qa_examples(qa), n_iter=3)
    randomize_adapters(ner, seed=1)
    randomize_adapters(qa, seed=2)
    return textcat, ner, qa


def test_threads_get_the_predictions_of_one_thread(bert_dir):
    textcat, ner, qa = _pipelines(bert_dir)
    questions = [("who visited london", text) for text in TEXTS]
    single = {
        "textcat": _outputs(textcat, TEXTS),
        "ner": _outputs(ner, TEXTS),
        "qa": [answer_question(qa, q, c) for q, c in questions],
    }

    def work(i):
        chunk = slice(i % 4 * 6, i % 4 * 6 + 6)
        return i, {
            "textcat": _outputs(textcat, TEXTS[chunk]),
            "ner": _outputs(ner, TEXTS[chunk]),
            "qa": [answer_question(qa, q, c) for q, c in questions[chunk]],
        }

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(32)))
    for i, got in results:
        chunk = slice(i % 4 * 6, i % 4 * 6 + 6)
        for task in ("textcat", "ner", "qa"):
            assert got[task] == single[task][chunk], (task, i)


@pytest.mark.parametrize("max_windows", [1, 3])
def test_window_cap_gives_the_same_outputs(bert_dir, max_windows):
    """Splitting a batch's windows over several forward passes changes nothing, in
    prediction and in the gradients that reach the prompts."""
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    capped = blank()
    capped.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir, max_windows=max_windows)}})
    examples = textcat_examples(nlp, sentiment_texts(6))
    nlp.initialize(lambda: examples)
    capped.initialize(lambda: textcat_examples(capped, sentiment_texts(6)))
    long_texts = [" ".join(["the good movie"] * 20), "bad", " ".join(["awful plot"] * 12)]
    for a, b in zip(nlp.pipe(long_texts), capped.pipe(long_texts)):
        assert a.cats == pytest.approx(b.cats, abs=1e-6)
    grads = []
    for pipeline in (nlp, capped):
        model = pipeline.get_pipe("ptuning_textcat").model
        module = get_torch_module(model)
        module.zero_grad()
        scores, backprop = model.begin_update([pipeline.make_doc(t) for t in long_texts])
        backprop(model.ops.alloc2f(*scores.shape) + 1.0)
        grads.append(module.prefix.table.grad.detach().clone().numpy())
    numpy.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_max_windows_must_be_a_positive_integer(bert_dir):
    nlp = blank()
    with pytest.raises(ValueError, match=r"max_windows\tat root: 0 is not a whole number >= 1"):
        nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir, max_windows=0)}})


def test_doc_groups_cover_every_doc_once_within_the_cap():
    import spacy

    from spacy_ptuning.layers.wordpieces import doc_groups

    nlp = spacy.blank("en")
    docs = [nlp("word " * n) for n in (1, 400, 3, 3, 2000, 5, 0)]
    runs = doc_groups(docs, window=128, stride=96, max_windows=4)
    assert runs[0][0] == 0 and runs[-1][1] == len(docs)
    assert all(a < b for a, b in runs) and all(b == c for (_, b), (c, _) in zip(runs, runs[1:]))
    assert (4, 5) in runs  # the 2,000-word doc is a run of its own
    assert doc_groups(docs[:1], 128, 96, 4) == [(0, 1)]
    assert doc_groups([], 128, 96, 4) == []
