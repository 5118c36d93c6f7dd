"""Decoding: sampling with temperature / top-k / top-p."""
from .sampling import check_sampling, filter_logits, generate, sample_token

__all__ = ["check_sampling", "filter_logits", "generate", "sample_token"]
