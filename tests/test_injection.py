"""Deep/shallow prompt injection into every supported family, pinned against transformers' behaviour."""
import inspect

import pytest
import torch

from spacy_ptuning.backbone import _no_pooler, get_backbone
from spacy_ptuning.config import PromptConfig
from spacy_ptuning.layers.families import family_of_model as model_family
from spacy_ptuning.layers.prefix_attention import (
    _with_prompt_columns,
    install_prefix_attention,
    prompts_active,
    self_attention,
)
from spacy_ptuning.layers.prompted_transformer import PromptedTransformer


def _inputs(backbone, texts=("good movie", "the plot was boring and bad")):
    enc = backbone.tokenizer(list(texts), padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"], torch.zeros_like(enc["input_ids"])


@pytest.mark.parametrize("mode", ["deep", "shallow"])
def test_masked_prefix_leaves_outputs_unchanged(backbone_dir, mode):
    backbone = get_backbone(backbone_dir)
    module = PromptedTransformer(PromptConfig(prefix_length=5, mode=mode, init_std=1.0), backbone)
    module.eval()
    ids, mask, types = _inputs(backbone)
    plain = backbone.model(**backbone.model_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types))
    plain = plain.last_hidden_state
    hidden = module(ids, mask, types, prompt_visible=False)
    real = mask.bool()
    assert hidden.shape == plain.shape
    torch.testing.assert_close(hidden[real], plain[real], atol=1e-5, rtol=1e-5)
    visible = module(ids, mask, types)
    assert (visible[real] - plain[real]).abs().max() > 1e-3


def _real_positions(backbone, start: int, stop: int, batch: int) -> torch.Tensor:
    offset = int(backbone.config.pad_token_id) + 1 if backbone.is_roberta_like else 0
    return (torch.arange(start, stop) + offset).unsqueeze(0).expand(batch, -1)


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_prompts_act_as_extra_keys_and_values(backbone_dir, attn_implementation):
    """Exactness of the injection on this transformers version: the keys and values
    of a sequence's first m tokens, given as prompts to a run over the rest (at the
    same positions), reproduce the full run's states of the rest, padding included.

    MPNet and DeBERTa add relative position terms to every score, and prompts have no
    position, so their columns get none: there the equivalence holds with those terms
    off (MPNet's bias zeroed, DeBERTa loaded without relative attention);
    test_relative_position_terms_reach_the_tokens_columns_only checks the terms themselves."""
    from transformers import AutoModel

    backbone = get_backbone(backbone_dir)
    family = backbone.family
    try:
        model = AutoModel.from_pretrained(backbone_dir, attn_implementation=attn_implementation,
                                          **_no_pooler(family), **_without_relative_positions(family))
    except ValueError as err:  # e.g. ELECTRA before transformers 5: no sdpa
        pytest.skip(f"{family.name}: {str(err)[:80]}")
    model.eval()
    if family.name == "mpnet":
        with torch.no_grad():
            model.encoder.relative_attention_bias.weight.zero_()
    install_prefix_attention(model)
    ids, mask, _ = _inputs(backbone, ("the plot was boring and bad , the actor was awful", "good movie , great"))
    batch, n = ids.shape
    m = 3
    captured = {}

    def capture(name, index, part=None):
        def hook(module, args, output):
            output = output if part is None else output.chunk(3, dim=-1)[part]  # fused [q; k; v]
            captured[(name, index)] = output.view(batch, n, backbone.n_heads, -1).transpose(1, 2)
        return hook

    handles = []
    for i, layer in enumerate(family.encoder_layers(model)):
        inner = self_attention(layer, family)
        if family.qkv:
            handles += [getattr(inner, family.qkv).register_forward_hook(capture(name, i, part))
                        for name, part in (("k", 1), ("v", 2))]
        else:
            handles += [getattr(inner, family.key).register_forward_hook(capture("k", i)),
                        getattr(inner, family.value).register_forward_hook(capture("v", i))]
    with torch.no_grad():
        types = torch.zeros_like(ids)

        def run(start, positions=True):
            inputs = backbone.model_inputs(input_ids=ids[:, start:], attention_mask=mask[:, start:],
                                           token_type_ids=types[:, start:])
            if positions and "position_ids" in inspect.signature(model.forward).parameters:
                inputs["position_ids"] = _real_positions(backbone, start, n, batch)
            elif positions and start:  # DistilBERT on transformers 4.x counts from 0: shift by hand
                table = model.embeddings.position_embeddings
                shift = table(_real_positions(backbone, start, n, batch)) - table(_real_positions(backbone, 0, n - start, batch))
                inputs = {"inputs_embeds": model.embeddings.word_embeddings(inputs.pop("input_ids")) + shift, **inputs}
            return model(**inputs).last_hidden_state

        full = run(0)
        for handle in handles:
            handle.remove()
        if family.rotary:  # the full run's keys as its attention saw them: rotated by position
            for i, layer in enumerate(family.encoder_layers(model)):
                captured[("k", i)] = _rotated_by_transformers(model, layer, captured[("k", i)])
        prompts = [(captured[("k", i)][:, :, :m], captured[("v", i)][:, :, :m]) for i in range(backbone.n_layers)]
        with prompts_active(prompts):
            rest = run(m)
        plain_after = run(m, positions=False)
    real = mask[:, m:].bool()
    assert real.sum() < real.numel()  # the second text is padded
    torch.testing.assert_close(rest[real], full[:, m:][real], atol=1e-5, rtol=1e-5)
    assert (plain_after[real] - rest[real]).abs().max() > 1e-3  # prompts act only inside the block


