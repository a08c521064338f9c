"""Bad input, one class per test: a correct result, or an error that names the problem,
where it is (file:line, question id, path) and the fix; nothing changed or dropped
without a warning. Grows with every probe (empty, whitespace, control characters, huge
docs, mixed batches, malformed files, wrong types, corrupt artifacts; threads are in
test_concurrency.py)."""
import json

import pytest
import spacy

from spacy_ptuning import answer_question
from spacy_ptuning.backbone import BackboneError, clear_cache, get_backbone
from spacy_ptuning.corpora.cluener import CluenerFormatError, read_records
from spacy_ptuning.corpora.conll import ConllFormatError, read_sentences
from spacy_ptuning.corpora.squad import SquadFormatError, read_squad, squad_corpus
from spacy_ptuning.serialize import ArtifactMismatchError

from test_ner import ner_examples, ner_nlp
from test_qa import qa_examples, qa_nlp
from util import blank, encoder_cfg, sentiment_texts, textcat_examples, train


# --- CoNLL -------------------------------------------------------------------------------

def test_conll_byte_order_mark_is_not_part_of_a_word(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_text("\ufeff-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", encoding="utf8")
    assert list(read_sentences(path)) == [[("EU", "B-ORG"), ("rejects", "O")]]
    path.write_text("\ufeffEU B-ORG\n", encoding="utf8")
    assert list(read_sentences(path)) == [[("EU", "B-ORG")]]


def test_conll_latin1_names_file_line_and_fix(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("John B-PER\n\nMüller B-PER\n".encode("latin-1"))
    with pytest.raises(ConllFormatError, match=r"latin1\.txt:3: not UTF-8.*iconv"):
        list(read_sentences(path))


def test_conll_non_breaking_space_stays_inside_its_word(tmp_path):
    path = tmp_path / "nbsp.txt"
    path.write_text("New\u00a0York NNP B-LOC\nis VBZ O\n", encoding="utf8")
    assert list(read_sentences(path)) == [[("New\u00a0York", "B-LOC"), ("is", "O")]]


def test_conll_convert_cli_strips_the_byte_order_mark(tmp_path):
    from typer.testing import CliRunner

    from spacy_ptuning.cli import app
    from spacy.tokens import DocBin

    path = tmp_path / "train.txt"
    path.write_text("\ufeffEU B-ORG\nrejects O\n", encoding="utf8")
    result = CliRunner().invoke(app, ["convert", str(path), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(tmp_path / "out" / "train.spacy").get_docs(spacy.blank("en").vocab))
    assert [t.text for t in docs[0]] == ["EU", "rejects"]


# --- SQuAD -------------------------------------------------------------------------------

def _squad(tmp_path, qas, context="The cat sat on the mat. It was red.", name="squad.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"context": context, "qas": qas}]}]}),
                    encoding="utf8")
    return path


def test_squad_negative_answer_start_is_fixed_with_a_warning(tmp_path):
    path = _squad(tmp_path, [{"id": "q1", "question": "What colour?", "answers": [{"text": "red.", "answer_start": -4}]}])
    records, problems = read_squad(path)
    assert records[0].answers == [("red.", 31)]  # placed where the text is, not at -4
    assert problems and "q1" in problems[0] and "-4" in problems[0]
    with pytest.warns(UserWarning, match="q1"):
        examples = list(squad_corpus(path)(spacy.blank("en")))
    assert [s.text for s in examples[0].reference.spans["answer"]] == ["red."]


def test_squad_impossible_with_answers_warns(tmp_path):
    qas = [{"id": "q2", "question": "Who sat?", "is_impossible": True, "answers": [{"text": "cat", "answer_start": 4}]}]
    records, problems = read_squad(_squad(tmp_path, qas))
    assert records[0].is_impossible and records[0].answers == []
    assert any("q2" in p and "is_impossible" in p for p in problems)


@pytest.mark.parametrize("question", ["", "   ", None])
def test_squad_blank_question_names_file_and_id(tmp_path, question):
    path = _squad(tmp_path, [{"id": "q3", "question": question, "answers": [{"text": "cat", "answer_start": 4}]}])
    with pytest.raises(SquadFormatError, match=r"squad\.json: question q3 has no question text"):
        read_squad(path)


@pytest.mark.parametrize("patch,fragment", [
    ({"qas": "x"}, '"qas" must be a list'),
    ({"qas": [{"id": "q4", "question": "Who?", "answers": "x"}]}, '"answers" must be a list'),
    ({"qas": [{"id": "q5", "question": "Who?", "answers": ["x"]}]}, "an answer must be an object"),
    ({"qas": [{"id": "q6", "question": "Who?", "is_impossible": "yes"}]}, '"is_impossible" must be true or false'),
    ({"qas": ["x"]}, "a question must be an object"),
])
def test_squad_wrong_json_types_are_named(tmp_path, patch, fragment):
    paragraph = {"context": "The cat sat.", **patch}
    path = tmp_path / "types.json"
    path.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [paragraph]}]}), encoding="utf8")
    with pytest.raises(SquadFormatError) as err:
        read_squad(path)
    assert fragment in str(err.value) and "types.json" in str(err.value)


