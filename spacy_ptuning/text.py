"""Text tests shared by the components."""
import unicodedata


def is_blank(text: str) -> bool:
    """Whitespace, control and format characters only (e.g. "   ", a non-breaking space, a
    zero-width space): nothing an entity or an answer can consist of."""
    return all(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in text)
