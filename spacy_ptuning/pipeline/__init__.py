"""spaCy components built on the prompt encoder."""
from .textcat import PromptMultiLabelTextCategorizer, PromptTextCategorizer

__all__ = ["PromptTextCategorizer", "PromptMultiLabelTextCategorizer"]
