"""spaCy components built on the prompt encoder."""
from .ner import PromptEntityRecognizer
from .qa import PromptQuestionAnswerer, answer_question
from .textcat import PromptMultiLabelTextCategorizer, PromptTextCategorizer

__all__ = [
    "PromptEntityRecognizer",
    "PromptQuestionAnswerer",
    "PromptTextCategorizer",
    "PromptMultiLabelTextCategorizer",
    "answer_question",
]