def _without_relative_positions(family) -> dict:
    """DeBERTa without its relative terms; ModernBERT with windows wider than the test texts
    (the full run's local layers would not let far tokens see the first ones, which as
    prompts every token sees)."""
    return {"deberta-v2": {"relative_attention": False}, "modernbert": {"local_attention": 256}}.get(family.name, {})


def _rotated_by_transformers(model, layer, key: torch.Tensor) -> torch.Tensor:
    """ModernBERT keys [batch, heads, n, head_dim] rotated at positions 0..n-1 by transformers'
    own rotary code for that layer (the module's embedding on 4.x, the model's per layer type
    on 5.x)."""
    from transformers.models.modernbert import modeling_modernbert

    positions = torch.arange(key.shape[2]).unsqueeze(0)
    inner = self_attention(layer, model_family(model))
    if hasattr(inner, "rotary_emb"):
        cos, sin = inner.rotary_emb(key, position_ids=positions)
    else:
        cos, sin = model.rotary_emb(key, positions, layer.attention_type)
    return modeling_modernbert.apply_rotary_pos_emb(key, key, cos, sin)[1]


def test_deberta_prompt_columns_score_by_content_alone(family_dirs):
    """One DeBERTa-v3 self-attention with prompts, against its scores written out by hand:
    every score scaled by 1/sqrt(3 * head_dim), the tokens' columns keep the content-to-position
    and position-to-content terms, the prompt columns score by content alone."""
    backbone = get_backbone(family_dirs["deberta-v2"])
    family = backbone.family
    model = backbone.model
    layer = family.encoder_layers(model)[0]
    wrapper = family.self_attention(layer)
    inner = self_attention(layer, family)
    heads, size = inner.num_attention_heads, inner.attention_head_size
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn((2, 5, backbone.hidden_size), generator=generator)
    keep = torch.ones((2, 5), dtype=torch.long)
    keep[1, 4] = 0
    mask = model.encoder.get_attention_mask(keep)
    relative_pos = model.encoder.get_rel_pos(hidden)
    rel_embeddings = model.encoder.get_rel_embedding()
    prompt_key, prompt_value = (torch.randn((2, heads, 3, size), generator=generator) for _ in range(2))

    def split(x):
        return x.view(2, 5, heads, size).transpose(1, 2)

    call = dict(relative_pos=relative_pos, rel_embeddings=rel_embeddings)
    with torch.no_grad():
        with prompts_active([(prompt_key, prompt_value)] * backbone.n_layers):
            got = wrapper(hidden, mask, **call)[0]
        q, k, v = (split(getattr(inner, name)(hidden)) for name in (family.query, family.key, family.value))
        relative = inner.disentangled_attention_bias(
            q.reshape(-1, 5, size), k.reshape(-1, 5, size), relative_pos, rel_embeddings, 3).view(2, heads, 5, 5)
        assert relative.abs().max() > 1e-2  # the position terms matter at this tolerance
        scale = (3 * size) ** 0.5
        scores = torch.cat([q @ prompt_key.transpose(-1, -2) / scale, q @ k.transpose(-1, -2) / scale + relative], -1)
        scores[..., 3:] = scores[..., 3:].masked_fill(~mask.bool(), torch.finfo(scores.dtype).min)
        context = torch.softmax(scores, dim=-1) @ torch.cat([prompt_value, v], dim=2)
        expected = context.transpose(1, 2).reshape(2, 5, -1)
        without = wrapper(hidden, mask, **call)[0]
    real = keep.bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(without, inner(hidden, mask, **call)[0])  # no prompts: the module itself


