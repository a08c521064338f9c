"""configs/multitask.cfg: three prompt-tuned components assembled over one shared backbone."""
import subprocess
import sys
from pathlib import Path

import spacy

from spacy_ptuning import answer_question
from spacy_ptuning.layers.encoder import get_torch_module

from test_ner import ner_examples, ner_nlp
from test_qa import qa_examples, qa_nlp
from util import blank, encoder_cfg, textcat_examples, train

CONFIG = Path(__file__).parent.parent / "configs" / "multitask.cfg"


def test_assembled_pipeline_matches_single_task_pipelines(bert_dir, tmp_path):
    textcat = blank()
    textcat.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    train(textcat, textcat_examples(textcat, [("good fun", "POS"), ("bad film", "NEG")]), n_iter=5)
    ner = ner_nlp(bert_dir)
    train(ner, ner_examples(ner), n_iter=5)
    qa = qa_nlp(bert_dir)
    train(qa, qa_examples(qa), n_iter=5)
    for name, nlp in (("textcat", textcat), ("ner", ner), ("qa", qa)):
        nlp.to_disk(tmp_path / name)
    cmd = [sys.executable, "-m", "spacy", "assemble", str(CONFIG), str(tmp_path / "multi")]
    cmd += [f"--paths.{name}={tmp_path / name}" for name in ("textcat", "ner", "qa")]
    subprocess.run(cmd, check=True, capture_output=True)
    multi = spacy.load(tmp_path / "multi")
    assert multi.pipe_names == ["ptuning_textcat", "ptuning_ner", "ptuning_qa"]
    backbones = {id(get_torch_module(pipe.model).backbone) for _, pipe in multi.pipeline}
    assert len(backbones) == 1
    text = "john visited london and mary works in paris"
    doc = multi(text)
    assert doc.cats == textcat(text).cats
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in ner(text).ents]
    assert doc._.answers is None  # no question asked
    assert answer_question(multi, "who visited london", text) == answer_question(qa, "who visited london", text)