def test_squad_paragraphs_of_wrong_type(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"data": [{"title": "T", "paragraphs": "x"}]}), encoding="utf8")
    with pytest.raises(SquadFormatError, match='article \'T\': "paragraphs" must be a list'):
        read_squad(path)


def test_squad_byte_order_mark_and_latin1(tmp_path):
    path = _squad(tmp_path, [{"id": "q7", "question": "Who sat?", "answers": [{"text": "cat", "answer_start": 4}]}])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_squad(path)[0][0].question == "Who sat?"
    path.write_bytes(path.read_bytes()[3:].replace(b"Who", "Wh\u00f6".encode("latin-1")))
    with pytest.raises(SquadFormatError, match="not UTF-8"):
        read_squad(path)


def test_long_question_is_cut_with_a_warning_naming_it(bert_dir):
    nlp = qa_nlp(bert_dir)
    nlp.initialize()
    doc = nlp.make_doc("john visited london")
    doc._.question = " ".join(["who"] * 300)
    doc._.qa_id = "q-long"
    with pytest.warns(UserWarning, match=r"\(question q-long\) has 300 wordpieces.*only its first"):
        nlp(doc)
    assert doc._.no_answer_score is not None


# --- CLUENER -----------------------------------------------------------------------------

@pytest.mark.parametrize("label,fragment", [
    ({"name": {"李": [[False, False]]}}, "must be [start, end] pairs, got [False, False]"),
    (["name"], '"label" must be an object'),
    ({"name": ["李"]}, "must map mentions to offset lists"),
    ({"name": {"李": "0,0"}}, "must be a list of [start, end] pairs"),
])
def test_cluener_wrong_types_name_file_and_line(tmp_path, label, fragment):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"text": "李", "label": {}}) + "\n" + json.dumps({"text": "李", "label": label},
                    ensure_ascii=False) + "\n", encoding="utf8")
    with pytest.raises(CluenerFormatError) as err:
        list(read_records(path))
    assert f"{path}:2" in str(err.value) and fragment in str(err.value)


# --- artifacts and backbones -----------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_textcat(bert_dir, tmp_path_factory):
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    train(nlp, textcat_examples(nlp, sentiment_texts(4)), n_iter=2)
    path = tmp_path_factory.mktemp("saved") / "textcat"
    nlp.to_disk(path)
    return path


@pytest.mark.parametrize("corrupt", ["empty", "truncated", "garbage"])
def test_corrupt_adapter_names_its_path(saved_textcat, tmp_path, corrupt):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(saved_textcat, copy)
    adapter = copy / "ptuning_textcat" / "adapter.safetensors"
    data = adapter.read_bytes()
    adapter.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"\x01" * 64}[corrupt])
    with pytest.raises(ArtifactMismatchError) as err:
        spacy.load(copy)
    assert str(adapter) in str(err.value) and "truncated or empty" in str(err.value)


def test_backbone_without_tokenizer_files(bert_dir, tmp_path):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((bert_dir / name).read_bytes())
    clear_cache()
    with pytest.raises(BackboneError, match="has no tokenizer files"):
        get_backbone(folder)


