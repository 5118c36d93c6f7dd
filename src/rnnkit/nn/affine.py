"""Affine resampling of images, the grid generator and sampler of a spatial transformer
(Jaderberg et al., 2015): ``theta`` (N, 2, 3) maps each output pixel's coordinates to a point of
the input, both in [-1, 1] (x right, y down, pixel centres: ``align_corners=False``), and the
input is read there bilinearly (zeros outside). The identity [[1, 0, 0], [0, 1, 0]] returns the
input. Used by the spatial transformer (:mod:`rnnkit.families.vision.stn`) and to draw distorted
digits (:mod:`rnnkit.data.distort`).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def affine_sample(images: Tensor, theta: Tensor, out_side: int) -> Tensor:
    """``images`` (N, C, H, W) read through ``theta`` (N, 2, 3) onto (N, C, out_side, out_side)."""
    n, c = images.shape[:2]
    grid = F.affine_grid(theta, [n, c, out_side, out_side], align_corners=False)  # (N, out, out, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
