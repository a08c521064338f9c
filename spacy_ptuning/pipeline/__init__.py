"""spaCy components built on the prompt encoder."""
from .ner import PromptEntityRecognizer
from .textcat import PromptMultiLabelTextCategorizer, PromptTextCategorizer

__all__ = ["PromptEntityRecognizer", "PromptTextCategorizer", "PromptMultiLabelTextCategorizer"]