def test_window_of_wrong_type_is_named(bert_dir):
    nlp = blank()
    with pytest.raises(ValueError, match=r"window\tat root: '24' is not a whole number >= 1"):
        nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir, window="24")}})


# --- run-time inputs -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qa(bert_dir):
    nlp = qa_nlp(bert_dir)
    train(nlp, qa_examples(nlp), n_iter=2)
    return nlp


@pytest.mark.parametrize("question,context,error", [
    (None, "john visited london", TypeError),
    ("who?", None, TypeError),
    ("   ", "john visited london", ValueError),
])
def test_answer_question_checks_its_arguments(qa, question, context, error):
    with pytest.raises(error, match="answer_question"):
        answer_question(qa, question, context)


def test_answer_question_needs_a_qa_component(bert_dir):
    nlp = ner_nlp(bert_dir)
    with pytest.raises(ValueError, match="no ptuning_qa component"):
        answer_question(nlp, "who?", "john")


@pytest.mark.parametrize("context", ["     ", "\x00\x01\x02", " \t\n \x0b ", "\u200b\u200b"])
def test_blank_contexts_never_answer_with_blanks(qa, context):
    qa.get_pipe("ptuning_qa").cfg["null_threshold"] = float("-inf")  # answer whenever a span exists
    try:
        result = answer_question(qa, "who visited london?", context)
    finally:
        qa.get_pipe("ptuning_qa").cfg["null_threshold"] = 0.0
    assert result["answer"] is None or result["answer"].strip()


def test_empty_text_scores_the_same_alone_and_in_a_batch(saved_textcat):
    nlp = spacy.load(saved_textcat)
    alone = nlp("").cats
    in_batch = list(nlp.pipe(["", "good movie", "   "]))[0].cats
    assert alone == pytest.approx(in_batch) and sum(alone.values()) == pytest.approx(1.0)


def test_mixed_batch_of_huge_empty_whitespace_and_control_docs(bert_dir):
    """Every doc of an odd batch gets a result; every token, whitespace included, a vector."""
    nlp = ner_nlp(bert_dir, max_windows=2)
    train(nlp, ner_examples(nlp), n_iter=1)
    texts = ["", "   ", "\x00\x01", "john " * 400, "北京 上海", "john visited london\u00a0today"]
    docs = list(nlp.pipe(texts, batch_size=8))
    assert [d.text for d in docs] == texts
    for doc in docs:
        assert all(e.text.strip() for e in doc.ents)


# --- lifecycle -------------------------------------------------------------------------------

def test_saving_before_initialize_says_what_to_do(bert_dir, tmp_path):
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    with pytest.raises(ValueError, match="cannot be saved before it is initialized.*nlp.initialize"):
        nlp.to_disk(tmp_path / "x")


def test_qa_initialize_needs_no_examples(bert_dir):
    nlp = qa_nlp(bert_dir)
    nlp.initialize()
    result = answer_question(nlp, "who visited london?", "john visited london")
    assert set(result) >= {"answer", "no_answer_score"}


# --- spaCy's lifecycle and annotations owned by others ------------------------------------------

def _trained(kind, bert_dir):
    """A small trained pipeline of one kind: textcat, ner, qa, or all three with a mixed-task runner."""
    if kind == "textcat":
        nlp = blank()
        nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir, adapter_width=4)}})
        examples = textcat_examples(nlp, sentiment_texts(8))
    elif kind == "ner":
        nlp = ner_nlp(bert_dir)
        examples = ner_examples(nlp)
    elif kind == "qa":
        nlp = qa_nlp(bert_dir)
        examples = qa_examples(nlp)
    else:
        nlp = blank()
        nlp.add_pipe("ptuning_mixed_tasks")
        nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
        nlp.add_pipe("ptuning_ner", config={"model": {"encoder": encoder_cfg(bert_dir)}})
        qa = qa_nlp(bert_dir)
        nlp.add_pipe("ptuning_qa", source=qa)
        examples = textcat_examples(nlp, sentiment_texts(4)) + ner_examples(nlp) + qa_examples(nlp)
    train(nlp, examples, n_iter=2)
    return nlp, examples


