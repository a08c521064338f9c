"""spacy-ptuning: P-tuning v2 deep prompts over frozen transformer backbones for spaCy."""
from . import architectures, callbacks, loggers, schedules, tokenizers  # noqa: F401  (registers them)
from .corpora import cluener, conll, ner_files, squad  # noqa: F401
from .ner import scoring  # noqa: F401
from .qa import scoring as qa_scoring  # noqa: F401
from .textcat import scoring as textcat_scoring  # noqa: F401
from .backbone import Backbone, BackboneError, get_backbone
from .config import PromptConfig
from .pipeline import (
    MixedTaskRunner,
    PromptEntityRecognizer,
    PromptMultiLabelTextCategorizer,
    PromptQuestionAnswerer,
    PromptTextCategorizer,
    answer_question,
)
from .report import ParameterReport, parameter_report

__version__ = "0.1.0"

__all__ = [
    "Backbone",
    "BackboneError",
    "get_backbone",
    "PromptConfig",
    "MixedTaskRunner",
    "PromptEntityRecognizer",
    "PromptQuestionAnswerer",
    "answer_question",
    "PromptTextCategorizer",
    "PromptMultiLabelTextCategorizer",
    "ParameterReport",
    "parameter_report",
]
