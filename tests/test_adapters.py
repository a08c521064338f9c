"""Parallel feed-forward adapters (He et al. 2022) beside the deep prompts: exact placement,
isolation from other users of the shared backbone, training, saving and learning rates."""
import copy
from concurrent.futures import ThreadPoolExecutor

import pytest
import spacy
import torch
from safetensors.numpy import load

from spacy_ptuning.backbone import get_backbone
from spacy_ptuning.config import PromptConfig
from spacy_ptuning.layers.encoder import find_encoder, get_torch_module
from spacy_ptuning.layers.ffn_adapter import AdaptedFeedForward, adapters_active
from spacy_ptuning.layers.prompted_transformer import PromptedTransformer
from spacy_ptuning.pipeline.learn_rates import encoder_lr_scales
from spacy_ptuning.report import parameter_report

from util import blank, encoder_cfg, randomize_adapters, sentiment_texts, textcat_examples, train


def _inputs(backbone, texts=("good movie", "the plot was boring and bad")):
    enc = backbone.tokenizer(list(texts), padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"], torch.zeros_like(enc["input_ids"])


def _module(backbone, **cfg) -> PromptedTransformer:
    module = PromptedTransformer(PromptConfig(**cfg), backbone)
    randomize_adapters_of(module)
    return module


def randomize_adapters_of(module: PromptedTransformer, std: float = 0.5) -> None:
    if module.adapters is None:
        return
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for adapter in module.adapters.layers:
            adapter.up.weight.copy_(torch.randn(adapter.up.weight.shape, generator=generator) * std)


class _Reference(torch.nn.Module):
    """A layer's feed-forward output written out by hand: LayerNorm(dropout(dense(h)) + x +
    scale * up(relu(down(x)))), He et al.'s parallel adapter beside the frozen block."""

    def __init__(self, inner, adapter):
        super().__init__()
        self.inner, self.adapter = inner, adapter

    def forward(self, hidden_states, input_tensor):
        inner, a = self.inner, self.adapter
        ffn = inner.dense(hidden_states)
        parallel = a.scale * a.up(torch.relu(a.down(input_tensor)))
        return inner.LayerNorm(ffn + parallel + input_tensor)


class _BlockReference(_Reference):
    """A feed-forward block written out by hand, plus scale * up(relu(down(x))): DistilBERT's
    lin2(act(lin1(x))) (the layer adds x and normalises after it), or ModernBERT's gated
    Wo(act(a) * g) with a, g = Wi(x) halved (x: the pre-normed states; the layer adds the
    block's output to its residual)."""

    def forward(self, x):
        inner, a = self.inner, self.adapter
        if hasattr(inner, "Wi"):
            half, gate = inner.Wi(x).chunk(2, dim=-1)
            block = inner.Wo(inner.act(half) * gate)
        else:
            block = inner.lin2(inner.activation(inner.lin1(x)))
        return block + a.scale * a.up(torch.relu(a.down(x)))


@pytest.mark.parametrize("mode", ["deep", "none"])
def test_adapters_sit_beside_each_feed_forward_block(backbone_dir, mode):
    """With adapters, every layer computes LayerNorm(FFN(x) + s * adapter(x) + x): checked
    against a copy of the backbone whose feed-forward outputs are written out by hand."""
    backbone = get_backbone(backbone_dir)
    module = _module(backbone, mode=mode, prefix_length=3, adapter_width=5, adapter_scale=2.0, init_std=0.5)
    module.eval()
    ids, mask, types = _inputs(backbone)
    reference = copy.deepcopy(backbone.model)
    family = backbone.family
    for layer, adapter in zip(family.encoder_layers(reference), module.adapters.layers):
        inner = family.feed_forward_module(layer)
        inner = inner.inner if isinstance(inner, AdaptedFeedForward) else inner
        family.set_feed_forward_module(layer, (_Reference if family.adds_input else _BlockReference)(inner, adapter))
    plain = PromptedTransformer(PromptConfig(mode=mode, prefix_length=3, init_std=0.5), backbone)
    plain.prefix = module.prefix  # the same prompts, no adapters
    with torch.no_grad():
        got = module(ids, mask, types)
        without = plain(ids, mask, types)
        backbone.__dict__["_model"], saved = reference, backbone.model
        try:
            expected = plain(ids, mask, types)
        finally:
            backbone.__dict__["_model"] = saved
    real = mask.bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-5, rtol=1e-5)
    assert (got[real] - without[real]).abs().max() > 1e-2  # the adapters do act


def test_new_adapters_leave_the_backbone_unchanged(backbone_dir):
    """up starts at zero: a new adapter-only module reproduces the plain frozen backbone."""
    backbone = get_backbone(backbone_dir)
    module = PromptedTransformer(PromptConfig(mode="none", adapter_width=8), backbone)
    ids, mask, types = _inputs(backbone)
    with torch.no_grad():
        plain = backbone.model(**backbone.model_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types,
                                                       position_ids=module.position_ids(ids, mask)))
        got = module(ids, mask, types)
    torch.testing.assert_close(got, plain.last_hidden_state, atol=1e-6, rtol=1e-6)


