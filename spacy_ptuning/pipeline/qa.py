"""ptuning_qa: extractive question answering (SQuAD 1.1 / 2.0) over deep prompts.

The doc is the context and `doc._.question` the question; both are encoded as
a pair in windows of the context. The head scores every context token as an
answer start and end, and the [CLS] vector as "no answer"; the best span over
the whole context wins if it beats "no answer" by `null_threshold`. Spans are
whole spaCy tokens, so answers map to exact character offsets of the doc.
"""
from itertools import islice
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats2d

from ..qa.decoding import best_spans
from ..qa.extensions import ANSWER_KEY, ANSWER_LABEL, register_extensions
from ..layers.encoder import predict_in_groups
from ..settings import PositiveInt
from ..text import is_blank
from .adapter_io import AdapterSerializationMixin
from .defaults import default_model

DEFAULT_QA_MODEL = default_model(
    """
[model]
@architectures = "spacy_ptuning.SpanExtractor.v1"
dropout = 0.1
""",
    window=384,
    stride=128,
    text_pair="question",
)
# model-best is chosen by scores that abstaining cannot win: HasAns F1 with forced
# answers, and SQuAD v2.0's best_f1 (overall F1 at the best threshold, which is at
# least the always-no-answer score for every model). qa_f1 (at the stored
# threshold) is shown next to them.
QA_SCORE_WEIGHTS = {
    "qa_forced_f1": 0.5,
    "qa_best_f1": 0.5,
    "qa_f1": 0.0,
    "qa_hasans_f1": 0.0,
    "qa_noans_f1": 0.0,
    "qa_exact": None,
    "qa_best_f1_thresh": None,
    "qa_hasans_em": None,
    "qa_noans_em": None,
    "qa_total": None,
    "qa_hasans_n": None,
}
Prediction = Tuple[List[Tuple[int, int, float]], float]  # (n-best token spans, no-answer score)


@Language.factory(
    "ptuning_qa",
    assigns=["doc.spans", "doc._.answers", "doc._.no_answer_score"],
    requires=["doc._.question"],
    default_config={
        "model": DEFAULT_QA_MODEL,
        "max_answer_length": 30,
        "n_best": 5,
        "null_threshold": None,
        "scorer": {"@scorers": "spacy_ptuning.squad_scorer.v1"},
    },
    default_score_weights=QA_SCORE_WEIGHTS,
)
def make_ptuning_qa(
    nlp: Language, name: str, model: Model, max_answer_length: PositiveInt, n_best: PositiveInt,
    null_threshold: Optional[float], scorer: Optional[Callable],
) -> "PromptQuestionAnswerer":
    """Extractive QA with P-tuning v2 prompts over a frozen backbone."""
    return PromptQuestionAnswerer(
        nlp.vocab, model, name, max_answer_length=max_answer_length, n_best=n_best,
        null_threshold=null_threshold, scorer=scorer,
    )


