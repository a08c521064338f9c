"""Registered corpus readers for the benchmark formats."""
from typing import Callable, Iterator

from spacy.language import Language
from spacy.training import Example


def missing_path(reader: str) -> Callable[[Language], Iterator[Example]]:
    """A reader made with path null (a config whose paths.train/dev are not set yet, as
    `spacy init fill-config` and `debug config` read it): it fails only when read, naming the fix."""

    def read(nlp: Language) -> Iterator[Example]:
        raise ValueError(
            f"{reader} has no path: give the data file, e.g. `--paths.train train.txt --paths.dev dev.txt`."
        )
        yield  # pragma: no cover  (a generator, like every reader)

    return read