def test_other_users_of_the_backbone_are_unaffected(backbone_dir):
    """A module without adapters gives the same states before, after and even inside
    another module's adapter block; the backbone's weights and flags do not change."""
    backbone = get_backbone(backbone_dir)
    adapted = _module(backbone, prefix_length=3, adapter_width=4)
    other = PromptedTransformer(PromptConfig(prefix_length=3, init_std=0.5, seed=3), backbone)
    ids, mask, types = _inputs(backbone)
    weights = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    flags = [(m.training, tuple(p.requires_grad for p in m.parameters(recurse=False))) for m in backbone.model.modules()]
    with torch.no_grad():
        before = other(ids, mask, types)
        adapted(ids, mask, types)
        with adapters_active([adapted.adapters]):
            inside = other(ids, mask, types)
        after = other(ids, mask, types)
    torch.testing.assert_close(inside, before)
    torch.testing.assert_close(after, before)
    for key, value in backbone.model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    assert flags == [(m.training, tuple(p.requires_grad for p in m.parameters(recurse=False)))
                     for m in backbone.model.modules()]


@pytest.mark.parametrize("mode", ["deep", "shallow", "none"])
def test_gradients_reach_adapters_and_never_the_backbone(backbone_dir, mode):
    backbone = get_backbone(backbone_dir)
    module = _module(backbone, mode=mode, prefix_length=3, adapter_width=4)
    ids, mask, types = _inputs(backbone)
    module(ids, mask, types, dropout=True).pow(2).sum().backward()
    named = dict(module.named_parameters())
    assert any(name.startswith("adapters.") for name in named)
    for name, parameter in named.items():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert all(not p.requires_grad and p.grad is None for p in backbone.model.parameters())
    assert not any(k.startswith("backbone") for k in module.state_dict())


def test_adapter_sizes_and_rates(bert_dir):
    backbone = get_backbone(bert_dir)
    hidden, n_layers, width = backbone.hidden_size, backbone.n_layers, 6
    module = PromptedTransformer(PromptConfig(prefix_length=2, adapter_width=width, adapter_lr_scale=0.5,
                                              prompt_lr_scale=10.0), backbone)
    per_layer = hidden * width + width + width * hidden + hidden
    assert sum(p.numel() for n, p in module.named_parameters() if n.startswith("adapters.")) == n_layers * per_layer
    scales = module.parameter_lr_scales()
    assert scales["prefix.table"] == 10.0
    assert {n: s for n, s in scales.items() if n.startswith("adapters.")} == {
        f"adapters.layers.{i}.{part}.{kind}": 0.5 for i in range(n_layers) for part in ("down", "up")
        for kind in ("weight", "bias")
    }


@pytest.mark.parametrize("cfg, message", [
    ({"adapter_width": -1}, "adapter_width must be an integer >= 0"),
    ({"adapter_width": 2.5}, "adapter_width must be an integer >= 0"),
    ({"adapter_width": 4, "mode": "finetune"}, "adapter_width applies to modes deep, shallow, none"),
    ({"adapter_width": 4, "adapter_scale": 0}, "adapter_scale must be a number > 0"),
    ({"adapter_width": 4, "adapter_lr_scale": -1.0}, "adapter_lr_scale must be a number > 0"),
    ({"adapter_lr_scale": 2.0}, "there are no adapters"),
])
def test_bad_adapter_settings_are_named(cfg, message):
    with pytest.raises(ValueError, match=message):
        PromptConfig(**cfg)


def _textcat(bert_dir, **enc):
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir, **enc)}})
    return nlp


@pytest.mark.parametrize("enc", [{"adapter_width": 8}, {"mode": "none", "adapter_width": 8}],
                         ids=["mam", "adapters-only"])
def test_overfitting_IO_with_adapters(bert_dir, tmp_path, enc):
    """Trains to the labels, round-trips through to_disk/spacy.load and to_bytes with the
    adapters in the component's safetensors, and reports them in the trainable share."""
    data = sentiment_texts(8)
    nlp = _textcat(bert_dir, **enc)
    loss = train(nlp, textcat_examples(nlp, data), n_iter=40, learn_rate=0.02)
    assert loss < 0.05
    texts = [t for t, _ in data]
    for text, label in data:
        assert max(nlp(text).cats, key=nlp(text).cats.get) == label
    module = get_torch_module(nlp.get_pipe("ptuning_textcat").model)
    assert any(p.abs().sum() > 0 for p in (a.up.weight for a in module.adapters.layers))  # trained
    nlp.to_disk(tmp_path / "p")
    tensors = load((tmp_path / "p" / "ptuning_textcat" / "adapter.safetensors").read_bytes())
    assert any(".adapters.layers.0.up.weight" in k or k.endswith("adapters.layers.0.up.weight") for k in tensors)
    loaded = spacy.load(tmp_path / "p")
    for a, b in zip(nlp.pipe(texts), loaded.pipe(texts)):
        assert a.cats == pytest.approx(b.cats, abs=1e-6)
    again = _textcat(bert_dir, **enc)
    again.initialize(lambda: textcat_examples(again, data))
    again.get_pipe("ptuning_textcat").from_bytes(nlp.get_pipe("ptuning_textcat").to_bytes())
    for a, b in zip(nlp.pipe(texts), again.pipe(texts)):
        assert a.cats == pytest.approx(b.cats, abs=1e-6)
    report = parameter_report(loaded.get_pipe("ptuning_textcat").model)
    adapters = sum(p.numel() for n, p in get_torch_module(loaded.get_pipe("ptuning_textcat").model)
                   .named_parameters() if n.startswith("adapters."))
    assert report.trainable > adapters > 0