@pytest.mark.parametrize("kind", ["textcat", "ner", "qa", "multitask"])
def test_every_pipeline_copies_pickles_resumes_and_trains_on(kind, bert_dir):
    """copy.deepcopy, pickle and nlp.resume_training work (the shared backbone holds a lock,
    which is neither copied nor pickled: copies share the backbone, unpickling reloads it by
    folder), give the same predictions, and training continues for a few steps."""
    import copy
    import pickle

    nlp, examples = _trained(kind, bert_dir)
    texts = ["john visited london", "the movie was good"]

    def outputs(pipeline):
        return [(d.cats, [(e.start, e.end, e.label_) for e in d.ents]) for d in pipeline.pipe(texts)]

    expected = outputs(nlp)
    assert outputs(copy.deepcopy(nlp)) == expected
    assert outputs(pickle.loads(pickle.dumps(nlp))) == expected
    optimizer = nlp.resume_training()
    losses = {}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, losses=losses)
    assert losses and all(v >= 0 for v in losses.values())


def test_qa_skips_examples_of_other_tasks_in_update(bert_dir):
    """In a multitask pipeline, examples without a question train textcat and NER and are
    left alone by QA (before, QA failed with "set doc._.question")."""
    nlp, examples = _trained("multitask", bert_dir)
    plain = [eg for eg in examples if eg.predicted._.question is None]
    losses = nlp.update(plain, sgd=nlp.resume_training(), losses={})
    assert losses["ptuning_qa"] == 0.0 and losses["ptuning_textcat"] > 0
    with pytest.raises(ValueError, match="question on the reference doc but none on the predicted doc"):
        lost = qa_examples(nlp)[0]
        from spacy.training import Example

        nlp.get_pipe("ptuning_qa").update([Example(nlp.make_doc(lost.reference.text), lost.reference)])


def _ner_with_path(bert_dir, text, tags):
    nlp = ner_nlp(bert_dir)
    nlp.initialize(lambda: ner_examples(nlp))
    ner = nlp.get_pipe("ptuning_ner")
    doc = nlp.make_doc(text)
    return nlp, ner, doc, [ner.tags.index(tag) for tag in tags]


def test_ner_never_makes_whitespace_an_entity(bert_dir):
    import numpy

    nlp, ner, doc, path = _ner_with_path(bert_dir, "   ", ["B-PER"])
    ner.set_annotations([doc], [numpy.asarray(path)])
    assert list(doc.ents) == []
    nlp, ner, doc, path = _ner_with_path(bert_dir, "john smith\u00a0", ["B-PER", "I-PER", "I-PER"])
    assert len(doc) == 3 and doc[2].text == "\u00a0"
    ner.set_annotations([doc], [numpy.asarray(path)])
    assert [(e.text, e.label_) for e in doc.ents] == [("john smith", "PER")]


def test_ner_keeps_entities_set_before_it(bert_dir):
    """As spaCy's ner: entities already on the doc (an entity_ruler's) stay; a prediction that
    overlaps one is dropped, the others are added."""
    import numpy
    from spacy.tokens import Span

    nlp, ner, doc, path = _ner_with_path(bert_dir, "acme corp and john smith", ["B-PER", "I-PER", "O", "B-PER", "I-PER"])
    doc.ents = [Span(doc, 0, 2, label="ORG")]
    ner.set_annotations([doc], [numpy.asarray(path)])
    assert [(e.text, e.label_) for e in doc.ents] == [("acme corp", "ORG"), ("john smith", "PER")]
    ruler_first = ner_nlp(bert_dir)
    ruler = ruler_first.add_pipe("entity_ruler", first=True)
    ruler_first.initialize(lambda: ner_examples(ruler_first))
    ruler.add_patterns([{"label": "ORG", "pattern": "acme corp"}])  # initialize clears a ruler's patterns
    assert ("acme corp", "ORG") in [(e.text, e.label_) for e in ruler_first("acme corp and john smith").ents]


