"""Attention over a padded source: dot, general and additive (concat) scores, masked.

Shape legend: N batch, S source positions (padded), K key size, Q query size,
T query positions (optional: one query per row, or T of them), A additive size.

Scores of a query ``q`` against a key ``k`` (Luong et al., 2015; Bahdanau et al., 2015):

* ``dot``: ``q . k`` (needs Q == K);
* ``general``: ``q . (W k)``;
* ``additive`` (Bahdanau's, and Luong's ``concat``): ``v . tanh(W_q q + W_k k)``.

The weights are a softmax over the real source positions only: padding gets
exactly zero weight, so a sentence's context does not change when it is
padded more.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

SCORES = ("dot", "general", "additive")


class Attention(nn.Module):
    """Context vectors and attention weights of queries over keys.

    Args:
        query_size: Q.
        key_size: K.
        score: ``dot``, ``general`` or ``additive``.
        additive_size: A, the hidden size of the additive score (default K).

    Use :meth:`prepare` once per source (it applies the key-side projection),
    then :meth:`forward` for each step or for all steps at once.
    """

    def __init__(
        self, query_size: int, key_size: int, score: str = "general", additive_size: Optional[int] = None
    ) -> None:
        super().__init__()
        if score not in SCORES:
            raise ValueError(f"score: expected one of {', '.join(SCORES)}, got {score!r}")
        if score == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs equal query and key sizes, got {query_size} and {key_size}")
        self.score, self.query_size, self.key_size = score, query_size, key_size
        if score == "general":
            self.key_proj = nn.Linear(key_size, query_size, bias=False)
        elif score == "additive":
            size = additive_size or key_size
            self.key_proj = nn.Linear(key_size, size, bias=False)
            self.query_proj = nn.Linear(query_size, size, bias=True)
            self.v = nn.Linear(size, 1, bias=False)

    def prepare(self, keys: Tensor) -> Tensor:
        """Keys (N, S, K) -> what :meth:`forward` scores against: (N, S, Q) or (N, S, A)."""
        return keys if self.score == "dot" else self.key_proj(keys)

    def scores(self, query: Tensor, prepared: Tensor) -> Tensor:
        """Unnormalised scores (N, T, S) of queries (N, T, Q)."""
        if self.score == "additive":
            hidden = torch.tanh(self.query_proj(query).unsqueeze(2) + prepared.unsqueeze(1))  # (N, T, S, A)
            return self.v(hidden).squeeze(-1)
        return torch.bmm(query, prepared.transpose(1, 2))

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor, prepared: Optional[Tensor] = None
    ) -> tuple[Tensor, Tensor]:
        """Attend.

        Inputs: query (N, Q) or (N, T, Q); keys (N, S, K); mask (N, S) bool, True at real
        positions (each row needs at least one); prepared: :meth:`prepare` of ``keys``.
        Outputs: context (N, K) or (N, T, K) and weights (N, S) or (N, T, S), each row of
        weights summing to 1 with zeros at padding.
        """
        single = query.dim() == 2
        if single:
            query = query.unsqueeze(1)
        if prepared is None:
            prepared = self.prepare(keys)
        scores = self.scores(query, prepared).masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, score={self.score!r}"