def test_adapters_learn_at_their_share_of_the_rate(bert_dir):
    nlp = _textcat(bert_dir, adapter_width=4, adapter_lr_scale=0.25)
    nlp.initialize(lambda: textcat_examples(nlp, sentiment_texts(4)))
    model = nlp.get_pipe("ptuning_textcat").model
    scales = encoder_lr_scales(model)
    assert scales and set(scales.values()) == {0.25}
    assert {name for _, name in scales} == {n for n, _ in get_torch_module(model).named_parameters()
                                            if n.startswith("adapters.")}


def test_threads_each_use_their_own_adapters(bert_dir):
    """Two components with different adapters over one backbone, predicted from several
    threads at once: every thread gets what each gives alone."""
    texts = [f"the movie was good {i} " + "great fun " * (i % 4) for i in range(12)]
    pipelines = []
    for seed in (0, 1):
        nlp = _textcat(bert_dir, adapter_width=4, seed=seed, init_std=0.5)
        train(nlp, textcat_examples(nlp, sentiment_texts(4)), n_iter=3)  # a head that is not zero
        randomize_adapters(nlp, seed=seed)
        pipelines.append(nlp)
    alone = [[d.cats for d in nlp.pipe(texts, batch_size=1)] for nlp in pipelines]
    assert alone[0] != alone[1]

    def work(i):
        return i, [d.cats for d in pipelines[i % 2].pipe(texts, batch_size=1)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        for i, got in pool.map(work, range(16)):
            assert got == alone[i % 2]


@pytest.mark.parametrize("max_windows", [1, 2])
def test_window_cap_keeps_adapter_gradients(bert_dir, max_windows):
    """Splitting windows over several passes changes neither outputs nor adapter gradients."""
    long_texts = [" ".join(["the good movie"] * 20), "bad", " ".join(["awful plot"] * 12)]
    grads, cats = [], []
    for cap in (64, max_windows):
        nlp = _textcat(bert_dir, adapter_width=4, max_windows=cap)
        train(nlp, textcat_examples(nlp, sentiment_texts(4)), n_iter=3)
        randomize_adapters(nlp)
        model = nlp.get_pipe("ptuning_textcat").model
        cats.append([d.cats for d in nlp.pipe(long_texts)])
        module = get_torch_module(model)
        module.zero_grad()
        scores, backprop = model.begin_update([nlp.make_doc(t) for t in long_texts])
        backprop(model.ops.alloc2f(*scores.shape) + 1.0)
        grads.append(torch.cat([p.grad.flatten() for n, p in module.named_parameters() if n.startswith("adapters.")]))
    for a, b in zip(*cats):
        assert a == pytest.approx(b, abs=1e-6)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    assert grads[0].abs().sum() > 0


def test_mixed_forward_gives_each_row_its_own_adapters(bert_dir):
    """Adapter-only, MAM and prompt-only encoders in one pass: each equals its own run."""
    from spacy_ptuning.layers.mixed_batch import mixed_forward

    import numpy

    docs_text = ["john visited london", "the movie was good and fun", " ".join(["great plot"] * 15), "bad"]
    encoders = []
    for enc in ({"mode": "none", "adapter_width": 4}, {"adapter_width": 6, "prefix_length": 3, "layer_mix": True},
                {"prefix_length": 5}):
        nlp = _textcat(bert_dir, init_std=0.5, **enc)
        nlp.initialize(lambda: textcat_examples(nlp, sentiment_texts(4)))
        randomize_adapters(nlp, seed=len(encoders))
        encoders.append((nlp, find_encoder(nlp.get_pipe("ptuning_textcat").model)))
    docs = [encoders[0][0].make_doc(t) for t in docs_text]
    tasks = [(encoder, docs[i:]) for i, (_, encoder) in enumerate(encoders)]
    for cap_docs in (tasks, tasks[:2], tasks[::2]):
        outputs = mixed_forward(cap_docs)
        for (encoder, task_docs), output in zip(cap_docs, outputs):
            alone = encoder.predict(task_docs)
            mask = alone.batch.attention_mask.astype(bool)
            numpy.testing.assert_allclose(output.hidden[mask], alone.hidden[mask], atol=1e-4)