class PromptQuestionAnswerer(AdapterSerializationMixin, TrainablePipe):
    """Start/end span head with a "no answer" option, over a question-context pair encoder.

    max_answer_length: longest answer in spaCy tokens; n_best: alternatives kept
    in doc._.answers; null_threshold: how much the best span must beat "no answer"
    by (raise it for fewer, surer answers; -inf never abstains, as for SQuAD 1.1).
    """

    def __init__(
        self, vocab: Vocab, model: Model, name: str = "ptuning_qa", *, max_answer_length: int = 30,
        n_best: int = 5, null_threshold: Optional[float] = None, scorer: Optional[Callable] = None,
    ):
        if max_answer_length < 1 or n_best < 1:
            raise ValueError(
                f"ptuning_qa needs max_answer_length >= 1 and n_best >= 1, got {max_answer_length} and {n_best}."
            )
        register_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        # null_threshold None: the threshold saved with the component (the dev-calibrated one), 0.0
        # for a new one; a number (a config setting or an override at spacy.load) wins over the saved one
        self.configured_threshold = null_threshold
        self.cfg: Dict = {"max_answer_length": max_answer_length, "n_best": n_best,
                          "null_threshold": 0.0 if null_threshold is None else float(null_threshold)}
        self.scorer = scorer
        self.calibrated_threshold: Optional[float] = None

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None) -> None:
        """Initialize the head; examples are optional (its sizes come from the backbone), and
        only those whose predicted doc has a question serve as the sample."""
        validate_get_examples(get_examples, "PromptQuestionAnswerer.initialize")
        asked = (eg.predicted for eg in get_examples() if eg.predicted._.question is not None)
        sample = list(islice(asked, 10))
        if sample:
            self.model.initialize(X=sample)
        else:
            self.model.initialize()
        self._finish_initialize(nlp)

    def predict(self, docs: Iterable[Doc]) -> List[Optional[Prediction]]:
        """n-best spans and the no-answer score per doc; None for docs with no question set.

        Docs whose doc._.question is None are not asked anything (so a pipeline
        that also tags or classifies runs on plain texts); a blank question is an error.
        """
        docs = list(docs)
        asked = _asked(docs)
        out: List[Optional[Prediction]] = [None] * len(docs)
        if not asked:
            return out
        logits = predict_in_groups(self.model, [docs[i] for i in asked])
        for i, rows in zip(asked, logits):
            rows = self.model.ops.to_numpy(rows).astype("float64")
            blank = numpy.asarray([is_blank(token.text) for token in docs[i]], dtype=bool)
            starts, ends = rows[1:, 0].copy(), rows[1:, 1].copy()
            starts[blank] = ends[blank] = -numpy.inf  # an answer never starts or ends on blank tokens
            spans = best_spans(starts, ends, self.cfg["max_answer_length"], self.cfg["n_best"])
            out[i] = ([(c.start, c.end, c.score) for c in spans], float(rows[0, 0] + rows[0, 1]))
        return out

    def encoded_docs(self, docs: Sequence[Doc]) -> List[Doc]:
        """The docs predict runs the model on: those with a question (for ptuning_mixed_tasks)."""
        return [docs[i] for i in _asked(docs)]

    def set_annotations(self, docs: Iterable[Doc], predictions: List[Optional[Prediction]]) -> None:
        for doc, prediction in zip(docs, predictions):
            if prediction is None:
                continue
            spans, null_score = prediction
            doc._.answers = [
                {"text": doc[s : e + 1].text, "start_char": doc[s].idx, "end_char": doc[e].idx + len(doc[e]),
                 "score": score}
                for s, e, score in spans
            ]
            doc._.no_answer_score = null_score
            answered = bool(spans) and spans[0][2] - null_score > self.cfg["null_threshold"]
            best = [Span(doc, spans[0][0], spans[0][1] + 1, label=ANSWER_LABEL)] if answered else []
            doc.spans[ANSWER_KEY] = best

    def score(self, examples: Iterable[Example], **kwargs) -> Dict:
        """The scorer's scores; also remembers qa_best_f1_thresh, the null threshold
        that maximised F1 on these examples, for `use_calibrated_threshold`.

        Reference docs with a question whose predicted doc has none were never
        asked (spaCy's Corpus makes predicted docs with make_doc, which drops
        doc._.question): that is an error, not a row of silent abstentions."""
        examples = list(examples)
        self._refuse_lost_questions(
            examples, "so they were never asked and would all score as 'no answer'. `spacy evaluate` and spaCy's "
            "Corpus reader make predicted docs from the text alone: evaluate QA with `spacy-ptuning evaluate "
            "MODEL DATA` (SQuAD JSON or .spacy), or read with spacy_ptuning.SquadCorpus.v1, which sets "
            "doc._.question on both docs."
        )
        unasked = [eg for eg in examples if ANSWER_KEY in eg.reference.spans and eg.reference._.question is None]
        if unasked:
            raise ValueError(
                f"Component {self.name!r}: {len(unasked)} of {len(examples)} examples carry QA answers "
                f"(doc.spans[{ANSWER_KEY!r}]) but no question (first text: {unasked[0].reference.text[:40]!r}): "
                "the .spacy file was saved without user data, which holds doc._.question. Save it with "
                "DocBin(store_user_data=True), or evaluate SQuAD JSON with `spacy ptuning evaluate MODEL DATA --task qa`."
            )
        scores = super().score(examples, **kwargs)
        threshold = scores.get("qa_best_f1_thresh")
        if threshold is not None:
            self.calibrated_threshold = float(threshold)
        return scores

    def _configured_settings(self) -> Set[str]:
        """A null_threshold given in the config (or as an override at spacy.load) wins over the
        one saved with the component."""
        return {"null_threshold"} if self.configured_threshold is not None else set()

    def use_calibrated_threshold(self) -> None:
        """Store the threshold found by the last score() as null_threshold (a no-op before any)."""
        if self.calibrated_threshold is not None:
            self.cfg["null_threshold"] = self.calibrated_threshold

    def _refuse_lost_questions(self, examples: List[Example], consequence: str) -> None:
        """An error when reference docs have a question their predicted docs lost."""
        lost = [eg for eg in examples if eg.reference._.question is not None and eg.predicted._.question is None]
        if lost:
            raise ValueError(
                f"Component {self.name!r}: {len(lost)} of {len(examples)} examples have a question on the "
                f"reference doc but none on the predicted doc (first: {lost[0].reference._.question!r}), "
                + consequence
            )

    def update(
        self, examples: Iterable[Example], *, drop: float = 0.0, sgd=None, losses: Optional[Dict[str, float]] = None
    ) -> Dict[str, float]:
        """Train on the examples whose predicted doc has a question; the others belong to other
        tasks of the pipeline (as textcat and NER skip examples without their annotation)."""
        validate_examples(examples, "PromptQuestionAnswerer.update")
        examples = list(examples)
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        self._refuse_lost_questions(
            examples, "so they cannot be trained on: read QA data with spacy_ptuning.SquadCorpus.v1, or set "
            "doc._.question on both docs."
        )
        asked = [eg for eg in examples if eg.predicted._.question is not None]
        if not asked:
            return losses
        return super().update(asked, drop=drop, sgd=sgd, losses=losses)

    def get_loss(self, examples: Iterable[Example], logits: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        """Mean of start and end cross-entropy over [no answer] + context tokens."""
        validate_examples(examples, "PromptQuestionAnswerer.get_loss")
        examples = list(examples)
        ops = self.model.ops
        loss = 0.0
        d_logits = []
        for eg, rows in zip(examples, logits):
            d = ops.alloc2f(*rows.shape)
            d_logits.append(d)
            gold_rows = self._gold_positions(eg)
            if gold_rows is None:
                continue
            for col, gold in zip((0, 1), gold_rows):
                scores = rows[:, col]
                probs = ops.xp.exp(scores - scores.max())
                probs /= probs.sum()
                d[:, col] = probs
                d[gold, col] -= 1.0
                loss -= float(ops.xp.log(probs[gold] + 1e-12))
            d /= 2 * len(examples)
        return loss / (2 * max(len(examples), 1)), d_logits

    def _gold_positions(self, eg: Example) -> Optional[Tuple[int, int]]:
        """Rows of the gold start and end (1 + token index), (0, 0) for no answer, or None
        when gold answer texts exist but none could be placed in the context (the
        reader warned about it): such an example is scored but not trained on."""
        spans = eg.reference.spans.get(ANSWER_KEY, [])
        if not len(spans):
            return None if eg.reference._.gold_answers else (0, 0)
        gold = spans[0]
        span = eg.predicted.char_span(gold.start_char, gold.end_char, alignment_mode="expand")
        if span is None or not len(span):
            raise ValueError(
                f"Component {self.name!r}: the gold answer {gold.text!r} (question {eg.reference._.qa_id}) "
                "cannot be placed on the predicted doc's tokens."
            )
        return span.start + 1, span.end


def _asked(docs: Sequence[Doc]) -> List[int]:
    """Indices of the docs that have a question."""
    return [i for i, doc in enumerate(docs) if doc._.question is not None]



def answer_question(nlp: Language, question: str, context: str) -> Dict:
    """One call: {"answer": text or None, "start_char", "end_char", "score", "no_answer_score", "alternatives"}."""
    for name, value in (("question", question), ("context", context)):
        if not isinstance(value, str):
            raise TypeError(f"answer_question: {name} must be a string, got {type(value).__name__} ({value!r:.40}).")
    if not question.strip():
        raise ValueError("answer_question: the question is blank; ask something.")
    if not any(isinstance(pipe, PromptQuestionAnswerer) for _, pipe in nlp.pipeline):
        raise ValueError(f"answer_question: the pipeline {nlp.pipe_names} has no ptuning_qa component.")
    register_extensions()
    doc = nlp.make_doc(context)
    doc._.question = question
    doc = nlp(doc)
    best = doc._.answer
    return {
        "answer": best.text if best is not None else None,
        "start_char": best.start_char if best is not None else None,
        "end_char": best.end_char if best is not None else None,
        "score": doc._.answers[0]["score"] if best is not None else None,
        "no_answer_score": doc._.no_answer_score,
        "alternatives": doc._.answers or [],
    }
