"""spaCy components built on the prompt encoder."""
from .mixed_tasks import MixedTaskRunner
from .ner import PromptEntityRecognizer
from .qa import PromptQuestionAnswerer, answer_question
from .textcat import PromptMultiLabelTextCategorizer, PromptTextCategorizer

__all__ = [
    "MixedTaskRunner",
    "PromptEntityRecognizer",
    "PromptQuestionAnswerer",
    "PromptTextCategorizer",
    "PromptMultiLabelTextCategorizer",
    "answer_question",
]