def test_mpnet_prompt_columns_get_no_position_bias(mpnet_dir):
    """One MPNet self-attention with prompts, against its scores written out by hand: the
    tokens' columns keep the relative position bias, the prompt columns get none."""
    import math

    backbone = get_backbone(mpnet_dir)
    family = backbone.family
    layer = backbone.model.encoder.layer[0]
    wrapper = family.self_attention(layer)
    inner = self_attention(layer, family)
    heads, size = inner.num_attention_heads, inner.attention_head_size
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn((2, 5, backbone.hidden_size), generator=generator)
    bias = backbone.model.encoder.compute_position_bias(hidden)
    prompt_key, prompt_value = (torch.randn((2, heads, 3, size), generator=generator) for _ in range(2))

    def split(x):
        return x.view(2, 5, heads, size).transpose(1, 2)

    with torch.no_grad():
        with prompts_active([(prompt_key, prompt_value)] * backbone.n_layers):
            got = wrapper(hidden, None, position_bias=bias)[0]
        q, k, v = (split(getattr(inner, name)(hidden)) for name in (family.query, family.key, family.value))
        scores = torch.cat([q @ prompt_key.transpose(-1, -2), q @ k.transpose(-1, -2)], dim=-1) / math.sqrt(size)
        scores[..., 3:] += bias
        context = torch.softmax(scores, dim=-1) @ torch.cat([prompt_value, v], dim=2)
        expected = inner.o(context.transpose(1, 2).reshape(2, 5, -1))
        without = wrapper(hidden, None, position_bias=bias)[0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(without, inner(hidden, None, position_bias=bias)[0])  # no prompts: the module itself


def test_modernbert_prompts_are_unrotated_and_seen_through_every_window(family_dirs):
    """ModernBERT's local layer with prompts, against its attention written out by hand: the
    tokens' queries and keys rotated by transformers' own rotary code, prompt keys as given,
    each token attending to tokens at most 2 away (the tiny model's window of 4) and to every
    prompt, however far it is from the start."""
    import math

    from transformers.models.modernbert import modeling_modernbert

    backbone = get_backbone(family_dirs["modernbert"])
    family, model = backbone.family, backbone.model
    layer = family.encoder_layers(model)[1]
    inner = self_attention(layer, family)
    heads, size = backbone.n_heads, backbone.hidden_size // backbone.n_heads
    ids, mask, types = _inputs(backbone)
    batch, n = ids.shape
    generator = torch.Generator().manual_seed(0)
    prompts = [tuple(torch.randn((batch, heads, 3, size), generator=generator) for _ in range(2))
               for _ in range(backbone.n_layers)]
    seen = {}
    handle = family.self_attention(layer).register_forward_hook(
        lambda module, args, output: seen.update(hidden=args[0], output=output[0]))
    try:
        with torch.no_grad(), prompts_active(prompts):
            model(**backbone.model_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types))
    finally:
        handle.remove()
    with torch.no_grad():
        q, k, v = (x.view(batch, n, heads, size).transpose(1, 2) for x in inner.Wqkv(seen["hidden"]).chunk(3, -1))
        positions = torch.arange(n).unsqueeze(0)
        if hasattr(inner, "rotary_emb"):  # transformers 4.x
            cos, sin = inner.rotary_emb(q, position_ids=positions)
        else:
            cos, sin = model.rotary_emb(q, positions, "sliding_attention")
        q, k = modeling_modernbert.apply_rotary_pos_emb(q, k, cos, sin)
        prompt_key, prompt_value = prompts[1]
        near = (positions.T - positions).abs() <= 2
        keep = torch.cat([torch.ones((batch, 1, n, 3), dtype=torch.bool),
                          near[None, None] & mask.bool()[:, None, None, :]], dim=-1)
        scores = torch.cat([q @ prompt_key.transpose(-1, -2), q @ k.transpose(-1, -2)], dim=-1) / math.sqrt(size)
        values = torch.cat([prompt_value, v], dim=2)

        def attend(keep):
            weights = torch.softmax(scores.masked_fill(~keep, torch.finfo(scores.dtype).min), dim=-1)
            return inner.Wo((weights @ values).transpose(1, 2).reshape(batch, n, -1))

        expected = attend(keep)
    real = mask.bool()
    assert n > 6  # some tokens are beyond the window of the first ones
    torch.testing.assert_close(seen["output"][real], expected[real], atol=1e-5, rtol=1e-5)
    assert (attend(torch.ones_like(keep))[real] - expected[real]).abs().max() > 1e-3  # the window matters


