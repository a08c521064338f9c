"""Every scorer given a batch with no example of its task reports None, never crashes or reports 0."""
import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from spacy_ptuning.qa.extensions import ANSWER_KEY, register_extensions
from spacy_ptuning.qa.scoring import best_threshold, squad_scores


@pytest.fixture
def nlp():
    register_extensions()
    return spacy.blank("en")


def _plain(nlp, text="a good film about london"):
    return Example(nlp.make_doc(text), nlp.make_doc(text))


def _textcat_example(nlp, text, label, predicted_label):
    predicted, reference = nlp.make_doc(text), nlp.make_doc(text)
    reference.cats = {"POS": float(label == "POS"), "NEG": float(label == "NEG")}
    predicted.cats = {"POS": float(predicted_label == "POS"), "NEG": float(predicted_label == "NEG")}
    return Example(predicted, reference)


def _ner_example(nlp):
    words = ["john", "visited", "london"]
    return Example(Doc(nlp.vocab, words=words, ents=["B-PER", "O", "B-LOC"]),
                   Doc(nlp.vocab, words=words, ents=["B-PER", "O", "O"]))


def _qa_example(nlp, golds, answer=None, margin=1.0):
    context = "john visited paris in may"
    predicted, reference = nlp.make_doc(context), nlp.make_doc(context)
    predicted._.question = reference._.question = "who visited paris"
    reference._.gold_answers = golds
    if answer is not None:
        start = context.index(answer)
        predicted._.answers = [{"text": answer, "start_char": start, "end_char": start + len(answer), "score": margin}]
        predicted._.no_answer_score = 0.0
        if margin > 0:
            predicted.spans[ANSWER_KEY] = [predicted.char_span(start, start + len(answer))]
    return Example(predicted, reference)


@pytest.mark.parametrize("name", ["spacy_ptuning.textcat_scorer.v1", "spacy_ptuning.textcat_multilabel_scorer.v1"])
def test_textcat_scorer_without_textcat_examples(nlp, name):
    scorer = registry.scorers.get(name)()
    scores = scorer([_plain(nlp), _ner_example(nlp)], labels=["POS", "NEG"])
    assert scores["cats_score"] is None and scores["cats_macro_f"] is None
    assert all(v is None for k, v in scores.items())
    # with textcat examples among others, only those count: one right, one wrong
    mixed = [_plain(nlp), _textcat_example(nlp, "fun", "POS", "POS"), _textcat_example(nlp, "dull", "NEG", "POS")]
    only = mixed[1:]
    assert scorer(mixed, labels=["POS", "NEG"]) == scorer(only, labels=["POS", "NEG"])


def test_seqeval_scorer_without_ner_examples(nlp):
    scorer = registry.scorers.get("spacy_ptuning.seqeval_scorer.v1")()
    scores = scorer([_plain(nlp)])
    for key in ("ents_p", "ents_r", "ents_f", "seqeval_p", "seqeval_r", "seqeval_f", "seqeval_per_type"):
        assert scores[key] is None, key
    scores = scorer([_plain(nlp), _ner_example(nlp)])
    assert scores["seqeval_p"] == 0.5 and scores["seqeval_r"] == 1.0  # two predicted, one gold


def test_squad_scorer_without_qa_examples(nlp):
    scorer = registry.scorers.get("spacy_ptuning.squad_scorer.v1")()
    scores = scorer([_plain(nlp), _ner_example(nlp)])
    assert scores and all(v is None for v in scores.values())
    assert scorer([])["qa_f1"] is None


def test_forced_and_best_threshold_scores(nlp):
    examples = [
        _qa_example(nlp, ["john"], "john", margin=3.0),  # answered, right
        _qa_example(nlp, ["paris"], "paris", margin=-1.0),  # abstained, but the forced answer is right
        _qa_example(nlp, [], "may", margin=-2.0),  # abstained, unanswerable: right
        _qa_example(nlp, [], "john", margin=2.0),  # answered an unanswerable question: wrong
    ]
    scores = squad_scores(examples)
    assert scores["qa_f1"] == pytest.approx(0.5)  # right, wrong, right, wrong
    assert scores["qa_forced_f1"] == 1.0  # both answerable questions have the right best span
    assert scores["qa_hasans_f1"] == 0.5
    # margins best first: 3.0 (right), 2.0 (unanswerable), -1.0 (right), -2.0 (unanswerable).
    # Answering only the first scores 1 + 0 + 1 + 1 = 3/4; adding 2.0 and -1.0 scores 2/4 + 1/4:
    # the best cut lies between 3.0 and 2.0
    assert scores["qa_best_f1"] == pytest.approx(0.75)
    thresh = scores["qa_best_f1_thresh"]
    assert 2.0 <= thresh < 3.0


def test_best_threshold_edge_cases():
    assert best_threshold([]) == (0.0, 0.0)
    # all unanswerable: abstain from everything (threshold at or above the top margin)
    f1, thresh = best_threshold([(1.0, False, 0.0), (0.5, False, 0.0)])
    assert f1 == 1.0 and thresh >= 1.0
    # all answerable and right: answer everything (threshold below the lowest margin)
    f1, thresh = best_threshold([(1.0, True, 1.0), (-4.0, True, 1.0)])
    assert f1 == 1.0 and thresh < -4.0
    # no span at all (empty contexts): never answerable
    assert best_threshold([(float("-inf"), True, 0.0)]) == (0.0, 0.0)
