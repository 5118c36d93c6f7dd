"""Per-step views of packed tensors, for the kernels of :mod:`rnnkit.nn.kernels`.

A packed tensor ``(S, F)`` stores the ``batch_sizes[t]`` rows of time step ``t``
right after those of step ``t - 1`` (the layout of :mod:`rnnkit.nn.walk`; legend:
S = total packed rows, F = features). The kernels allocate one such tensor per
quantity for the whole sequence and write each step into its view in place.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cols(t: Tensor, start: int, stop: int, batch_sizes) -> tuple[Tensor, ...]:
    """Per-step views of columns ``start:stop`` of a packed tensor."""
    return split(t[:, start:stop], batch_sizes)


def split(t: Tensor, batch_sizes) -> tuple[Tensor, ...]:
    """Per-step views (rows) of a packed tensor."""
    return torch.split_with_sizes(t, batch_sizes)


def stack_previous(previous, k: int) -> Tensor:
    """Packed ``(S, *)`` tensor of the state each step started from."""
    return torch.cat([state[k] for state in previous])


def batch_rows(batch_sizes) -> int:
    """Number of sequences in a packed batch (the rows of its first step)."""
    return batch_sizes[0]