def _annotations(doc, owned):
    """Everything on a doc that a component could change, but what `owned` names."""
    got = {
        "tokens": [(t.text, t.tag_, t.pos_, t.lemma_, t.dep_, t.head.i, t.is_sent_start) for t in doc],
        "ents": [(e.start, e.end, e.label_) for e in doc.ents],
        "cats": dict(doc.cats),
        "spans": {k: [(s.start, s.end, s.label_) for s in g] for k, g in doc.spans.items()},
        "user_data": {k: v for k, v in doc.user_data.items() if not (isinstance(k, tuple) and k[1] in owned)},
    }
    for key in owned:
        got.pop(key, None)
        got["spans"].pop(key, None)
    return got


# what each component writes; NER also keeps the entities already set (its own test above)
OWNED = {"textcat": {"cats"}, "ner": set(), "qa": {"answer", "answers", "no_answer_score", "answer_windows"}}


@pytest.mark.parametrize("kind", ["textcat", "ner", "qa"])
def test_each_component_leaves_annotations_it_does_not_own_untouched(kind, bert_dir):
    """Tags, lemmas, parses, sentence starts, entities, categories, span groups and user data
    set before a component stay as they were, but what the component writes."""
    from spacy.tokens import Span

    from spacy_ptuning.qa.extensions import register_extensions

    register_extensions()
    nlp, _ = _trained(kind, bert_dir)
    doc = nlp.make_doc("acme corp said john visited london")
    for token, tag in zip(doc, ["NNP", "NNP", "VBD", "NNP", "VBD", "NNP"]):
        token.tag_, token.pos_, token.lemma_ = tag, "PROPN" if tag == "NNP" else "VERB", token.text.upper()
    doc[0].is_sent_start = True
    doc[4].is_sent_start = False
    doc.ents = [Span(doc, 0, 2, label="ORG")]
    doc.cats = {"OTHER": 0.25}
    doc.spans["sc"] = [Span(doc, 3, 4, label="NAME")]
    doc.user_data["mine"] = {"kept": [1, 2]}
    doc._.question = "who visited london"
    before = _annotations(doc, OWNED[kind])
    doc = nlp(doc)
    after = _annotations(doc, OWNED[kind])
    if kind == "ner":  # kept, with its predictions added in the gaps
        assert set(before.pop("ents")) <= set(after.pop("ents"))
    if kind == "textcat":
        assert doc.cats.get("OTHER") is None or doc.cats["OTHER"] == 0.25
    assert after == before


def test_no_accepted_pair_window_hangs_or_loses_the_question(backbone_dir):
    """Every window from the smallest upwards, with a question/context pair: either the config
    check or the first batch refuses it with an error naming the window, or the question is read
    (at least one of its wordpieces in every window) and prediction finishes."""
    import signal

    from spacy_ptuning.layers.encoder import find_encoder
    from spacy_ptuning.qa.extensions import register_extensions

    def timeout(signum, frame):
        raise TimeoutError("the window layout did not finish")

    signal.signal(signal.SIGALRM, timeout)
    backbone = backbone_dir
    register_extensions()
    context = "john visited london and mary works in paris " * 3
    accepted = 0
    for window in range(1, 26):
        for stride in (1, max(1, window - 4)):
            try:
                nlp = qa_nlp(backbone, window=window, stride=stride)
            except ValueError as err:
                assert "window" in str(err) or "stride" in str(err)
                continue
            encoder = find_encoder(nlp.get_pipe("ptuning_qa").model)
            doc = nlp.make_doc(context)
            doc._.question = "who visited london and who works in paris"
            signal.alarm(20)  # a layout with a step of 0 or less would loop for ever
            try:
                batch = encoder.attrs["build_batch"](get_backbone(backbone), [doc])
            except ValueError as err:
                assert f"window={window}" in str(err)
                continue
            finally:
                signal.alarm(0)
            accepted += 1
            question = get_backbone(backbone).tokenizer(doc._.question, add_special_tokens=False)["input_ids"]
            for row in batch.input_ids:
                assert question[0] in row.tolist(), (window, stride)
            nlp.initialize()
            assert nlp(doc)._.no_answer_score is not None
    assert accepted > 0
