"""Text classification helpers."""
