"""Data pipelines: text reading, vocabularies, language-model streams."""

from .streams import BPTTStream, Window, eval_windows, make_streams, min_tokens
from .text import CharVocab, bundled_text, read_text, split_text

__all__ = [
    "BPTTStream",
    "Window",
    "eval_windows",
    "make_streams",
    "min_tokens",
    "CharVocab",
    "bundled_text",
    "read_text",
    "split_text",
]
