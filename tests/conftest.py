"""Tiny randomly initialised backbones of every supported family, built locally per session."""
import json
import os
from pathlib import Path

import pytest
import torch

WORDS = (
    "the a an and or but of to in on at for with by from is was are were be good bad great awful "
    "movie film plot actor story fun boring love hate john mary london paris acme corp "
    "city river new york visited works likes said who where when what which question answer "
    "north south east west red blue green one two three four five six seven eight nine ten"
).split()


def _chars() -> list:
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'\"-:;()")
    chinese = list("北京上海中国人民银行公司大学我们的是在有和了不这")
    return letters + chinese


def _make_tokenizer(cls, path: Path, **kwargs):
    """A fast tokenizer from the vocabulary files in path, on transformers 4.x
    (vocab_file=, merges_file=) and 5.x (vocab=, merges= with the contents)."""
    import inspect

    merges = path / "merges.txt"
    if "vocab_file" in inspect.signature(cls.__init__).parameters:
        files = {"vocab_file": str(path / ("vocab.json" if merges.exists() else "vocab.txt"))}
        if merges.exists():
            files["merges_file"] = str(merges)
        return cls(**files, **kwargs)
    if merges.exists():
        vocab = json.loads((path / "vocab.json").read_text(encoding="utf8"))
        lines = merges.read_text(encoding="utf8").splitlines()
        pairs = [tuple(m.split(" ")) for m in lines if m and not m.startswith("#version")]
        return cls(vocab=vocab, merges=pairs, **kwargs)
    words = (path / "vocab.txt").read_text(encoding="utf8").splitlines()
    return cls(vocab={w: i for i, w in enumerate(words)}, **kwargs)


def _wordpiece_tokenizer(cls, path: Path, specials: list, chars: list, max_positions: int):
    """A lower-casing WordPiece tokenizer over WORDS and chars, saved in path; torch seeded for
    the model that follows."""
    path.mkdir(parents=True, exist_ok=True)
    vocab = specials + WORDS + chars + ["##" + c for c in chars[:36]]
    (path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf8")
    tokenizer = _make_tokenizer(cls, path, do_lower_case=True)
    tokenizer.model_max_length = max_positions
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    return tokenizer


def write_bert(path: Path, max_positions: int = 64, chinese: bool = True) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    chars = _chars() if chinese else _chars()[:47]
    tokenizer = _wordpiece_tokenizer(BertTokenizerFast, path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], chars,
                                     max_positions)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=max_positions, type_vocab_size=2,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


def write_roberta(path: Path, max_positions: int = 64) -> Path:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        [" ".join(WORDS)] * 5, vocab_size=400, min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False,
    )
    trainer.save_model(str(path))
    tokenizer = _make_tokenizer(RobertaTokenizerFast, path)  # add_prefix_space=False, as roberta-base
    tokenizer.model_max_length = max_positions
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=max_positions + 2, type_vocab_size=1,
        pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )
    RobertaModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


def write_mpnet(path: Path, max_positions: int = 64) -> Path:
    """A tiny MPNet (relative position bias in every self-attention, RoBERTa-style positions,
    no token types), with a WordPiece tokenizer in all-mpnet-base-v2's special-token layout."""
    from transformers import MPNetConfig, MPNetModel, MPNetTokenizerFast

    tokenizer = _wordpiece_tokenizer(MPNetTokenizerFast, path, ["<s>", "<pad>", "</s>", "[UNK]", "<mask>"],
                                     _chars()[:47], max_positions)
    config = MPNetConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=max_positions + 2, relative_attention_num_buckets=32,
        pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )
    model = MPNetModel(config, add_pooling_layer=False)
    with torch.no_grad():  # a bias large enough that dropping it anywhere would show
        model.encoder.relative_attention_bias.weight.normal_(0.0, 1.0)
    model.save_pretrained(path)
    return path


def _tiny(config_cls, tokenizer, **sizes):
    """Config of the tiny shape every test model shares, sized to the tokenizer."""
    shape = dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=64)
    shape.update(sizes)
    return config_cls(**shape)


def write_electra(path: Path, max_positions: int = 64) -> Path:
    """A tiny ELECTRA discriminator whose embeddings (16) are narrower than its layers (32),
    as ELECTRA-small's are."""
    from transformers import ElectraConfig, ElectraModel, ElectraTokenizerFast

    tokenizer = _wordpiece_tokenizer(ElectraTokenizerFast, path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                     _chars()[:47], max_positions)
    config = _tiny(ElectraConfig, tokenizer, embedding_size=16, max_position_embeddings=max_positions)
    ElectraModel(config).save_pretrained(path)
    return path


def write_ernie(path: Path, max_positions: int = 64) -> Path:
    """A tiny ERNIE (BERT layout plus task type embeddings) with a Chinese vocabulary."""
    from transformers import BertTokenizerFast, ErnieConfig, ErnieModel

    tokenizer = _wordpiece_tokenizer(BertTokenizerFast, path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                     _chars(), max_positions)
    config = _tiny(ErnieConfig, tokenizer, max_position_embeddings=max_positions, type_vocab_size=2,
                   use_task_id=True, task_type_vocab_size=3)
    ErnieModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


