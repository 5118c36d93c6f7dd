"""Long-range memory tasks, generated from a seeded generator: the adding problem and copy memory.

Adding (Hochreiter & Schmidhuber, 1997; the form of Le et al., 2015): inputs
(N, T, 2), channel 0 uniform numbers in [0, 1), channel 1 a marker that is 1 at
one step of the first half and one step of the second half; target (N,) the
sum of the two marked numbers. Always answering 1 (the mean of the target) has
MSE Var(U + U') = 1/6 = 0.1667.

Copy memory (Hochreiter & Schmidhuber, 1997; the form of Arjovsky et al.,
2016): ``symbols`` (10) digits from 1..``alphabet`` (8), then ``delay - 1``
blanks (0), a cue (``alphabet + 1``), and ``symbols`` more blanks, during
which the network must repeat the digits: inputs (N, L) ids, targets (N, L)
ids, L = delay + 2 * symbols. A network without memory does best by answering
blank until the cue and guessing uniformly after it: cross-entropy
``symbols * log(alphabet) / L`` per step (:func:`copy_baseline`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

BLANK = 0


def adding_batch(n: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(inputs (n, length, 2), targets (n,)) of the adding problem (length >= 2)."""
    if length < 2:
        raise ValueError(f"--length: the adding problem needs at least 2 steps, got {length}")
    values = torch.rand(n, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    marks = torch.zeros(n, length)
    rows = torch.arange(n)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    return torch.stack([values, marks], dim=-1), values[rows, first] + values[rows, second]


def adding_baseline(targets: Tensor) -> float:
    """MSE of always answering 1 on these targets (about 1/6)."""
    return float((targets - 1.0).pow(2).mean())


def copy_batch(
    n: int, delay: int, generator: torch.Generator, symbols: int = 10, alphabet: int = 8
) -> tuple[Tensor, Tensor]:
    """(inputs (n, L), targets (n, L)) ids of the copy-memory task, L = delay + 2 * symbols;
    vocabulary 0 blank, 1..alphabet digits, alphabet + 1 the cue."""
    if delay < 1:
        raise ValueError(f"--length: the copy task needs a delay of at least 1, got {delay}")
    digits = torch.randint(1, alphabet + 1, (n, symbols), generator=generator)
    total = delay + 2 * symbols
    inputs = torch.full((n, total), BLANK, dtype=torch.long)
    inputs[:, :symbols] = digits
    inputs[:, symbols + delay - 1] = alphabet + 1
    targets = torch.full((n, total), BLANK, dtype=torch.long)
    targets[:, -symbols:] = digits
    return inputs, targets


def copy_baseline(delay: int, symbols: int = 10, alphabet: int = 8) -> float:
    """Cross-entropy per step (nats) of the best memoryless answer: blanks, then uniform digits."""
    return symbols * math.log(alphabet) / (delay + 2 * symbols)


def memoryless_copy_loss(targets: Tensor, symbols: int = 10, alphabet: int = 8) -> float:
    """The same baseline computed on ``targets`` (N, L): log-probability 1 for blanks before the
    cue, 1/alphabet for each digit after it."""
    n, total = targets.shape
    log_probs = torch.full((n, total, alphabet + 2), -math.inf)
    log_probs[:, : total - symbols, BLANK] = 0.0
    log_probs[:, total - symbols :, 1 : alphabet + 1] = -math.log(alphabet)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return float(-picked.mean())
