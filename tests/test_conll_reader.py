"""CoNLL column reader: formats, IOB1 -> IOB2, and errors that name file and line."""
from pathlib import Path

import pytest
import spacy

from spacy_ptuning.corpora.conll import ConllFormatError, conll_corpus, read_sentences

IOB2_4COL = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
IOB1_2COL = "EU I-ORG\nrejects O\nGerman I-MISC\ncall O\n\nPeter I-PER\nBlackburn I-PER\n"


def _write(tmp_path, text, name="data.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    return path


@pytest.mark.parametrize("text", [IOB2_4COL, IOB1_2COL])
def test_formats_read_to_the_same_entities(tmp_path, text):
    nlp = spacy.blank("en")
    examples = list(conll_corpus(_write(tmp_path, text))(nlp))
    assert len(examples) == 2
    ents = [[(e.text, e.label_) for e in eg.reference.ents] for eg in examples]
    assert ents == [[("EU", "ORG"), ("German", "MISC")], [("Peter Blackburn", "PER")]]
    assert examples[0].predicted.text == examples[0].reference.text and not examples[0].predicted.ents


def test_shared_conll_dev_reads_whole():
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "dev.txt"
    try:
        sentences = list(read_sentences(path))
    except ConllFormatError as err:
        if "no such file" in str(err):
            pytest.skip("shared data not present")
        raise
    assert len(sentences) == 3250 and sum(len(s) for s in sentences) == 51362


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("EU NNP B-ORG\nrejects VBZ\n", "data.txt:2: expected 3 columns"),
        ("EU B-ORG\nrejects X-FOO\n", "data.txt:2: tag 'X-FOO'"),
        ("EU B-ORG\nrejects B-WEIRD\n", "data.txt:2: unknown entity type 'WEIRD'"),
        ("", "data.txt: the file holds no tokens"),
        ("\n\n-DOCSTART- O\n\n", "holds no tokens"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(ConllFormatError) as err:
        list(read_sentences(path, labels=["ORG", "PER", "LOC", "MISC"]))
    assert fragment in str(err.value)
