"""Constraints on the next token of a search, from each row's own history.

Each function returns a ``constrain(log_probs (R, V), history (R, T)) -> log_probs (R, V)``
for :func:`~rnnkit.decode.greedy_search` and :func:`~rnnkit.decode.beam_search`; ``history``
holds the tokens each row has emitted so far (``<sos>`` not included).

* :func:`no_repeat_ngram`: a token that would complete an n-gram the row already contains
  gets log-probability -inf (n-gram blocking, as in Paulus et al., 2018).
* :func:`forbid`: the given tokens (e.g. ``<unk>``) get log-probability -inf at every step.
* :func:`repetition_penalty`: every token the row already emitted loses ``log(penalty)``
  (dividing its probability by ``penalty``; CTRL's penalty, Keskar et al., 2019, on
  probabilities rather than logits), then the row is renormalised.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .limits import MAX_NGRAM, MAX_REPETITION_PENALTY, check_range

Constrain = Callable[[Tensor, Tensor], Tensor]


def no_repeat_ngram(n: int) -> Constrain:
    """Block every token that would repeat an n-gram of the row's history (1 <= n <= 100)."""
    check_range("no_repeat_ngram", n, 1, MAX_NGRAM, integer=True)

    def constrain(log_probs: Tensor, history: Tensor) -> Tensor:
        if n == 1:
            return _block_seen(log_probs, history)
        if history.shape[1] < n:  # no whole n-gram yet
            return log_probs
        windows = history.unfold(1, n, 1)  # (R, T-n+1, n): every n-gram so far
        prefix = history[:, history.shape[1] - (n - 1) :]  # (R, n-1): what the next token would extend
        matches = (windows[:, :, :-1] == prefix.unsqueeze(1)).all(dim=-1)  # (R, T-n+1)
        rows, starts = matches.nonzero(as_tuple=True)
        out = log_probs.clone()
        out[rows, windows[rows, starts, -1]] = float("-inf")
        return out

    return constrain


def _block_seen(log_probs: Tensor, history: Tensor) -> Tensor:
    """n = 1: no token twice."""
    out = log_probs.clone()
    if history.shape[1]:
        out.scatter_(1, history, float("-inf"))
    return out


def repetition_penalty(penalty: float) -> Constrain:
    """Divide the probability of every token already emitted by ``penalty`` (1 to 100), renormalised."""
    check_range("repetition_penalty", penalty, 1.0, MAX_REPETITION_PENALTY)
    cost = math.log(penalty)

    def constrain(log_probs: Tensor, history: Tensor) -> Tensor:
        if not history.shape[1] or cost == 0.0:
            return log_probs
        seen = torch.zeros_like(log_probs, dtype=torch.bool).scatter_(1, history, True)
        return torch.log_softmax(log_probs - cost * seen.to(log_probs.dtype), dim=-1)

    return constrain


def forbid(tokens) -> Constrain:
    """Never emit any of ``tokens`` (ids); their log-probability becomes -inf at every step."""
    ids = sorted({int(t) for t in tokens})
    if not ids:
        raise ValueError("forbid: expected at least one token id")

    def constrain(log_probs: Tensor, history: Tensor) -> Tensor:
        out = log_probs.clone()
        out[:, ids] = float("-inf")
        return out

    return constrain
