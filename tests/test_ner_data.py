"""NER data: CLUENER JSON reader, `spacy-ptuning convert`, and zh / en `spacy train` end to end."""
import json
import re
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin
from spacy.training.converters import conll_ner_to_docs
from typer.testing import CliRunner

from spacy_ptuning.cli import app
from spacy_ptuning.corpora.cluener import CluenerFormatError, cluener_corpus, read_records
from spacy_ptuning.corpora.ner_files import detect_format, ner_corpus
from spacy_ptuning.ner.scoring import doc_bio

CONFIG = Path(__file__).parent.parent / "spacy_ptuning" / "configs" / "ner.cfg"
CONLL = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
ZH_RECORDS = [
    {"text": "我们在北京的大学", "label": {"address": {"北京": [[3, 4]]}}},
    {"text": "中国人民银行是公司", "label": {"government": {"中国人民银行": [[0, 5]]}}},
    {"text": "上海有大学", "label": {"address": {"上海": [[0, 1]]}}},
    {"text": "这是中国的银行", "label": {"address": {"中国": [[2, 3]]}}},
]


def _jsonl(path: Path, records) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf8")
    return path


def _bio_columns(path: Path, records) -> Path:
    """The same records as a character-per-line BIO column file."""
    lines = []
    for r in records:
        tags = ["O"] * len(r["text"])
        for etype, mentions in r["label"].items():
            for offsets in mentions.values():
                for s, e in offsets:
                    tags[s] = f"B-{etype}"
                    for i in range(s + 1, e + 1):
                        tags[i] = f"I-{etype}"
        lines += [f"{ch} {tag}" for ch, tag in zip(r["text"], tags)] + [""]
    path.write_text("\n".join(lines), encoding="utf8")
    return path


def test_cluener_reader_char_tokens(tmp_path):
    nlp = spacy.blank("zh")
    examples = list(cluener_corpus(_jsonl(tmp_path / "d.json", ZH_RECORDS))(nlp))
    assert [[(e.text, e.label_) for e in eg.reference.ents] for eg in examples] == [
        [("北京", "address")], [("中国人民银行", "government")], [("上海", "address")], [("中国", "address")]
    ]
    assert [len(eg.reference) for eg in examples] == [len(r["text"]) for r in ZH_RECORDS]


def test_chinese_bio_columns_and_json_agree(tmp_path):
    nlp = spacy.blank("zh")
    from_json = list(ner_corpus(_jsonl(tmp_path / "d.json", ZH_RECORDS))(nlp))
    from_bio = list(ner_corpus(_bio_columns(tmp_path / "d.bio", ZH_RECORDS))(nlp))
    assert [eg.reference.text for eg in from_bio] == [r["text"] for r in ZH_RECORDS]
    assert [doc_bio(eg.reference) for eg in from_bio] == [doc_bio(eg.reference) for eg in from_json]


@pytest.mark.parametrize(
    "line,fragment",
    [
        ('{"text": "上海有大学", "label": {"address": {"上海": [[1, 2]]}}}', "d.json:2: address mention '上海' at [1, 2] does not match"),
        ('{"text": "上海", "label": {"planet": {"上海": [[0, 1]]}}}', "d.json:2: unknown entity type 'planet'"),
        ("not json", "d.json:2: not a JSON object"),
        ('{"label": {}}', 'd.json:2: expected an object with a "text" string'),
    ],
)
def test_cluener_errors_name_file_and_line(tmp_path, line, fragment):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(ZH_RECORDS[0], ensure_ascii=False) + "\n" + line + "\n", encoding="utf8")
    with pytest.raises(CluenerFormatError) as err:
        list(read_records(path, labels=["address", "government"]))
    assert fragment in str(err.value)


def test_cluener_empty_file_and_nested_mentions(tmp_path):
    with pytest.raises(CluenerFormatError, match="holds no records"):
        list(read_records(_jsonl(tmp_path / "e.json", [])))
    nested = {"text": "《中国人民银行》", "label": {"book": {"《中国人民银行》": [[0, 7]]}, "government": {"中国人民银行": [[1, 6]]}}}
    with pytest.warns(UserWarning, match=r"n.json:1: nested mention\(s\) '中国人民银行' \(government\) not used"):
        ((_, _, kept),) = list(read_records(_jsonl(tmp_path / "n.json", [nested])))
    assert kept == [(0, 8, "book")]
    with pytest.raises(CluenerFormatError, match="overlapping mentions"):
        list(read_records(tmp_path / "n.json", overlaps="error"))


