"""Linear-chain conditional random field over per-position tag scores.

A linear-chain CRF (Lafferty et al., 2001) scores a whole tag sequence
y = (y_1, ..., y_T) of a sequence with T real positions as

    s(E, y) = start[y_1] + sum_t E[t, y_t] + sum_{t>1} transitions[y_{t-1}, y_t] + end[y_T]

where E (T, C) holds emission scores, e.g. a BiLSTM's outputs projected to the
C tags (Huang et al., 2015; Lample et al., 2016), and defines

    p(y | E) = exp s(E, y) / Z(E),    Z(E) = sum of exp s(E, y') over all C^T sequences y'.

log Z comes from the forward algorithm in log space, the best sequence from
Viterbi (max-product with backpointers) and the per-position tag marginals
from forward-backward. Each loops over time only, vectorised over the batch
and the tags: O(N L C^2) work, L sequential steps.

Legend: N batch, L (padded) sequence length, C tags.

Batches are right-padded: ``mask`` (N, L) bool is True at real positions,
which are a prefix of each row with at least one position (``mask=None``: all
positions are real). A sequence's score, log Z, best path and marginals are
those of the sequence given alone: padded emissions and tags are ignored (they
may hold anything, NaN emissions or -100 tags included) and get zero gradient.

Computation is in the dtype of ``emissions`` (float32 or float64; half
precision is widened to float32); the parameters are cast to it, so a float32
module accepts float64 emissions (the results and gradients are float64).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from .checks import shape_str
from .crfmask import check_mask, real_lengths

REDUCTIONS = ("mean", "sum", "none", "token_mean")
"""Accepted values of :meth:`LinearChainCRF.nll`'s ``reduction``."""

_Params = tuple[Tensor, Tensor, Tensor]  # start (C,), transitions (C, C), end (C,)


