"""Helpers shared by the tests: generated data and small pipelines."""
import random
from pathlib import Path
from typing import List, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example

POSITIVE = ["good", "great", "fun", "love"]
NEGATIVE = ["bad", "awful", "boring", "hate"]
FILLER = ["the", "movie", "film", "plot", "actor", "story", "was", "is", "a", "and"]


def sentiment_texts(n: int, seed: int = 0) -> List[Tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = "POS" if i % 2 == 0 else "NEG"
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if label == "POS" else NEGATIVE)]
        rng.shuffle(words)
        out.append((" ".join(words), label))
    return out


def cats(label: str, labels=("POS", "NEG")) -> dict:
    return {lab: float(lab == label) for lab in labels}


def encoder_cfg(backbone: Path, **overrides) -> dict:
    cfg = {"backbone": str(backbone), "prefix_length": 4, "window": 24, "stride": 16, "prefix_dropout": 0.0}
    cfg.update(overrides)
    return cfg


def textcat_examples(nlp: Language, data) -> List[Example]:
    return [Example.from_dict(nlp.make_doc(t), {"cats": cats(lab)}) for t, lab in data]


def write_docbin(nlp: Language, data, path: Path) -> Path:
    db = DocBin()
    for text, label in data:
        doc = nlp.make_doc(text)
        doc.cats = cats(label)
        db.add(doc)
    db.to_disk(path)
    return path


def train(nlp: Language, examples, n_iter: int = 60, learn_rate: float = 0.01) -> float:
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = learn_rate
    losses = {}
    for _ in range(n_iter):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
    return sum(losses.values())


def blank(lang: str = "en") -> Language:
    return spacy.blank(lang)


def randomize_adapters(nlp: Language, std: float = 0.5, seed: int = 0) -> None:
    """Give every component's feed-forward adapters random up-projections (new ones start at
    zero and a few training steps barely move them), so that a test comparing outputs
    would see any adapter applied to the wrong rows, threads or calls."""
    import torch

    from spacy_ptuning.layers.encoder import get_torch_module

    generator = torch.Generator().manual_seed(seed)
    for _, pipe in nlp.pipeline:
        try:
            module = get_torch_module(pipe.model)
        except (ValueError, AttributeError):
            continue
        if getattr(module, "adapters", None) is None:
            continue
        with torch.no_grad():
            for adapter in module.adapters.layers:
                adapter.up.weight.copy_(torch.randn(adapter.up.weight.shape, generator=generator) * std)
