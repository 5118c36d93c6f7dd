"""Right-padding masks of :class:`rnnkit.nn.crf.LinearChainCRF`: checking one and reading its lengths.

Legend: N batch, L (padded) sequence length, C tags.

A mask ``(N, L)`` bool is True at real positions, which are a prefix of each row
with at least one position (right padding).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .checks import shape_str


def check_mask(name: str, mask: Tensor, emissions: Tensor) -> None:
    """``mask`` is (N, L) bool on the emissions' device, each row a non-empty prefix of True."""
    if not isinstance(mask, Tensor):
        raise ValueError(f"{name}: expected mask to be a Tensor or None, got {type(mask).__name__}")
    if mask.shape != emissions.shape[:2]:
        raise ValueError(
            f"{name}: expected mask of shape {shape_str(emissions.shape[:2])} (N, L of emissions), "
            f"got {shape_str(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        raise ValueError(f"{name}: expected mask of dtype torch.bool (True = real position), got {mask.dtype}")
    if mask.device != emissions.device:
        raise ValueError(f"{name}: mask is on device {mask.device} but emissions on {emissions.device}")
    if mask.shape[1] == 0:
        raise ValueError(
            f"{name}: mask has no positions (shape {shape_str(mask.shape)}); "
            "every sequence needs at least one real position"
        )
    empty = (~mask[:, 0]).nonzero()
    if empty.numel():
        k = int(empty[0])
        what = "no real position" if not mask[k].any() else "a padded first position"
        raise ValueError(
            f"{name}: mask[{k}] has {what}; every sequence needs at least one real position, "
            "and real positions must come first (right padding)"
        )
    gaps = (mask[:, 1:] & ~mask[:, :-1]).nonzero()
    if gaps.numel():
        k, t = int(gaps[0, 0]), int(gaps[0, 1]) + 1
        raise ValueError(
            f"{name}: mask[{k}] is not a prefix: position {t} is real after a padded one; "
            "real positions must come first (right padding)"
        )


def real_lengths(mask: Optional[Tensor], shape) -> Tensor:
    """Real length of each sequence: (N,) int64 on the CPU."""
    if mask is None:
        return torch.full((shape[0],), shape[1], dtype=torch.int64)
    return mask.sum(dim=1).cpu()
