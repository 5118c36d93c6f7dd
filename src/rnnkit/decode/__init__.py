"""Decoding: sampling with temperature / top-k / top-p; batched greedy and beam search, with
optional constraints (forbidden tokens, n-gram blocking, repetition penalty)."""

from .constraints import forbid, no_repeat_ngram, repetition_penalty
from .sampling import check_sampling, filter_logits, generate, sample_token
from .search import Constrain, Hypothesis, StepFn, beam_search, greedy_search, map_state

__all__ = [
    "check_sampling",
    "filter_logits",
    "generate",
    "sample_token",
    "Hypothesis",
    "StepFn",
    "Constrain",
    "beam_search",
    "greedy_search",
    "map_state",
    "forbid",
    "no_repeat_ngram",
    "repetition_penalty",
]
