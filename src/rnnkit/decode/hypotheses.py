"""Hypotheses of the searches in :mod:`rnnkit.decode.search`: the result type, the growing
histories, and collecting and ranking finished and cut hypotheses.

Shapes: R rows (sentence-major, ``beam`` rows per sentence in beam search), T steps so far,
S source positions, A sentences still decoding, C candidates per sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor


@dataclass
class Hypothesis:
    """One decoded output.

    Attributes:
        tokens: output ids, without ``sos`` and without the final ``eos``.
        score: sum of the log-probabilities of ``tokens`` (and of ``eos`` when finished).
        attention: (T, S) attention weights of each step, T = ``len(tokens) + 1`` when
            finished (the ``eos`` step included), else ``len(tokens)``; None when the
            step function gives no attention.
        finished: True when it ended with ``eos``, False when cut by the length limit.
    """

    tokens: list[int]
    score: float
    attention: Optional[Tensor]
    finished: bool

    @property
    def length(self) -> int:
        """Number of emitted tokens, counting the final ``eos`` of a finished hypothesis."""
        return len(self.tokens) + int(self.finished)

    def normalised_score(self, length_penalty: float = 1.0) -> float:
        """``score / max(1, length) ** length_penalty`` (0 = the raw score)."""
        return self.score / max(1, self.length) ** length_penalty


def extend_history(history: Optional[Tensor], rows: Optional[Tensor], new: Optional[Tensor]) -> Optional[Tensor]:
    """Reorder ``history`` (R, T, ...) by ``rows`` (None = keep), then append ``new`` (R, ...) at T.

    ``new`` is already in the new row order; a None ``history`` starts one from ``new``.
    """
    if new is None:
        return None
    if history is None:
        return new.unsqueeze(1)
    if rows is not None:
        history = history.index_select(0, rows)
    return torch.cat([history, new.unsqueeze(1)], dim=1)


def collect_finished(
    found: list[list[Hypothesis]],
    take: Tensor,
    sentences: Tensor,
    values: Tensor,
    rows: Tensor,
    history: Tensor,
    attention_history: Optional[Tensor],
    attention: Optional[Tensor],
    beam: int,
) -> None:
    """Turn the ``eos`` candidates marked in ``take`` (A, C) into finished hypotheses.

    ``values`` (A, C) are the candidate scores and ``rows`` (A, C) their parent rows;
    ``history`` (A*beam, T) and ``attention_history`` (A*beam, T, S) are the parents'
    pasts and ``attention`` (A*beam, S) this step's. A sentence takes candidates in rank
    order until it has ``beam`` finished hypotheses.
    """
    slots, ranks = take.nonzero(as_tuple=True)  # row-major: by sentence, then by rank
    parents = rows[slots, ranks]
    weights = None
    if attention is not None:
        weights = extend_history(attention_history.index_select(0, parents), None, attention.index_select(0, parents))
    for i, (b, ids, score) in enumerate(
        zip(sentences[slots].tolist(), history[parents].tolist(), values[slots, ranks].tolist())
    ):
        if len(found[b]) < beam:
            found[b].append(Hypothesis(ids, score, None if weights is None else weights[i], True))


def collect_live(
    found: list[list[Hypothesis]],
    cut: Tensor,
    sentences: Tensor,
    scores: Tensor,
    history: Tensor,
    attention_history: Optional[Tensor],
    beam: int,
) -> None:
    """Turn the live beams (finite score) of the sentences marked in ``cut`` (A,) into unfinished hypotheses.

    ``scores`` is (A, beam); ``history`` (A*beam, T) and ``attention_history`` (A*beam, T, S).
    """
    live = cut.unsqueeze(1) & torch.isfinite(scores)  # (A, beam)
    slots, beams = live.nonzero(as_tuple=True)
    rows = slots * beam + beams
    weights = None if attention_history is None else attention_history[rows]
    for i, (b, ids, score) in enumerate(
        zip(sentences[slots].tolist(), history[rows].tolist(), scores[slots, beams].tolist())
    ):
        found[b].append(Hypothesis(ids, score, None if weights is None else weights[i], False))


def rank_hypotheses(hypotheses: list[Hypothesis], length_penalty: float, n_best: int) -> list[Hypothesis]:
    """The ``n_best`` best: finished first, then by normalised score, best first."""
    order = sorted(hypotheses, key=lambda h: (not h.finished, -h.normalised_score(length_penalty)))
    return order[:n_best]