@pytest.mark.parametrize("mask", [None, "bool", "additive"])
def test_prompt_columns_join_every_mask_format(mask):
    """Self-attention gets no mask, a boolean or an additive one, depending on version and implementation."""
    tokens = torch.tensor([[True, True, False]])[:, None, None, :]
    given = {None: None, "bool": tokens, "additive": torch.where(tokens, 0.0, torch.finfo(torch.float32).min)}[mask]
    for visible in (True, False):
        out = _with_prompt_columns(given, 1, 3, 2, visible, torch.float32, torch.device("cpu"))
        assert out.shape == (1, 1, 1, 5)
        attended = out[0, 0, 0] == 0
        expected_tokens = [True, True, True] if mask is None else [True, True, False]
        assert attended.tolist() == [visible, visible] + expected_tokens


def test_key_values_layout(bert_dir):
    backbone = get_backbone(bert_dir)
    prefix = PromptedTransformer(PromptConfig(prefix_length=7), backbone).prefix
    key_values = prefix.key_values(3)
    assert len(key_values) == backbone.n_layers
    for key, value in key_values:
        assert key.shape == value.shape == (3, backbone.n_heads, 7, backbone.hidden_size // backbone.n_heads)


@pytest.mark.parametrize("projection", [False, True])
@pytest.mark.parametrize("mode", ["deep", "shallow"])
def test_gradients_reach_prompts_and_never_backbone(backbone_dir, mode, projection):
    backbone = get_backbone(backbone_dir)
    cfg = PromptConfig(prefix_length=4, mode=mode, prefix_projection=projection, projection_hidden=8)
    module = PromptedTransformer(cfg, backbone)
    module.train()
    ids, mask, types = _inputs(backbone)
    module(ids, mask, types).pow(2).sum().backward()
    trainable = dict(module.named_parameters())
    assert trainable and all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable.values())
    assert all(not p.requires_grad and p.grad is None for p in backbone.model.parameters())
    assert not any(k.startswith("backbone") for k in module.state_dict())