def test_detect_format():
    assert [detect_format(p) for p in ("a/train.txt", "b.json", "c.jsonl", "d.spacy", "e.bio")] == [
        "conll", "cluener", "cluener", "spacy", "conll"
    ]
    with pytest.raises(ValueError, match="Unknown NER corpus format 'xml'"):
        ner_corpus("x.txt", format="xml")


@pytest.mark.parametrize("n_sents", [1, 10])
def test_convert_matches_spacy_convert(tmp_path, n_sents):
    """`spacy ptuning convert` writes exactly the DocBin `spacy convert -c ner` writes: the
    same docs, tokens, spaces (and unknown-spaces flag), tags, sentences and entities."""
    from spacy.cli.convert import convert

    src = tmp_path / "train.txt"
    src.write_text(CONLL, encoding="utf8")
    result = CliRunner().invoke(app, ["convert", str(src), str(tmp_path / "ours"), "-n", str(n_sents)])
    assert result.exit_code == 0, result.output
    convert(src, tmp_path / "spacy", file_type="spacy", converter="ner", n_sents=n_sents)
    vocab = spacy.blank("en").vocab
    ours = list(DocBin().from_disk(tmp_path / "ours" / "train.spacy").get_docs(vocab))
    theirs = list(DocBin().from_disk(tmp_path / "spacy" / "train.spacy").get_docs(vocab))
    assert ours and [d.to_json() for d in ours] == [d.to_json() for d in theirs]
    assert [d.has_unknown_spaces for d in ours] == [d.has_unknown_spaces for d in theirs]
    assert [[t.tag_ for t in d] for d in ours] == [[t.tag_ for t in d] for d in theirs]


def test_convert_reports_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("EU B-ORG\nrejects\n", encoding="utf8")
    result = CliRunner().invoke(app, ["convert", str(bad), str(tmp_path / "out")])
    assert result.exit_code == 1 and "bad.txt:2: expected 2 columns" in " ".join(result.output.split())


def _train_overrides(backbone: Path, train_path: Path, dev_path: Path, lang: str) -> dict:
    return {
        "nlp.lang": lang,
        "paths.train": str(train_path),
        "paths.dev": str(dev_path),
        "paths.backbone": str(backbone),
        "components.ptuning_ner.model.encoder.prefix_length": 4,
        "components.ptuning_ner.model.encoder.window": 32,
        "components.ptuning_ner.model.encoder.stride": 16,
        "components.ptuning_ner.model.encoder.prefix_dropout": 0.0,
        "training.max_epochs": 0,
        "training.max_steps": 80,
        "training.eval_frequency": 40,
        "training.dropout": 0.0,
        "training.batcher.size": 4,
    }


def test_zh_pipeline_end_to_end(bert_dir, tmp_path, capsys):
    """spacy train on CLUENER JSON (train) and a Chinese BIO column file (dev), character tokens."""
    train_path = _jsonl(tmp_path / "train.json", ZH_RECORDS)
    dev_path = _bio_columns(tmp_path / "dev.bio", ZH_RECORDS)
    train(CONFIG, tmp_path / "out", overrides=_train_overrides(bert_dir, train_path, dev_path, "zh"))
    log = capsys.readouterr().out
    assert re.search(r"SEQEVAL_F|seqeval_f", log, re.I), log
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert nlp.lang == "zh"
    doc = nlp("我们在北京的大学")
    assert [t.text for t in doc] == list("我们在北京的大学")
    assert [(e.text, e.label_) for e in doc.ents] == [("北京", "address")]
    scores = nlp.evaluate(list(ner_corpus(dev_path)(nlp)))
    assert scores["seqeval_f"] == 1.0


def test_en_conll_config_end_to_end(bert_dir, tmp_path):
    """The shipped NER config trains straight from CoNLL column files."""
    sentences = [
        ("john visited london", "B-PER O B-LOC"),
        ("mary works at acme corp", "B-PER O O B-ORG I-ORG"),
        ("acme corp said who visited paris", "B-ORG I-ORG O O O B-LOC"),
    ]
    text = "\n\n".join("\n".join(f"{w} {t}" for w, t in zip(s.split(), tags.split())) for s, tags in sentences)
    path = tmp_path / "train.txt"
    path.write_text("-DOCSTART- O\n\n" + text + "\n", encoding="utf8")
    train(CONFIG, tmp_path / "out", overrides=_train_overrides(bert_dir, path, path, "en"))
    nlp = spacy.load(tmp_path / "out" / "model-best")
    assert [(e.text, e.label_) for e in nlp("mary works at acme corp").ents] == [("mary", "PER"), ("acme corp", "ORG")]
