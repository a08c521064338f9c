"""A tokenizer setting that follows `nlp.lang`.

A filled config names one tokenizer (`spacy.Tokenizer.v1` for English), so switching a shipped
config to Chinese with `--nlp.lang zh` would keep English rules. The shipped configs name
`spacy_ptuning.LanguageTokenizer.v1` instead: the default tokenizer of whatever language the
pipeline is (for zh, spaCy's character segmenter).
"""
from typing import Callable

from spacy.language import Language
from spacy.util import registry


@registry.tokenizers("spacy_ptuning.LanguageTokenizer.v1")
def language_tokenizer() -> Callable[[Language], Callable]:
    """The pipeline language's own default tokenizer (its `[nlp.tokenizer]` default)."""

    def create(nlp: Language) -> Callable:
        default = type(nlp).default_config["nlp"]["tokenizer"]
        return registry.resolve({"tokenizer": default})["tokenizer"](nlp)

    return create