def test_prompt_sizes(bert_dir):
    backbone = get_backbone(bert_dir)
    n_layers, hidden = backbone.n_layers, backbone.hidden_size
    deep = PromptedTransformer(PromptConfig(prefix_length=6), backbone)
    assert sum(p.numel() for p in deep.parameters()) == 6 * 2 * n_layers * hidden
    shallow = PromptedTransformer(PromptConfig(prefix_length=6, mode="shallow"), backbone)
    assert sum(p.numel() for p in shallow.parameters()) == 6 * hidden
    projected = PromptedTransformer(PromptConfig(prefix_length=6, prefix_projection=True, projection_hidden=10), backbone)
    expected = 6 * hidden + (hidden * 10 + 10) + (10 * 2 * n_layers * hidden + 2 * n_layers * hidden)
    assert sum(p.numel() for p in projected.parameters()) == expected
    assert PromptedTransformer(PromptConfig(mode="none"), backbone).prefix is None


def test_vocab_init_uses_backbone_keys(bert_dir):
    backbone = get_backbone(bert_dir)
    module = PromptedTransformer(PromptConfig(prefix_length=3, init="vocab", seed=1), backbone)
    module.initialize_from_backbone()  # the component's initialize: the weights are needed now
    table = module.prefix.table.detach()
    emb = backbone.model.get_input_embeddings().weight
    ids = torch.randint(0, emb.shape[0], (3,), generator=torch.Generator().manual_seed(1))
    layer0 = self_attention(backbone.model.encoder.layer[0])
    torch.testing.assert_close(table[:, : backbone.hidden_size], layer0.key(emb[ids]).detach())


@pytest.mark.parametrize("family", ["bert", "modernbert"])
def test_activations_init_uses_what_each_layer_attends_with(family_dirs, family):
    """Layer 1's key and value blocks (after layer 0's) come from the states entering layer 1
    as its self-attention reads them: BERT projects them as they are; ModernBERT normalises
    them first (pre-norm) and splits its fused projection, leaving the keys unrotated."""
    backbone = get_backbone(family_dirs[family])
    module = PromptedTransformer(PromptConfig(prefix_length=3, init="activations", seed=1), backbone)
    module.initialize_from_backbone()
    table = module.prefix.table.detach()
    hidden = backbone.hidden_size
    ids = torch.randint(0, backbone.model.get_input_embeddings().weight.shape[0], (3,),
                        generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        states = backbone.model(input_ids=ids[None], output_hidden_states=True).hidden_states[1][0]
        layer1 = backbone.family.encoder_layers(backbone.model)[1]
        inner = self_attention(layer1, backbone.family)
        if family == "bert":
            key, value = inner.key(states), inner.value(states)
        else:
            _, key, value = inner.Wqkv(layer1.attn_norm(states)).chunk(3, dim=-1)
    torch.testing.assert_close(table[:, 2 * hidden : 3 * hidden], key)
    torch.testing.assert_close(table[:, 3 * hidden : 4 * hidden], value)
    vocab = PromptedTransformer(PromptConfig(prefix_length=3, init="vocab", seed=1), backbone)
    vocab.initialize_from_backbone()
    assert not torch.allclose(vocab.prefix.table, table)  # the same tokens, other states


def test_activations_init_longer_than_the_backbone_is_refused(bert_dir):
    backbone = get_backbone(bert_dir)
    length = backbone.max_length + 1
    module = PromptedTransformer(PromptConfig(prefix_length=length, init="activations"), backbone)
    with pytest.raises(ValueError, match=f"reads the {length} prompt tokens as one text"):
        module.initialize_from_backbone()


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"prefix_length": 0}, "prefix_length must be an integer >= 1, got 0"),
        ({"prefix_length": -3}, "got -3"),
        ({"mode": "wide"}, "Unknown prompt mode 'wide'"),
        ({"init": "zeros"}, "Unknown prompt init 'zeros'"),
        ({"prefix_dropout": 1.5}, "prefix_dropout must be in [0, 1)"),
        ({"mode": "finetune", "finetune_lr_scale": 0}, "finetune_lr_scale must be a number > 0, got 0"),
        ({"finetune_lr_scale": 0.01}, 'finetune_lr_scale applies to mode "finetune" only'),
        ({"prompt_lr_scale": -1.0}, "prompt_lr_scale must be a number > 0, got -1.0"),
        ({"mode": "finetune", "prompt_lr_scale": 0.01}, 'prompt_lr_scale applies to mode "deep" or "shallow"'),
        ({"mode": "none", "prompt_lr_scale": 0.5}, "mode is 'none': leave prompt_lr_scale at 1.0"),
    ],
)
def test_bad_prompt_config(kwargs, fragment):
    with pytest.raises(ValueError) as err:
        PromptConfig(**kwargs)
    assert fragment in str(err.value)


