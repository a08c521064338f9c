"""ptuning_mixed_tasks: prompt components in shared forward passes give what they give alone."""
import itertools

import numpy
import pytest
import spacy
from safetensors.numpy import load

from spacy_ptuning.layers.encoder import find_encoder, get_torch_module
from spacy_ptuning.layers.mixed_batch import _chunks, mixed_forward
from spacy_ptuning.layers.precomputed import PENDING
from spacy_ptuning.qa.extensions import register_extensions
from spacy_ptuning.serialize import adapter_metadata

from test_ner import ner_examples, ner_nlp
from test_qa import qa_examples, qa_nlp
from util import blank, encoder_cfg, randomize_adapters, sentiment_texts, textcat_examples, train

TASKS = ("ptuning_textcat", "ptuning_ner", "ptuning_qa")
LONG = " ".join(["john visited london and mary works in paris"] * 12)  # several windows for every task
TEXTS = [
    "john visited london and mary works in paris",
    "",
    "the movie was good",
    LONG,
    "acme corp said the plot was good",
    " ",
    "mary works in paris",
]
QUESTIONS = ["who visited london", None, "what was good", "where does mary work", None, "who said", "who works"]


@pytest.fixture(scope="module")
def components(bert_dir):
    """Trained textcat, NER and QA components over one backbone, prompts of different
    lengths (3, 5, 2), windows of different sizes, prompts initialised N(0, 1) so they matter;
    textcat and QA with feed-forward adapters of different widths (random, so they matter
    too), NER with none: every mix has rows with and without, or with other adapters."""
    big = {"init_std": 1.0}
    textcat = blank()
    textcat.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(
        bert_dir, prefix_length=3, adapter_width=4, **big)}})
    train(textcat, textcat_examples(textcat, sentiment_texts(8)), n_iter=3)
    ner = ner_nlp(bert_dir, prefix_length=5, **big)
    train(ner, ner_examples(ner), n_iter=3)
    qa = qa_nlp(bert_dir, prefix_length=2, adapter_width=6, **big)
    train(qa, qa_examples(qa), n_iter=3)
    randomize_adapters(textcat, seed=1)
    randomize_adapters(qa, seed=2)
    return {"ptuning_textcat": textcat, "ptuning_ner": ner, "ptuning_qa": qa}


def _pipeline(components, tasks, mixed: bool, runner_config=None):
    nlp = blank()
    if mixed:
        nlp.add_pipe("ptuning_mixed_tasks", config=runner_config or {})
    for name in tasks:
        nlp.add_pipe(name, source=components[name])
    return nlp


def _docs(nlp):
    register_extensions()
    docs = []
    for text, question in zip(TEXTS, QUESTIONS):
        doc = nlp.make_doc(text)
        doc._.question = question
        docs.append(doc)
    return docs


def _outputs(doc):
    answers = [(a["start_char"], a["end_char"], a["score"]) for a in (doc._.answers or [])]
    return {
        "cats": doc.cats,
        "ents": [(e.start, e.end, e.label_) for e in doc.ents],
        "answers": answers,
        "answer": doc._.answer.text if doc._.answer is not None else None,
        "no_answer": doc._.no_answer_score,
    }


def _assert_same(a, b):
    assert a["cats"] == pytest.approx(b["cats"], abs=1e-5)
    assert a["ents"] == b["ents"]
    assert [x[:2] for x in a["answers"]] == [x[:2] for x in b["answers"]]
    assert [x[2] for x in a["answers"]] == pytest.approx([x[2] for x in b["answers"]], abs=1e-4)
    assert a["answer"] == b["answer"]
    assert (a["no_answer"] is None) == (b["no_answer"] is None)
    if a["no_answer"] is not None:
        assert a["no_answer"] == pytest.approx(b["no_answer"], abs=1e-4)


MIXES = [mix for n in (2, 3) for mix in itertools.combinations(TASKS, n)]


@pytest.mark.parametrize("tasks", MIXES, ids=["+".join(t.split("_")[1] for t in mix) for mix in MIXES])
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_mixed_batches_match_components_run_one_after_another(components, tasks, batch_size):
    sequential = _pipeline(components, tasks, mixed=False)
    mixed = _pipeline(components, tasks, mixed=True)
    expected = [_outputs(doc) for doc in sequential.pipe(_docs(sequential), batch_size=batch_size)]
    got = [_outputs(doc) for doc in mixed.pipe(_docs(mixed), batch_size=batch_size)]
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        _assert_same(a, b)
    single = mixed(_docs(mixed)[0])  # nlp(doc) goes through the runner too
    _assert_same(_outputs(single), expected[0])