def write_distilbert(path: Path, max_positions: int = 64) -> Path:
    """A tiny DistilBERT: attention with its own output projection, no token types."""
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizerFast

    tokenizer = _wordpiece_tokenizer(DistilBertTokenizerFast, path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                     _chars()[:47], max_positions)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                              max_position_embeddings=max_positions)
    DistilBertModel(config).save_pretrained(path)
    return path


def write_deberta_v2(path: Path, max_positions: int = 64) -> Path:
    """A tiny DeBERTa-v3 (disentangled attention with shared position keys, bucketed relative
    positions, no absolute positions, no token types) with a SentencePiece-style Unigram
    tokenizer (Metaspace: a word's first piece carries its leading space)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import AutoTokenizer, DebertaV2Config, DebertaV2Model

    path.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
    pieces = ([(s, 0.0) for s in specials] + [("\u2581" + w, -1.0) for w in WORDS] + [(c, -5.0) for c in _chars()]
              + [("\u2581", -3.0)])
    model = Tokenizer(models.Unigram(pieces, unk_id=3))
    model.normalizer = normalizers.Lowercase()
    model.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    model.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    model.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
    )
    model.save(str(path / "tokenizer.json"))
    named = dict(zip(("pad_token", "cls_token", "sep_token", "unk_token", "mask_token"), specials))
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "DebertaV2Tokenizer", "model_max_length": max_positions, "do_lower_case": True,
        "bos_token": "[CLS]", "eos_token": "[SEP]", **named,
    }), encoding="utf8")
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    config = _tiny(DebertaV2Config, tokenizer, max_position_embeddings=max_positions,
                   relative_attention=True, pos_att_type=["p2c", "c2p"], position_buckets=16,
                   max_relative_positions=-1, norm_rel_ebd="layer_norm", share_att_key=True,
                   position_biased_input=False, type_vocab_size=0, pad_token_id=0)
    deberta = DebertaV2Model(config)
    with torch.no_grad():  # position embeddings large enough that dropping a term anywhere would show
        deberta.encoder.rel_embeddings.weight.normal_(0.0, 1.0)
    deberta.save_pretrained(path)
    return path


def write_modernbert(path: Path, max_positions: int = 64) -> Path:
    """A tiny ModernBERT (fused QKV, rotary positions with different bases in global and local
    layers, pre-norm layers, gated feed-forward, no token types): layer 0 global, layer 1 local
    with a window of 4 (each token sees 2 on either side), so test texts cross windows; a
    byte-level BPE tokenizer with [CLS]/[SEP] templates, as ModernBERT's. Dropout rates are
    set (ModernBERT's default is none) so the backbone-dropout tests have something to check."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import AutoTokenizer, ModernBertConfig, ModernBertModel

    path.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    model = Tokenizer(models.BPE(unk_token="[UNK]"))
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, min_frequency=1, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    model.train_from_iterator([" ".join(WORDS)] * 5, trainer=trainer)
    model.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    model.save(str(path / "tokenizer.json"))
    named = dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"), specials))
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_positions,
        "model_input_names": ["input_ids", "attention_mask"], "clean_up_tokenization_spaces": False, **named,
    }), encoding="utf8")
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    config = _tiny(ModernBertConfig, tokenizer, max_position_embeddings=max_positions, global_attn_every_n_layers=2,
                   local_attention=4, pad_token_id=0, cls_token_id=2, sep_token_id=3, bos_token_id=2,
                   eos_token_id=3, attention_dropout=0.1, mlp_dropout=0.1, embedding_dropout=0.1)
    ModernBertModel(config).save_pretrained(path)
    return path


FAMILY_WRITERS = {
    "bert": write_bert, "roberta": write_roberta, "mpnet": write_mpnet, "electra": write_electra,
    "ernie": write_ernie, "distilbert": write_distilbert, "deberta-v2": write_deberta_v2,
    "modernbert": write_modernbert,
}


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory, bert_dir, roberta_dir, mpnet_dir):
    """{family: tiny model folder}, each built on first use."""
    built = {"bert": bert_dir, "roberta": roberta_dir, "mpnet": mpnet_dir}

    class Dirs(dict):
        def __missing__(self, family):
            self[family] = FAMILY_WRITERS[family](tmp_path_factory.mktemp(f"tiny-{family}"))
            return self[family]

    return Dirs(built)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory) -> Path:
    return write_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def roberta_dir(tmp_path_factory) -> Path:
    return write_roberta(tmp_path_factory.mktemp("tiny-roberta"))


@pytest.fixture(scope="session")
def mpnet_dir(tmp_path_factory) -> Path:
    return write_mpnet(tmp_path_factory.mktemp("tiny-mpnet"))


@pytest.fixture(params=list(FAMILY_WRITERS))
def backbone_dir(request, family_dirs) -> Path:
    """The tiny model of each supported family in turn."""
    return family_dirs[request.param]


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf8"))


@pytest.fixture(autouse=True, scope="session")
def _gpu_when_asked():
    """SPACY_PTUNING_TEST_GPU=1 runs the whole suite on GPU 0 (thinc CupyOps + torch CUDA)."""
    if os.environ.get("SPACY_PTUNING_TEST_GPU"):
        import spacy

        spacy.require_gpu(0)
    yield