def test_finetune_mode_trains_a_private_copy(bert_dir):
    """mode "finetune" (the benchmark's full fine-tuning baseline) leaves the shared backbone alone."""
    from spacy_ptuning.backbone import get_backbone
    from spacy_ptuning.config import PromptConfig
    from spacy_ptuning.layers.prompted_transformer import PromptedTransformer

    shared = get_backbone(bert_dir)
    module = PromptedTransformer(PromptConfig(mode="finetune"), shared)
    module.initialize_from_backbone()  # the component's initialize copies the pretrained weights
    n_shared = sum(p.numel() for p in shared.model.parameters())
    assert sum(p.numel() for p in module.parameters() if p.requires_grad) == n_shared
    ids = torch.tensor([[2, 10, 11, 3]])
    ones = torch.ones_like(ids)
    before = shared.model(input_ids=ids, attention_mask=ones).last_hidden_state.detach()
    out = module(ids, ones, torch.zeros_like(ids))
    assert torch.allclose(out, before, atol=1e-5)  # same weights before training
    out.sum().backward()
    torch.optim.SGD(module.parameters(), lr=1.0).step()
    assert not torch.allclose(module(ids, ones, torch.zeros_like(ids)), before, atol=1e-3)
    assert torch.equal(shared.model(input_ids=ids, attention_mask=ones).last_hidden_state, before)
    assert all(not p.requires_grad for p in shared.model.parameters())


@pytest.mark.parametrize("mode", ["deep", "shallow", "none"])
def test_backbone_dropout_only_while_training_and_only_when_asked(backbone_dir, mode):
    backbone = get_backbone(backbone_dir)
    ids, mask, types = _inputs(backbone)
    plain = PromptedTransformer(PromptConfig(prefix_length=3, mode=mode, prefix_dropout=0.0), backbone)
    noisy = PromptedTransformer(
        PromptConfig(prefix_length=3, mode=mode, prefix_dropout=0.0, backbone_dropout=True), backbone
    )
    noisy.load_state_dict(plain.state_dict())
    with torch.no_grad():
        reference = plain(ids, mask, types)
        # the flag alone, or training alone, changes nothing
        assert torch.equal(plain(ids, mask, types, dropout=True), reference)
        assert torch.equal(noisy(ids, mask, types, dropout=False), reference)
        torch.manual_seed(0)
        first = noisy(ids, mask, types, dropout=True)
        second = noisy(ids, mask, types, dropout=True)
    assert not torch.allclose(first, reference) and not torch.allclose(first, second)
    # the shared backbone never left eval mode: other components and threads are unaffected
    assert not backbone.model.training
    with torch.no_grad():
        assert torch.equal(plain(ids, mask, types), reference)


def test_backbone_dropout_is_a_bool():
    with pytest.raises(ValueError, match="backbone_dropout must be true or false"):
        PromptConfig(backbone_dropout="yes")


