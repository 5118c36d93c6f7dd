"""Decoding: sampling with temperature / top-k / top-p; batched greedy and beam search."""
from .sampling import check_sampling, filter_logits, generate, sample_token
from .search import Hypothesis, StepFn, beam_search, greedy_search, map_state

__all__ = ["check_sampling", "filter_logits", "generate", "sample_token",
           "Hypothesis", "StepFn", "beam_search", "greedy_search", "map_state"]