class LinearChainCRF(nn.Module):
    """A linear-chain CRF output layer: sequence-level scores, log Z, Viterbi and marginals.

    Args:
        num_tags: C, the number of tags.

    Attributes:
        transitions: (C, C); ``transitions[i, j]`` is the score of tag j right after tag i.
        start: (C,) score of each tag at the first position.
        end: (C,) score of each tag at the last real position.

    All three start at zero, so an untrained CRF is the per-position softmax of
    the emissions (and decodes to their per-position argmax). Zeros break no
    symmetry the data does not: the gradient of ``transitions`` is the expected
    minus the observed transition counts, non-zero from the first step.

    Inputs (every method): emissions (N, L, C) float; mask (N, L) bool or None;
    tags (N, L) integer ids in [0, C) where ``mask`` is True.
    Calling the module is :meth:`nll`: the training loss.

    Example::

        >>> crf = LinearChainCRF(5)
        >>> emissions, tags = torch.randn(2, 4, 5), torch.randint(5, (2, 4))
        >>> mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
        >>> crf(emissions, tags, mask).shape, crf.decode(emissions, mask)[1].__len__()
        (torch.Size([]), 2)
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if not isinstance(num_tags, int) or isinstance(num_tags, bool) or num_tags <= 0:
            raise ValueError(f"LinearChainCRF: num_tags must be a positive integer, got {num_tags!r}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.start = nn.Parameter(torch.empty(num_tags))
        self.end = nn.Parameter(torch.empty(num_tags))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set ``transitions``, ``start`` and ``end`` to zero."""
        for p in (self.transitions, self.start, self.end):
            nn.init.zeros_(p)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    # ----------------------------------------------------------------- public API

    def forward(
        self, emissions: Tensor, tags: Tensor, mask: Optional[Tensor] = None, reduction: str = "mean"
    ) -> Tensor:
        """Same as :meth:`nll`."""
        return self.nll(emissions, tags, mask, reduction)

    def score(self, emissions: Tensor, tags: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Unnormalised score s(E, y) of the given tag sequences.

        Inputs: emissions (N, L, C), tags (N, L), mask (N, L). Output: (N,).
        """
        emissions, mask, lengths, params = self._prepare("score", emissions, mask)
        tags = self._check_tags("score", tags, mask)
        return _sequence_score(emissions, tags, mask, lengths, params)

    def log_partition(self, emissions: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """log Z(E) by the forward algorithm (logsumexp over the previous tag at each step).

        Inputs: emissions (N, L, C), mask (N, L). Output: (N,).
        """
        emissions, mask, _, params = self._prepare("log_partition", emissions, mask)
        alpha = _forward(emissions, mask, params)[-1]
        return torch.logsumexp(alpha + params[2], dim=1)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Optional[Tensor] = None, reduction: str = "mean") -> Tensor:
        """Negative log-likelihood -log p(tags | emissions) = log Z - score.

        Args:
            reduction: ``"mean"`` over sequences, ``"sum"``, ``"none"`` (one value
                per sequence) or ``"token_mean"``: the sum divided by the number of
                real positions (comparable with a per-token cross-entropy).

        Inputs: emissions (N, L, C), tags (N, L), mask (N, L).
        Output: () or, with ``reduction="none"``, (N,).
        """
        if reduction not in REDUCTIONS:
            raise ValueError(f"LinearChainCRF.nll: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        emissions, mask, lengths, params = self._prepare("nll", emissions, mask)
        tags = self._check_tags("nll", tags, mask)
        alpha = _forward(emissions, mask, params)[-1]
        losses = torch.logsumexp(alpha + params[2], dim=1) - _sequence_score(emissions, tags, mask, lengths, params)
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        if reduction == "mean":
            return losses.mean()
        return losses.sum() / lengths.sum()

    def viterbi(self, emissions: Tensor, mask: Optional[Tensor] = None, pad_tag: int = -1) -> tuple[Tensor, Tensor]:
        """Best tag sequences by Viterbi, as a padded tensor, and their scores.

        Inputs: emissions (N, L, C), mask (N, L).
        Outputs: paths (N, L) int64 with ``pad_tag`` at padded positions;
        scores (N,), the score s(E, path) of each (the max over all sequences).
        """
        emissions, mask, _, (start, trans, end) = self._prepare("viterbi", emissions, mask)
        n, length, c = emissions.shape
        keep = torch.arange(c, device=emissions.device).expand(n, c)  # backpointer of a padded step
        best = start + emissions[:, 0]  # (N, C): best score of a prefix ending in each tag
        backs = []
        for t in range(1, length):
            prev_best, prev_tag = (best[:, :, None] + trans).max(dim=1)  # over the previous tag
            real = mask[:, t, None]
            best = torch.where(real, prev_best + emissions[:, t], best)
            backs.append(torch.where(real, prev_tag, keep))
        scores, tag = (best + end).max(dim=1)
        path = [tag]
        for back in reversed(backs):  # a padded step keeps the tag: the tail repeats the last real tag
            tag = back.gather(1, tag[:, None]).squeeze(1)
            path.append(tag)
        paths = torch.stack(path[::-1], dim=1).masked_fill(~mask, pad_tag)
        return paths, scores

    def decode(self, emissions: Tensor, mask: Optional[Tensor] = None) -> list[list[int]]:
        """Best tag sequence of each sequence by Viterbi.

        Inputs: emissions (N, L, C), mask (N, L).
        Output: N lists of tag ids, each as long as its sequence's real length.
        """
        paths, _ = self.viterbi(emissions, mask)
        lengths = real_lengths(mask, paths.shape).tolist()
        return [row[:k] for row, k in zip(paths.tolist(), lengths)]

    def marginals(self, emissions: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Per-position tag marginals p(y_t = c | E) by forward-backward.

        Inputs: emissions (N, L, C), mask (N, L).
        Output: (N, L, C); each real position sums to 1 over the tags, padded positions are 0.
        """
        emissions, mask, _, (start, trans, end) = self._prepare("marginals", emissions, mask)
        alphas = torch.stack(_forward(emissions, mask, (start, trans, end)), dim=1)  # (N, L, C)
        log_z = torch.logsumexp(alphas[:, -1] + end, dim=1)
        length = emissions.shape[1]
        beta = end.expand_as(emissions[:, 0])  # (N, C): log-sum of the suffix after each tag
        betas = [beta]
        for t in range(length - 2, -1, -1):  # beta_t[i] = logsumexp_j trans[i, j] + E[t+1, j] + beta_{t+1}[j]
            after = torch.logsumexp(trans + (emissions[:, t + 1] + beta)[:, None, :], dim=2)
            beta = torch.where(mask[:, t + 1, None], after, end)  # t is the last real position: only `end`
            betas.append(beta)
        betas = torch.stack(betas[::-1], dim=1)
        log_marginals = alphas + betas - log_z[:, None, None]
        return log_marginals.exp().masked_fill(~mask[..., None], 0.0)

    # ----------------------------------------------------------------- checks

    def _prepare(self, method: str, emissions: Tensor, mask: Optional[Tensor]):
        """Checked inputs: (emissions with padding zeroed, mask, lengths (N,), params), in the compute dtype."""
        name = f"LinearChainCRF.{method}"
        if not isinstance(emissions, Tensor):
            raise ValueError(f"{name}: expected emissions to be a Tensor, got {type(emissions).__name__}")
        if emissions.dim() != 3 or emissions.shape[-1] != self.num_tags:
            raise ValueError(
                f"{name}: expected emissions of shape (N, L, C) with C = num_tags = {self.num_tags}, "
                f"got {shape_str(emissions.shape)}"
            )
        if not emissions.is_floating_point():
            raise ValueError(f"{name}: expected floating-point emissions, got dtype {emissions.dtype}")
        if self.transitions.device != emissions.device:
            raise ValueError(
                f"{name}: emissions are on device {emissions.device} but the parameters are "
                f"on {self.transitions.device}"
            )
        n, length = emissions.shape[:2]
        if mask is None:
            if length == 0:
                raise ValueError(
                    f"{name}: emissions have no positions (L = 0, shape {shape_str(emissions.shape)}); "
                    "every sequence needs at least one"
                )
            mask = torch.ones(n, length, dtype=torch.bool, device=emissions.device)
        else:
            check_mask(name, mask, emissions)
        dtype = emissions.dtype if emissions.dtype in (torch.float32, torch.float64) else torch.float32
        emissions = emissions.to(dtype).masked_fill(~mask[..., None], 0.0)
        params = (self.start.to(dtype), self.transitions.to(dtype), self.end.to(dtype))
        return emissions, mask, mask.sum(dim=1), params

    def _check_tags(self, method: str, tags: Tensor, mask: Tensor) -> Tensor:
        """Checked tags as int64, with padded positions set to tag 0."""
        name = f"LinearChainCRF.{method}"
        if not isinstance(tags, Tensor):
            raise ValueError(f"{name}: expected tags to be a Tensor, got {type(tags).__name__}")
        if tags.shape != mask.shape:
            raise ValueError(
                f"{name}: expected tags of shape {shape_str(mask.shape)} (N, L, as emissions), "
                f"got {shape_str(tags.shape)}"
            )
        if tags.is_floating_point() or tags.is_complex() or tags.dtype == torch.bool:
            raise ValueError(f"{name}: expected integer tag ids, got dtype {tags.dtype}")
        if tags.device != mask.device:
            raise ValueError(f"{name}: tags are on device {tags.device} but emissions on {mask.device}")
        bad = mask & ((tags < 0) | (tags >= self.num_tags))
        if bad.any():
            k, t = (int(i) for i in bad.nonzero()[0])
            raise ValueError(f"{name}: tags[{k}, {t}] = {int(tags[k, t])} is not a tag id in [0, {self.num_tags})")
        return tags.long().masked_fill(~mask, 0)


def _sequence_score(emissions: Tensor, tags: Tensor, mask: Tensor, lengths: Tensor, params: _Params) -> Tensor:
    """s(E, y) of prepared inputs (padded emissions zero, padded tags 0): (N,)."""
    start, trans, end = params
    emitted = emissions.gather(2, tags[..., None]).squeeze(2).sum(dim=1)  # padding adds 0
    moved = trans[tags[:, :-1], tags[:, 1:]].masked_fill(~mask[:, 1:], 0.0).sum(dim=1)
    last = tags.gather(1, (lengths - 1)[:, None]).squeeze(1)
    return start[tags[:, 0]] + emitted + moved + end[last]


def _forward(emissions: Tensor, mask: Tensor, params: _Params) -> list[Tensor]:
    """Forward variables alpha_t (N, C) for t = 0..L-1: log-sum of the prefixes ending in each tag.

    A padded step carries alpha over unchanged, so the last one is each sequence's final alpha.
    """
    start, trans, _ = params
    alpha = start + emissions[:, 0]
    alphas = [alpha]
    for t in range(1, emissions.shape[1]):
        after = torch.logsumexp(alpha[:, :, None] + trans, dim=1) + emissions[:, t]  # over the previous tag
        alpha = torch.where(mask[:, t, None], after, alpha)
        alphas.append(alpha)
    return alphas


__all__ = ["LinearChainCRF", "REDUCTIONS"]