@pytest.mark.parametrize("mode", ["deep", "shallow", "none", "finetune"])
def test_layer_mix_starts_as_the_mean_of_every_layer(backbone_dir, mode):
    """layer_mix: the states are a softmax-weighted sum over the embeddings and every layer,
    uniform before training; the mix weights get gradients in every mode."""
    backbone = get_backbone(backbone_dir)
    module = PromptedTransformer(PromptConfig(prefix_length=3, mode=mode, layer_mix=True), backbone)
    module.initialize_from_backbone()
    assert module.layer_weights.shape == (backbone.n_layers + 1,)
    ids, mask, types = _inputs(backbone)
    hidden = module(ids, mask, types, prompt_visible=False) if mode != "finetune" else module(ids, mask, types)
    if mode in ("deep", "shallow", "none"):  # no visible prompts: the plain backbone's layers
        states = backbone.model(**backbone.model_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types,
                                                        output_hidden_states=True)).hidden_states
        real = mask.bool()
        assert len(states) == backbone.n_layers + 1
        torch.testing.assert_close(hidden[real], torch.stack(states).mean(0)[real], atol=1e-5, rtol=1e-5)
    module(ids, mask, types).pow(2).sum().backward()
    assert module.layer_weights.grad is not None and module.layer_weights.grad.abs().sum() > 0
    assert all(p.grad is None for p in backbone.model.parameters())


def test_layer_mix_is_the_only_trainable_part_of_a_linear_probe(bert_dir):
    backbone = get_backbone(bert_dir)
    probe = PromptedTransformer(PromptConfig(mode="none", layer_mix=True), backbone)
    assert probe.is_trainable and [name for name, _ in probe.named_parameters()] == ["layer_weights"]
    assert not PromptedTransformer(PromptConfig(mode="none"), backbone).is_trainable
    deep = PromptedTransformer(PromptConfig(prefix_length=6, layer_mix=True), backbone)
    n_layers, hidden = backbone.n_layers, backbone.hidden_size
    assert sum(p.numel() for p in deep.parameters()) == 6 * 2 * n_layers * hidden + n_layers + 1


def test_layer_mix_is_a_bool():
    with pytest.raises(ValueError, match="layer_mix must be true or false, got 'yes'"):
        PromptConfig(layer_mix="yes")


@pytest.mark.parametrize("mode", ["deep", "shallow", "none"])
def test_backbone_dropout_includes_attention_dropout_in_every_mode(backbone_dir, tmp_path, mode):
    """A backbone whose only dropout is attention dropout: backbone_dropout must still act in
    modes "shallow" and "none", where no prompts are injected into attention (before, the wrapper
    handed those calls to the frozen module, whose eval flag switched attention dropout off)."""
    import json
    import shutil

    copy_dir = tmp_path / "attention-dropout-only"
    shutil.copytree(backbone_dir, copy_dir)
    config = json.loads((copy_dir / "config.json").read_text())
    if config["model_type"] == "distilbert":
        config.update(dropout=0.0, attention_dropout=0.5)
    else:
        config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.5)
    (copy_dir / "config.json").write_text(json.dumps(config))
    backbone = get_backbone(copy_dir)
    ids, mask, types = _inputs(backbone)
    module = PromptedTransformer(PromptConfig(prefix_length=3, mode=mode, prefix_dropout=0.0, backbone_dropout=True),
                                 backbone)
    with torch.no_grad():
        reference = module(ids, mask, types)
        torch.manual_seed(0)
        noisy = module(ids, mask, types, dropout=True)
    real = mask.bool()
    assert (noisy[real] - reference[real]).abs().max() > 1e-3


def test_prompt_dropout_draws_one_mask_per_example(bert_dir):
    backbone = get_backbone(bert_dir)
    prefix = PromptedTransformer(PromptConfig(prefix_length=8, prefix_dropout=0.5, init_std=1.0), backbone).prefix
    torch.manual_seed(0)
    prompts = prefix(4, dropout=True)
    dropped = prompts == 0
    assert dropped.any() and not all(torch.equal(dropped[0], dropped[i]) for i in range(1, 4))
    assert torch.equal(prefix(4, dropout=False)[0], prefix(4, dropout=False)[3])
