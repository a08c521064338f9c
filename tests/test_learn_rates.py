"""The encoder's trainable parameters learn at their share of the optimizer's rate and the head
at the full rate (pipeline/learn_rates.py): mode "finetune"'s backbone copy at finetune_lr_scale,
prompts and a projection MLP at prompt_lr_scale."""
import numpy
import pytest
import spacy
from thinc.api import SGD

from spacy_ptuning.layers.encoder import get_torch_module
from spacy_ptuning.pipeline.learn_rates import ScaledOptimizer

from util import encoder_cfg, sentiment_texts, textcat_examples


class Recorder:
    """An optimizer that records each parameter's lr_scale and leaves the weights alone."""

    def __init__(self):
        self.scales = {}

    def __call__(self, key, weights, gradient, *, lr_scale=1.0):
        self.scales[key] = lr_scale
        return weights, gradient


def _textcat(bert_dir, **settings):
    nlp = spacy.blank("en")
    cfg = encoder_cfg(bert_dir, **settings)
    pipe = nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": cfg}})
    examples = textcat_examples(nlp, sentiment_texts(8))
    nlp.initialize(lambda: examples)
    return nlp, pipe, examples


@pytest.mark.parametrize("scale", [0.01, 1.0])
def test_backbone_copy_learns_at_its_share_and_the_head_at_the_full_rate(bert_dir, scale):
    _, pipe, examples = _textcat(bert_dir, mode="finetune", finetune_lr_scale=scale)
    torch_scales, head_scales = _recorded_scales(pipe, examples, "finetuned")
    assert torch_scales == {scale} and head_scales == {1.0}


@pytest.mark.parametrize("mode,projection,scale", [
    ("deep", True, 0.01), ("deep", False, 0.01), ("shallow", False, 0.01),
    ("deep", False, 10.0),  # P-tuning v2's recipe: prompts above the head's rate
])
def test_prompts_learn_at_their_share_and_the_head_at_the_full_rate(bert_dir, mode, projection, scale):
    _, pipe, examples = _textcat(bert_dir, mode=mode, prefix_projection=projection, prompt_lr_scale=scale)
    torch_scales, head_scales = _recorded_scales(pipe, examples, "prefix")
    assert torch_scales == {scale} and head_scales == {1.0}


def _recorded_scales(pipe, examples, part):
    """The lr_scale finish_update gave the encoder part's parameters (all of them must be there)
    and the head's."""
    pipe.update(examples)  # gradients only (no sgd)
    recorder = Recorder()
    pipe.finish_update(recorder)
    n_part = sum(1 for p in getattr(get_torch_module(pipe.model), part).parameters() if p.requires_grad)
    torch_keys = [k for k in recorder.scales if k[1].startswith(f"{part}.")]
    head_keys = [k for k in recorder.scales if k[1] in ("W", "b")]
    assert len(torch_keys) == n_part > 0 and head_keys
    return {recorder.scales[k] for k in torch_keys}, {recorder.scales[k] for k in head_keys}


def test_scaled_optimizer_scales_the_step_of_the_named_owners_only():
    weights = numpy.ones((3,), dtype="f")
    gradient = numpy.full((3,), 2.0, dtype="f")
    optimizer = ScaledOptimizer(SGD(0.1, L2=0.0, grad_clip=0.0), {(7, "w"): 0.25})
    scaled, _ = optimizer((7, "w"), weights.copy(), gradient.copy())
    plain, _ = optimizer((8, "w"), weights.copy(), gradient.copy())
    numpy.testing.assert_allclose(scaled, 1.0 - 0.1 * 0.25 * 2.0)
    numpy.testing.assert_allclose(plain, 1.0 - 0.1 * 2.0)


@pytest.mark.parametrize("mode,setting", [("finetune", "finetune_lr_scale"), ("deep", "prompt_lr_scale")])
def test_layer_mix_learns_at_the_heads_rate(bert_dir, mode, setting):
    """The layer mix belongs with the head: the encoder's share of the rate never applies to it."""
    _, pipe, examples = _textcat(bert_dir, mode=mode, layer_mix=True, **{setting: 0.01})
    pipe.update(examples)
    recorder = Recorder()
    pipe.finish_update(recorder)
    mix = [scale for key, scale in recorder.scales.items() if key[1] == "layer_weights"]
    encoder = [scale for key, scale in recorder.scales.items() if key[1].startswith(("finetuned.", "prefix."))]
    assert mix == [1.0] and set(encoder) == {0.01}


def test_rates_hold_under_spacys_own_components(bert_dir):
    """The shares apply where the encoder's weights are updated (its torch shim), so spaCy's own
    components over spacy_ptuning.PromptTok2Vec.v1 train the prompts and adapters at their
    shares too (before, only the plugin's components did)."""
    from spacy.training import Example

    nlp = spacy.blank("en")
    encoder = {"@architectures": "spacy_ptuning.PromptEncoder.v1", **encoder_cfg(bert_dir, prompt_lr_scale=10.0,
                                                                                  adapter_width=4, adapter_lr_scale=0.1)}
    tagger = nlp.add_pipe("tagger", config={"model": {
        "@architectures": "spacy.Tagger.v2", "nO": None,
        "tok2vec": {"@architectures": "spacy_ptuning.PromptTok2Vec.v1", "encoder": encoder}}})
    examples = [Example.from_dict(nlp.make_doc("the good movie"), {"tags": ["DT", "JJ", "NN"]})]
    nlp.initialize(lambda: examples)
    tagger.update(examples)
    recorder = Recorder()
    tagger.finish_update(recorder)
    by_part = {}
    for (_, name), scale in recorder.scales.items():
        by_part.setdefault(name.split(".")[0] if "." in name else "head", set()).add(scale)
    assert by_part["prefix"] == {10.0} and by_part["adapters"] == {0.1} and by_part["head"] == {1.0}