def test_one_backbone_pass_per_batch(components):
    """Three tasks, a batch of short docs: one forward pass of the backbone, not three
    (min_fill 0: rows of any length share the pass)."""
    sequential = _pipeline(components, TASKS, mixed=False)
    mixed = _pipeline(components, TASKS, mixed=True, runner_config={"min_fill": 0.0})
    backbone = get_torch_module(components["ptuning_textcat"].get_pipe("ptuning_textcat").model).backbone
    calls = []
    hook = backbone.model.register_forward_hook(lambda module, args, kwargs: calls.append(1))
    try:
        short = [i for i, text in enumerate(TEXTS) if text != LONG]
        for nlp, expected_calls in ((sequential, 3), (mixed, 1)):
            calls.clear()
            docs = _docs(nlp)
            list(nlp.pipe([docs[i] for i in short], batch_size=64))
            assert len(calls) == expected_calls
    finally:
        hook.remove()


def test_passes_split_where_rows_would_be_mostly_padding():
    rows = [(40, 0, 0), (38, 1, 0), (31, 0, 1), (12, 2, 0), (10, 1, 1), (9, 0, 2)]
    assert _chunks(rows, cap=64, min_fill=0.0) == [rows]
    assert _chunks(rows, cap=64, min_fill=0.75) == [rows[:3], rows[3:]]
    assert _chunks(rows, cap=2, min_fill=0.0) == [rows[:2], rows[2:4], rows[4:]]
    with pytest.raises(ValueError, match=r"min_fill\tat root: 2 is not a number from 0 to 1"):
        blank().add_pipe("ptuning_mixed_tasks", config={"min_fill": 2})


def _check_mixed_forward(textcat, ner):
    docs = [d for d in _docs(blank()) if d.text.strip()]
    outputs = mixed_forward([(textcat, docs), (ner, docs[:2])])
    for encoder, task_docs, output in ((textcat, docs, outputs[0]), (ner, docs[:2], outputs[1])):
        alone = encoder.predict(task_docs)
        mask = alone.batch.attention_mask.astype(bool)
        numpy.testing.assert_array_equal(output.batch.input_ids, alone.batch.input_ids)
        numpy.testing.assert_allclose(output.hidden[mask], alone.hidden[mask], atol=1e-4)


def test_mixed_forward_matches_each_encoder(components):
    """Encoder states of two tasks (prefixes 3 and 5, different windows) stacked in one
    pass equal each encoder's own, row by row."""
    _check_mixed_forward(
        find_encoder(components["ptuning_textcat"].get_pipe("ptuning_textcat").model),
        find_encoder(components["ptuning_ner"].get_pipe("ptuning_ner").model),
    )


def test_mixed_pipelines_match_components_alone_on_every_family(backbone_dir):
    """Every family: textcat (prompts and adapters), NER without prompts but with adapters,
    and QA (question/context pairs, token types where the family has them) in shared
    passes give what each gives alone, and their encoder states match row by row."""
    textcat = blank()
    textcat.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(
        backbone_dir, prefix_length=3, init_std=1.0, adapter_width=4)}})
    textcat.initialize(lambda: textcat_examples(textcat, sentiment_texts(4)))
    probe = ner_nlp(backbone_dir, mode="none", window=32, stride=20, adapter_width=4)
    probe.initialize(lambda: ner_examples(probe))
    qa = qa_nlp(backbone_dir, prefix_length=2, init_std=1.0)
    qa.initialize(lambda: qa_examples(qa))
    for nlp, seed in ((textcat, 1), (probe, 2)):
        randomize_adapters(nlp, seed=seed)
    _check_mixed_forward(
        find_encoder(textcat.get_pipe("ptuning_textcat").model), find_encoder(probe.get_pipe("ptuning_ner").model)
    )
    components = {"ptuning_textcat": textcat, "ptuning_ner": probe, "ptuning_qa": qa}
    sequential = _pipeline(components, TASKS, mixed=False)
    mixed = _pipeline(components, TASKS, mixed=True)
    expected = [_outputs(doc) for doc in sequential.pipe(_docs(sequential), batch_size=4)]
    got = [_outputs(doc) for doc in mixed.pipe(_docs(mixed), batch_size=4)]
    for a, b in zip(got, expected):
        _assert_same(a, b)


def test_mixed_forward_keeps_each_encoders_layer_mix(bert_dir):
    """Rows of an encoder with layer_mix get its own mix of the shared pass's layers; the
    other encoder's rows keep the last layer's states."""
    textcat = blank()
    config = {"model": {"encoder": encoder_cfg(bert_dir, prefix_length=3, init_std=1.0, layer_mix=True)}}
    textcat.add_pipe("ptuning_textcat", config=config)
    train(textcat, textcat_examples(textcat, sentiment_texts(8)), n_iter=3)
    weights = get_torch_module(textcat.get_pipe("ptuning_textcat").model).layer_weights
    assert weights.detach().std() > 0  # trained away from the uniform start
    probe = ner_nlp(bert_dir, mode="none", window=32, stride=20)
    probe.initialize(lambda: ner_examples(probe))
    _check_mixed_forward(
        find_encoder(textcat.get_pipe("ptuning_textcat").model), find_encoder(probe.get_pipe("ptuning_ner").model)
    )


