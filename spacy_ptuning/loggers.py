"""A training logger that keeps spaCy's console table and records throughput."""
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional, Tuple

import srsly
from spacy.language import Language
from spacy.training.loggers import console_logger_v3
from spacy.util import registry


@registry.loggers("spacy_ptuning.ThroughputLogger.v1")
def throughput_logger(
    output_file: Optional[str] = None, progress_bar: Optional[str] = None
) -> Callable[[Language], Tuple[Callable, Callable]]:
    """spaCy's console table, plus a JSONL record per evaluation with words/second.

    Each JSON line holds step, epoch, seconds, words seen, training words per
    second (wall clock, evaluation time included), score, other scores and losses.
    """
    console = console_logger_v3(progress_bar=progress_bar)

    def setup(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr) -> Tuple[Callable, Callable]:
        log_console, finalize_console = console(nlp, stdout, stderr)
        stream = None
        if output_file:
            Path(output_file).parent.mkdir(parents=True, exist_ok=True)
            stream = Path(output_file).open("w", encoding="utf8")
        start = time.perf_counter()

        def log_step(info: Optional[Dict[str, Any]]) -> None:
            log_console(info)
            if info is None or stream is None:
                return
            seconds = time.perf_counter() - start
            record = {
                "epoch": info["epoch"],
                "step": info["step"],
                "seconds": round(seconds, 2),
                "words": info["words"],
                "words_per_second": round(info["words"] / seconds, 1) if seconds else 0.0,
                "score": float(info["score"]),
                "other_scores": info["other_scores"],
                "losses": info["losses"],
            }
            stream.write(srsly.json_dumps(record) + "\n")
            stream.flush()

        def finalize() -> None:
            finalize_console()
            if stream is not None:
                stream.close()

        return log_step, finalize

    return setup
