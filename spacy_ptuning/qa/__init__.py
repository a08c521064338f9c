"""Extractive question answering: Doc extensions, span decoding and SQuAD scoring."""