def test_components_save_the_same_files_with_a_runner(components, tmp_path):
    plain = _pipeline(components, TASKS, mixed=False)
    mixed = _pipeline(components, TASKS, mixed=True, runner_config={"tasks": ["ptuning_textcat", "ptuning_qa"]})
    plain.to_disk(tmp_path / "plain")
    mixed.to_disk(tmp_path / "mixed")
    for name in TASKS:
        files = sorted(p.relative_to(tmp_path / "plain") for p in (tmp_path / "plain" / name).rglob("*") if p.is_file())
        assert files
        for path in files:
            a, b = (tmp_path / "mixed" / path).read_bytes(), (tmp_path / "plain" / path).read_bytes()
            if path.suffix != ".safetensors":
                assert a == b, path
                continue
            # same tensors and metadata (safetensors writes its metadata keys in no fixed order)
            assert adapter_metadata(a) == adapter_metadata(b)
            tensors_a, tensors_b = load(a), load(b)
            assert tensors_a.keys() == tensors_b.keys()
            for key in tensors_a:
                numpy.testing.assert_array_equal(tensors_a[key], tensors_b[key])
    loaded = spacy.load(tmp_path / "mixed")
    assert loaded.pipe_names == ["ptuning_mixed_tasks", *TASKS]
    assert loaded.get_pipe("ptuning_mixed_tasks").tasks == ["ptuning_textcat", "ptuning_qa"]
    expected = [_outputs(doc) for doc in plain.pipe(_docs(plain))]
    for a, b in zip((_outputs(doc) for doc in loaded.pipe(_docs(loaded))), expected):
        _assert_same(a, b)


def test_disabled_components_are_left_out(components):
    mixed = _pipeline(components, TASKS, mixed=True)
    with mixed.select_pipes(disable=["ptuning_ner"]):
        assert [name for name, _ in mixed.get_pipe("ptuning_mixed_tasks").members()] == ["ptuning_textcat", "ptuning_qa"]
        doc = mixed(_docs(mixed)[0])
        assert doc.cats and not doc.ents


@pytest.mark.parametrize("call", ["pipe", "call"])
def test_components_disabled_for_a_call_are_not_computed(components, call, monkeypatch):
    """`disable` given to nlp.pipe / nlp(): nothing is computed or left pending for the
    skipped component; the others give what they give alone."""
    mixed = _pipeline(components, TASKS, mixed=True)
    alone = _pipeline(components, ["ptuning_textcat", "ptuning_qa"], mixed=False)
    ner_model = mixed.get_pipe("ptuning_ner").model
    computed = []
    put = PENDING.put
    monkeypatch.setattr(PENDING, "put", lambda model, docs, output: computed.append(model.id) or put(model, docs, output))
    if call == "pipe":
        got = list(mixed.pipe(_docs(mixed), batch_size=3, disable=["ptuning_ner"]))
    else:
        got = [mixed(doc, disable=["ptuning_ner"]) for doc in _docs(mixed)]
    assert computed and ner_model.id not in computed
    assert all(not doc.ents for doc in got)
    for a, b in zip(got, alone.pipe(_docs(alone), batch_size=3)):
        _assert_same(_outputs(a), _outputs(b))
    assert mixed.get_pipe("ptuning_mixed_tasks").members()[1][0] == "ptuning_ner"  # outside the call: all


def test_bad_task_lists_are_named(components, bert_dir):
    nlp = _pipeline(components, TASKS, mixed=True, runner_config={"tasks": ["ptuning_textcat", "ptuning_tagger"]})
    with pytest.raises(ValueError, match="no component named 'ptuning_tagger'"):
        nlp("some text")
    late = _pipeline(components, TASKS, mixed=False)
    late.add_pipe("ptuning_mixed_tasks", config={"tasks": ["ptuning_textcat"]})
    with pytest.raises(ValueError, match="'ptuning_textcat' runs before 'ptuning_mixed_tasks'"):
        late("some text")
    with pytest.raises(ValueError, match="ptuning_mixed_tasks -> tasks.*'ptuning_textcat' is not"):
        blank().add_pipe("ptuning_mixed_tasks", config={"tasks": "ptuning_textcat"})
    shallow = _pipeline(components, ["ptuning_textcat"], mixed=True, runner_config={"tasks": ["ptuning_textcat", "prompt"]})
    shallow.add_pipe("ptuning_textcat", name="prompt", config={"model": {"encoder": encoder_cfg(bert_dir, mode="shallow")}})
    shallow.get_pipe("prompt").add_label("POS")
    with pytest.raises(ValueError, match="'prompt' cannot share a forward pass: its prompts are in mode 'shallow'"):
        shallow("some text")
    default = _pipeline(components, ["ptuning_textcat"], mixed=True)
    default.add_pipe("ptuning_textcat", name="prompt", config={"model": {"encoder": encoder_cfg(bert_dir, mode="shallow")}})
    assert [name for name, _ in default.get_pipe("ptuning_mixed_tasks").members()] == ["ptuning_textcat"]
