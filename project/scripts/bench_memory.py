"""Resident memory of pipelines loaded side by side in one fresh process (prints JSON).

Each pipeline processes one text (and one question, if it answers questions), so
lazily built state is counted too.
"""
import json
import os
import resource
from pathlib import Path
from typing import List

import typer

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(pipelines: List[Path]) -> None:
    import spacy

    from spacy_ptuning import answer_question

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for path in pipelines:
        nlp = spacy.load(path)
        nlp("Peter Blackburn visited Brussels and liked the film.")
        if any(factory == "ptuning_qa" for factory in (nlp.get_pipe_meta(n).factory for n in nlp.pipe_names)):
            answer_question(nlp, "Who visited Brussels?", "Peter Blackburn visited Brussels.")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pipelines": [str(p) for p in pipelines], "rss_mb": peak, "rss_before_mb": before}))


if __name__ == "__main__":
    typer.run(main)
