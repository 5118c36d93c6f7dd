"""Frequency-clustered softmax whose word vectors can be tied to an embedding.

The adaptive softmax of Grave et al. (2017, "Efficient softmax approximation
for GPUs") splits a frequency-sorted vocabulary into a head (the most frequent
words plus one entry per tail cluster) and tail clusters:

    log p(w | h) = log softmax(W_head h + b_head)[w]                 for w in the head
    log p(w | h) = log softmax(W_head h + b_head)[cluster(w)]
                   + log softmax(W_c h + b_c)[w]                      for w in cluster c

Every token pays for the head; only tokens whose target lies in cluster c pay
for W_c. Unlike ``torch.nn.AdaptiveLogSoftmaxWithLoss`` the word vectors keep
the full width and are the rows of one (V, H) matrix, so the decoder can share
the embedding (Press & Wolf, 2017) and has the same word parameters as a
plain ``Linear(H, V)``; only the cluster vectors are added. The distribution
is exactly normalised, so perplexities are comparable with a full softmax.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _widened(logits: Tensor) -> Tensor:
    """Half-precision logits (autocast) in float32 for the softmax; float32/64 unchanged."""
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()


def parse_cutoffs(text: str, vocab_size: int) -> list[int]:
    """``"2000,6000"`` -> ``[2000, 6000]``, checked against ``vocab_size``; ``""`` -> ``[]``."""
    if not text.strip():
        return []
    try:
        cutoffs = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"adaptive_cutoffs: expected comma-separated integers, got {text!r}") from None
    bounds = [0] + cutoffs + [vocab_size]
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        raise ValueError(
            f"adaptive_cutoffs: expected increasing values between 0 and the "
            f"vocabulary size {vocab_size} (exclusive), got {text!r}"
        )
    return cutoffs


class AdaptiveSoftmax(nn.Module):
    """Adaptive softmax over a frequency-sorted vocabulary (id 0 = most frequent).

    Args:
        in_features: H, the width of the hidden vectors.
        vocab_size: V.
        cutoffs: increasing ids splitting the vocabulary: the head holds
            ``[0, cutoffs[0])``, cluster k holds ``[cutoffs[k], cutoffs[k+1])``
            with ``cutoffs[-1]`` followed by V.

    Attributes:
        weight: (V, H) word vectors; may be replaced by an embedding's weight.
        bias: (V,).
        cluster_weight: (K, H) one vector per tail cluster; cluster_bias: (K,).

    Inputs of :meth:`nll`: hidden (M, H), target (M,). Output: (M,) negative
    log-likelihoods. :meth:`log_prob`: hidden (..., H) -> (..., V) log-probabilities.

    Example::

        >>> softmax = AdaptiveSoftmax(256, 10000, [2000])
        >>> softmax.nll(torch.randn(8, 256), torch.randint(10000, (8,))).shape
        torch.Size([8])
    """

    def __init__(self, in_features: int, vocab_size: int, cutoffs: Sequence[int]) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if not cutoffs or any(a >= b for a, b in zip([0] + cutoffs, cutoffs + [vocab_size])):
            raise ValueError(f"AdaptiveSoftmax: expected cutoffs increasing within (0, {vocab_size}), got {cutoffs}")
        self.in_features, self.vocab_size = in_features, vocab_size
        self.bounds = cutoffs + [vocab_size]  # cluster k spans [bounds[k], bounds[k+1])
        bound = 1.0 / in_features**0.5  # as nn.Linear
        self.weight = nn.Parameter(torch.empty(vocab_size, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(vocab_size).uniform_(-bound, bound))
        clusters = len(cutoffs)
        self.cluster_weight = nn.Parameter(torch.empty(clusters, in_features).uniform_(-bound, bound))
        self.cluster_bias = nn.Parameter(torch.empty(clusters).uniform_(-bound, bound))

    @property
    def shortlist(self) -> int:
        return self.bounds[0]

    def _head_log_prob(self, hidden: Tensor) -> Tensor:
        """(M, H) -> (M, shortlist + K)."""
        weight = torch.cat([self.weight[: self.shortlist], self.cluster_weight])
        bias = torch.cat([self.bias[: self.shortlist], self.cluster_bias])
        return F.log_softmax(_widened(F.linear(hidden, weight, bias)), dim=-1)

    def _cluster_log_prob(self, hidden: Tensor, k: int) -> Tensor:
        """(M, H) -> (M, size of cluster k), the within-cluster log-probabilities."""
        lo, hi = self.bounds[k], self.bounds[k + 1]
        return F.log_softmax(_widened(F.linear(hidden, self.weight[lo:hi], self.bias[lo:hi])), dim=-1)

    def nll(self, hidden: Tensor, target: Tensor) -> Tensor:
        """Negative log-likelihood of each target: hidden (M, H), target (M,) -> (M,)."""
        if hidden.dim() != 2 or target.shape != hidden.shape[:1]:
            raise ValueError(
                f"AdaptiveSoftmax.nll: expected hidden (M, {self.in_features}) and "
                f"target (M,), got {tuple(hidden.shape)} and {tuple(target.shape)}"
            )
        head_target = target.clone()
        tails = []
        for k, (lo, hi) in enumerate(zip(self.bounds, self.bounds[1:])):
            rows = ((target >= lo) & (target < hi)).nonzero().squeeze(1)
            head_target[rows] = self.shortlist + k
            tails.append(rows)
        nll = -self._head_log_prob(hidden).gather(1, head_target.unsqueeze(1)).squeeze(1)
        for k, rows in enumerate(tails):
            if rows.numel():
                within = self._cluster_log_prob(hidden[rows], k)
                picked = within.gather(1, (target[rows] - self.bounds[k]).unsqueeze(1)).squeeze(1)
                nll = nll.index_add(0, rows, -picked)
        return nll

    def log_prob(self, hidden: Tensor) -> Tensor:
        """Log-probabilities of every word: (..., H) -> (..., V)."""
        flat = hidden.reshape(-1, self.in_features)
        head = self._head_log_prob(flat)
        parts = [head[:, : self.shortlist]]
        for k in range(len(self.bounds) - 1):
            parts.append(head[:, self.shortlist + k : self.shortlist + k + 1] + self._cluster_log_prob(flat, k))
        return torch.cat(parts, dim=1).reshape(*hidden.shape[:-1], self.vocab_size)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, vocab_size={self.vocab_size}, cutoffs={self.bounds[:-1]}"
