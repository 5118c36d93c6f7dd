"""Dropout variants for recurrent networks (AWD-LSTM, Merity et al., 2018).

* :class:`LockedDropout`: variational dropout (Gal & Ghahramani, 2016): one
  mask per sequence, the same at every time step.
* :func:`embedding_dropout`: drop whole words (rows of the embedding matrix)
  for a batch, so every occurrence of a dropped word is zero.
* Weight-drop (DropConnect on the recurrent matrices) lives in the layers
  themselves: ``rnnkit.nn.LSTM(..., weight_dropout=p)``.

All are identity in eval mode.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def _check_p(name: str, p: float) -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name}: p must be a number in [0, 1), got {p!r}")
    return float(p)


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared over time.

    Args:
        p: probability of zeroing a feature (kept ones are scaled by 1/(1-p)).
        batch_first: input is (N, L, H) when True, (L, N, H) otherwise.

    Inputs: x (N, L, H) or (L, N, H). Output: same shape.
    """

    def __init__(self, p: float = 0.5, batch_first: bool = True) -> None:
        super().__init__()
        self.p, self.batch_first = _check_p("LockedDropout", p), batch_first

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.dim() != 3:
            raise ValueError(f"LockedDropout: expected a 3-D input, got shape {tuple(x.shape)}")
        shape = (x.shape[0], 1, x.shape[2]) if self.batch_first else (1, x.shape[1], x.shape[2])
        mask = x.new_empty(shape).bernoulli_(1.0 - self.p).div_(1.0 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, batch_first={self.batch_first}"


def embedding_dropout(embedding: nn.Embedding, tokens: Tensor, p: float, training: bool = True) -> Tensor:
    """Look up ``tokens`` with whole rows of the embedding dropped with probability ``p``.

    Kept rows are scaled by 1/(1-p). Returns (*tokens.shape, E).
    """
    _check_p("embedding_dropout", p)
    weight = embedding.weight
    if training and p > 0.0:
        mask = weight.new_empty(weight.shape[0], 1).bernoulli_(1.0 - p).div_(1.0 - p)
        weight = weight * mask
    return F.embedding(
        tokens,
        weight,
        embedding.padding_idx,
        embedding.max_norm,
        embedding.norm_type,
        embedding.scale_grad_by_freq,
        embedding.sparse,
    )


__all__ = ["LockedDropout", "embedding_dropout"]
