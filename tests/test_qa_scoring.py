"""SQuAD scoring on hand-made cases, span decoding, and the SQuAD JSON reader."""
import json

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_ptuning.corpora.squad import SquadFormatError, read_squad, squad_corpus
from spacy_ptuning.qa.decoding import best_spans
from spacy_ptuning.qa.extensions import ANSWER_KEY
from spacy_ptuning.qa.scoring import normalize_answer, score_answer, squad_scores


@pytest.mark.parametrize(
    "golds,predicted,em,f1",
    [
        (["Denver Broncos"], "denver broncos.", 1.0, 1.0),  # case and punctuation
        (["the Eiffel Tower"], "Eiffel Tower", 1.0, 1.0),  # articles
        (["Denver Broncos"], "Broncos", 0.0, 2 / 3),  # partial overlap
        (["Paris", "the city of Paris"], "city of Paris", 1.0, 1.0),  # best of several golds
        (["Paris", "in Paris, France"], "Paris, France", 0.0, 0.8),  # F1 from the second gold
        ([], "", 1.0, 1.0),  # unanswerable, abstained
        ([], "Paris", 0.0, 0.0),  # unanswerable, answered
        (["Paris"], "", 0.0, 0.0),  # answerable, abstained
        (["a"], "", 1.0, 1.0),  # a gold that normalises to "" counts as no answer
        (["北京大学"], "北京", 0.0, 2 / 3),  # Chinese: F1 over characters
    ],
)
def test_official_exact_and_f1(golds, predicted, em, f1):
    scores = score_answer(golds, predicted)
    assert scores["exact"] == em
    assert scores["f1"] == pytest.approx(f1)


def test_normalize_answer():
    assert normalize_answer("  The  Quick, brown fox!  ") == "quick brown fox"
    assert normalize_answer("an apple a day") == "apple day"


def _qa_example(nlp, context, golds, predicted_span=None):
    reference = nlp.make_doc(context)
    reference._.gold_answers = golds
    predicted = nlp.make_doc(context)
    predicted.spans[ANSWER_KEY] = [predicted.char_span(*predicted_span)] if predicted_span else []
    return Example(predicted, reference)


def test_squad_scores_split_hasans_and_noans():
    nlp = spacy.blank("en")
    text = "john visited paris in may"
    examples = [
        _qa_example(nlp, text, ["paris"], (13, 18)),  # right
        _qa_example(nlp, text, ["paris in may"], (13, 18)),  # partial: F1 0.5
        _qa_example(nlp, text, [], None),  # right abstention
        _qa_example(nlp, text, [], (0, 4)),  # wrong answer to an unanswerable question
    ]
    scores = squad_scores(examples)
    assert scores["qa_hasans_em"] == 0.5 and scores["qa_hasans_f1"] == pytest.approx(0.75)
    assert scores["qa_noans_em"] == 0.5 and scores["qa_noans_f1"] == 0.5
    assert scores["qa_exact"] == 0.5 and scores["qa_f1"] == pytest.approx(0.625)
    assert scores["qa_total"] == 4 and scores["qa_hasans_n"] == 2
    v11 = squad_scores(examples[:2])
    assert v11["qa_noans_f1"] is None and v11["qa_f1"] == pytest.approx(0.75)


def test_best_spans_respect_order_and_length():
    start = numpy.array([0.0, 5.0, 0.0, 4.0])
    end = numpy.array([9.0, 0.0, 1.0, 3.0])  # end 0 (9.0) + start 1 (5.0) would be backwards
    spans = best_spans(start, end, max_answer_length=2, n_best=3)
    assert [(s.start, s.end, s.score) for s in spans] == [(0, 0, 9.0), (3, 3, 7.0), (1, 2, 6.0)]
    assert all(s.start <= s.end < s.start + 2 for s in spans)
    assert [(s.start, s.end) for s in best_spans(start, end, max_answer_length=1, n_best=9)] == [
        (0, 0), (3, 3), (1, 1), (2, 2)
    ]
    assert best_spans(numpy.zeros(0), numpy.zeros(0), 5, 3) == []


def _squad_file(tmp_path, qas, context="john visited paris in may and mary works in london", name="s.json"):
    data = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf8")
    return path


def test_reader_offsets_round_trip_and_v11(tmp_path):
    qas = [
        {"id": "q1", "question": "where did john go", "answers": [{"text": "paris", "answer_start": 13}]},
        {"id": "q2", "question": "who works in london", "answers": [{"text": "mary", "answer_start": 30}]},
    ]
    nlp = spacy.blank("en")
    examples = list(squad_corpus(_squad_file(tmp_path, qas))(nlp))  # v1.1 style: no is_impossible
    for eg, qa in zip(examples, qas):
        gold = qa["answers"][0]
        (span,) = eg.reference.spans[ANSWER_KEY]
        assert (span.start_char, span.end_char) == (gold["answer_start"], gold["answer_start"] + len(gold["text"]))
        assert eg.reference.text[span.start_char : span.end_char] == gold["text"]
        assert eg.predicted._.question == qa["question"] and eg.reference._.qa_id == qa["id"]


def test_reader_reports_bad_answer_start_with_question_id(tmp_path):
    qas = [
        {"id": "moved", "question": "where", "answers": [{"text": "london", "answer_start": 3}], "is_impossible": False},
        {"id": "absent", "question": "what", "answers": [{"text": "rome", "answer_start": 0}], "is_impossible": False},
        {"id": "none", "question": "why", "answers": [], "is_impossible": True},
    ]
    nlp = spacy.blank("en")
    with pytest.warns(UserWarning, match=r"2 question\(s\) read with a fix: moved: answer 'london' does not start at 3 \(placed at 44\).*absent"):
        examples = list(squad_corpus(_squad_file(tmp_path, qas))(nlp))
    assert len(examples) == 3  # nothing dropped
    assert [s.text for s in examples[0].reference.spans[ANSWER_KEY]] == ["london"]
    assert examples[1].reference._.gold_answers == ["rome"] and not len(examples[1].reference.spans[ANSWER_KEY])
    assert examples[2].reference._.gold_answers == []


@pytest.mark.parametrize(
    "content,fragment",
    [
        ("{not json", "not JSON"),
        ('{"version": 1}', 'expected an object with a "data" list'),
        ('{"data": []}', "holds no questions"),
        ('{"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "q9", "question": "y", "answers": []}]}]}]}',
         "question q9 has no answers and is not marked is_impossible"),
    ],
)
def test_reader_errors(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf8")
    with pytest.raises(SquadFormatError, match=fragment):
        read_squad(path)


def test_shared_squad_reads_whole():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad"
    if not root.exists():
        pytest.skip("shared data not present")
    records, problems = read_squad(root / "dev-v2.0.json")
    assert len(records) == 1996 and sum(r.is_impossible for r in records) == 976
    assert all(r.is_impossible or r.answers for r in records)


def test_examples_without_question_or_gold_are_not_scored():
    """In a multitask evaluation, a textcat doc is no unanswerable question."""
    nlp = spacy.blank("en")
    plain = Example(nlp.make_doc("a good film"), nlp.make_doc("a good film"))
    scores = squad_scores([_qa_example(nlp, "john visited paris", ["paris"], (13, 18)), plain])
    assert scores["qa_total"] == 1 and scores["qa_exact"] == 1.0
