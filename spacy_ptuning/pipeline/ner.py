"""ptuning_ner: named entities from a token-classification head over deep prompts.

The head predicts one IOB2 tag per spaCy token, from the mean of the token's
wordpiece states over every window that holds it. Decoding is constrained
Viterbi, so every predicted sequence is valid IOB2: no entity is invented or
silently dropped by a repair step.
"""
from functools import lru_cache
from itertools import islice
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats2d

from ..ner.tags import OUTSIDE, bio_tags, tags_to_spans, transition_mask, viterbi
from ..layers.encoder import predict_in_groups
from ..text import is_blank
from .adapter_io import AdapterSerializationMixin
from .defaults import default_model

DEFAULT_NER_MODEL = default_model(
    """
[model]
@architectures = "spacy_ptuning.TokenTagger.v1"
dropout = 0.1
nO = null
"""
)
NER_SCORE_WEIGHTS = {
    "seqeval_f": 1.0,
    "seqeval_p": 0.0,
    "seqeval_r": 0.0,
    "ents_f": 0.0,
    "ents_p": None,
    "ents_r": None,
    "ents_per_type": None,
    "seqeval_per_type": None,
}


@Language.factory(
    "ptuning_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={"model": DEFAULT_NER_MODEL, "scorer": {"@scorers": "spacy_ptuning.seqeval_scorer.v1"}},
    default_score_weights=NER_SCORE_WEIGHTS,
)
def make_ptuning_ner(nlp: Language, name: str, model: Model, scorer: Optional[Callable]) -> "PromptEntityRecognizer":
    """Named-entity recognition with P-tuning v2 prompts over a frozen backbone."""
    return PromptEntityRecognizer(nlp.vocab, model, name, scorer=scorer)


@lru_cache(maxsize=32)
def _transitions(labels: Tuple[str, ...]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Valid IOB2 transitions for a label set (built once, not per batch)."""
    return transition_mask(bio_tags(labels))


def biluo_to_iob2(tag: str) -> str:
    """spaCy's aligned BILUO tag -> IOB2 (U/B open an entity, I/L continue it)."""
    if tag == OUTSIDE:
        return OUTSIDE
    prefix, label = tag.split("-", 1)
    return ("B-" if prefix in ("B", "U") else "I-") + label


class PromptEntityRecognizer(AdapterSerializationMixin, TrainablePipe):
    """Token classifier over IOB2 tags whose decoding only yields valid sequences."""

    def __init__(self, vocab: Vocab, model: Model, name: str = "ptuning_ner", *, scorer: Optional[Callable] = None):
        self.vocab = vocab
        self.model = model
        self.name = name
        self.cfg: Dict = {"labels": []}
        self.scorer = scorer

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    @property
    def tags(self) -> List[str]:
        """IOB2 tags in the head's output order."""
        return bio_tags(self.labels)

    def add_label(self, label: str) -> int:
        if not isinstance(label, str) or not label or "-" == label[:1]:
            raise ValueError(f"Entity label {label!r} must be a non-empty string (e.g. 'PER').")
        if label in self.labels:
            return 0
        head = self.model.get_ref("head")
        if head.has_dim("nO") and head.get_dim("nO"):
            raise ValueError(
                f"Component {self.name!r} is already initialized with labels {list(self.labels)}; "
                f"cannot add {label!r}. List it in [initialize.components.{self.name}.labels] and retrain."
            )
        self.cfg["labels"].append(label)
        return 1

    def initialize(
        self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Collect the entity labels (or take `labels`), size the head, report the trainable share."""
        validate_get_examples(get_examples, "PromptEntityRecognizer.initialize")
        if labels is None:
            labels = sorted({ent.label_ for eg in get_examples() for ent in eg.reference.ents})
        for label in labels:
            self.add_label(label)
        if not self.labels:
            raise ValueError(
                f"Component {self.name!r} found no entity labels: the training examples have no "
                f"entities and [initialize.components.{self.name}.labels] is not set."
            )
        self.model.get_ref("head").set_dim("nO", len(self.tags))
        sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=sample)
        self._finish_initialize(nlp)

    def predict(self, docs: Iterable[Doc]) -> List[numpy.ndarray]:
        """Best valid IOB2 path (tag indices) per doc."""
        docs = list(docs)
        probs = predict_in_groups(self.model, docs)
        allowed, start = _transitions(self.labels)
        paths = []
        for p in probs:
            log_p = numpy.log(self.model.ops.to_numpy(p).astype("float64") + 1e-12)
            paths.append(numpy.asarray(viterbi(log_p, allowed, start), dtype="int64"))
        return paths

    def set_annotations(self, docs: Iterable[Doc], paths: Sequence[numpy.ndarray]) -> None:
        """Predicted entities, trimmed of blank tokens at either end (a span of only whitespace is
        never an entity), added to the entities already on the doc (e.g. from an entity_ruler
        placed before): as spaCy's own ner, a prediction that overlaps one of them is dropped."""
        tags = self.tags
        for doc, path in zip(docs, paths):
            preset = list(doc.ents)
            taken = {i for ent in preset for i in range(ent.start, ent.end)}
            spans = []
            for start, end, label in tags_to_spans([tags[i] for i in path]):
                while start < end and is_blank(doc[start].text):
                    start += 1
                while end > start and is_blank(doc[end - 1].text):
                    end -= 1
                if start < end and not taken.intersection(range(start, end)):
                    spans.append(Span(doc, start, end, label=label))
            doc.set_ents(preset + spans, default="outside")

    def get_loss(self, examples: Iterable[Example], probs: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        """Mean token cross-entropy; tokens whose gold tag is missing or misaligned add nothing."""
        validate_examples(examples, "PromptEntityRecognizer.get_loss")
        ops = self.model.ops
        index = {tag: i for i, tag in enumerate(self.tags)}
        truths, masks = [], []
        for eg in examples:
            gold = eg.get_aligned_ner()
            truth = numpy.zeros((len(gold),), dtype="int64")
            mask = numpy.ones((len(gold),), dtype="float32")
            for i, tag in enumerate(gold):
                if tag is None or tag == "-":
                    mask[i] = 0.0
                    continue
                iob2 = biluo_to_iob2(tag)
                if iob2 not in index:
                    raise ValueError(
                        f"Component {self.name!r} knows the labels {list(self.labels)} but an example has "
                        f"an entity labelled {iob2[2:]!r} (text: {eg.reference.text[:60]!r}). Add it to "
                        f"[initialize.components.{self.name}.labels] or fix the data."
                    )
                truth[i] = index[iob2]
            truths.append(truth)
            masks.append(mask)
        n_scored = max(float(sum(m.sum() for m in masks)), 1.0)
        loss = 0.0
        d_probs = []
        for p, truth, mask in zip(probs, truths, masks):
            rows = ops.xp.arange(len(truth))
            truth_x, mask_x = ops.asarray(truth), ops.asarray(mask)
            onehot = ops.alloc2f(*p.shape)
            onehot[rows, truth_x] = 1.0
            d_probs.append((p - onehot) * (mask_x[:, None] / n_scored))
            loss -= float((ops.xp.log(p[rows, truth_x] + 1e-12) * mask_x).sum())
        return loss / n_scored, d_probs

    def _check_loaded(self) -> None:
        n_out = self.model.get_ref("head").maybe_get_dim("nO")
        if n_out is not None and n_out != len(self.tags):
            raise ValueError(
                f"Component {self.name!r}: the saved head predicts {n_out} tags but cfg lists labels "
                f"{list(self.labels)} ({len(self.tags)} IOB2 tags); the label set does not match the weights."
            )
