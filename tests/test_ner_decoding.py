"""Constrained BIO decoding and seqeval scoring."""
import itertools

import numpy
import pytest
import spacy
from spacy.scorer import get_ner_prf
from spacy.tokens import Span
from spacy.training import Example

from spacy_ptuning.ner.scoring import make_seqeval_scorer, seqeval_scores
from spacy_ptuning.ner.tags import bio_tags, is_valid, tags_to_spans, transition_mask, viterbi

TAGS = bio_tags(["PER", "LOC", "ORG"])


@pytest.mark.parametrize("seed", range(30))
def test_decoding_is_always_valid(seed):
    rng = numpy.random.default_rng(seed)
    scores = rng.normal(size=(rng.integers(0, 25), len(TAGS))) * 3
    # make invalid starts attractive: I- tags get the top raw scores
    scores[:, [i for i, t in enumerate(TAGS) if t.startswith("I-")]] += 2
    allowed, start = transition_mask(TAGS)
    path = [TAGS[i] for i in viterbi(scores, allowed, start)]
    assert len(path) == len(scores) and is_valid(path)


def test_decoding_is_the_best_valid_path():
    rng = numpy.random.default_rng(7)
    tags = bio_tags(["A", "B"])
    allowed, start = transition_mask(tags)
    for _ in range(20):
        scores = rng.normal(size=(4, len(tags)))
        best = max(
            (p for p in itertools.product(range(len(tags)), repeat=4) if is_valid([tags[i] for i in p])),
            key=lambda p: sum(scores[t, i] for t, i in enumerate(p)),
        )
        assert viterbi(scores, allowed, start) == list(best)


def test_tags_to_spans():
    assert tags_to_spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "LOC")]
    assert tags_to_spans([]) == []


def _example(nlp, words, gold, pred):
    ref = spacy.tokens.Doc(nlp.vocab, words=words)
    ref.ents = [Span(ref, s, e, label=lab) for s, e, lab in gold]
    predicted = spacy.tokens.Doc(nlp.vocab, words=words)
    predicted.ents = [Span(predicted, s, e, label=lab) for s, e, lab in pred]
    return Example(predicted, ref)


def test_seqeval_agrees_with_spacy():
    nlp = spacy.blank("en")
    words = "John Smith went to New York with Acme Corp staff".split()
    examples = [
        _example(nlp, words, [(0, 2, "PER"), (4, 6, "LOC"), (7, 9, "ORG")], [(0, 2, "PER"), (5, 6, "LOC"), (7, 9, "LOC")]),
        _example(nlp, words, [(0, 1, "PER")], [(0, 1, "PER"), (4, 6, "LOC")]),
        _example(nlp, words, [], []),
    ]
    ours = seqeval_scores(examples)
    spacy_scores = get_ner_prf(examples)
    assert ours["seqeval_f"] == pytest.approx(spacy_scores["ents_f"])
    assert ours["seqeval_p"] == pytest.approx(spacy_scores["ents_p"]) == pytest.approx(2 / 5)
    assert ours["seqeval_r"] == pytest.approx(spacy_scores["ents_r"]) == pytest.approx(2 / 4)
    assert ours["seqeval_per_type"]["PER"]["f"] == pytest.approx(1.0)
    assert ours["seqeval_per_type"]["ORG"]["r"] == pytest.approx(0.0)
    combined = make_seqeval_scorer()(examples)
    assert combined["ents_f"] == pytest.approx(combined["seqeval_f"])


def test_seqeval_projects_predictions_made_on_other_tokens():
    """spacy evaluate re-tokenizes gold text: predictions are scored on the gold tokens."""
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example

    from spacy_ptuning.ner.scoring import seqeval_scores

    nlp = spacy.blank("en")
    reference = Doc(nlp.vocab, words=["(Reuters)", "Peter", "Blackburn", "won"], ents=["B-ORG", "B-PER", "I-PER", "O"])
    predicted = nlp.make_doc(reference.text)  # "(Reuters)" becomes three tokens
    assert len(predicted) == len(reference) + 2
    predicted.ents = [predicted.char_span(1, 8, label="ORG"), predicted.char_span(10, 25, label="PER")]
    scores = seqeval_scores([Example(predicted, reference)])
    assert scores["seqeval_f"] == 1.0
    from spacy.scorer import get_ner_prf

    assert get_ner_prf([Example(predicted, reference)])["ents_f"] == 1.0


def test_seqeval_skips_docs_without_entity_annotation():
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example

    from spacy_ptuning.ner.scoring import seqeval_scores

    nlp = spacy.blank("en")
    gold = Doc(nlp.vocab, words=["Peter", "won"], ents=["B-PER", "O"])
    pred = Doc(nlp.vocab, words=["Peter", "won"], ents=["B-PER", "O"])
    unannotated = Example(nlp.make_doc("a good film"), nlp.make_doc("a good film"))
    assert seqeval_scores([Example(pred, gold), unannotated])["seqeval_f"] == 1.0
