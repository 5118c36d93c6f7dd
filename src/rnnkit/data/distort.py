"""Distorted MNIST, the data sets of the spatial transformer paper (Jaderberg et al., 2015, 4.1),
made from the 28x28 digits of the idx files with a seeded generator:

* ``rotated`` (R): turned by an angle drawn from +-90 degrees, 28x28;
* ``rts`` (rotated, translated, scaled): turned by +-45 degrees, scaled by 0.7-1.2 and placed at
  a random position of a 42x42 canvas (the scaled, unrotated 28x28 box stays inside);
* ``translated`` (T): the digit at a random position of a 60x60 canvas;
* ``cluttered`` (TC): as ``translated``, plus 8 random 6x6 pieces of other digits as clutter.

Images are drawn with the bilinear sampler :func:`rnnkit.nn.affine.affine_sample` (theta maps
canvas coordinates to the digit's, both in [-1, 1]).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnkit.nn.affine import affine_sample

VARIANTS = {"rotated": 28, "rts": 42, "translated": 60, "cluttered": 60}
CLUTTER_PIECES, CLUTTER_SIDE = 8, 6


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _theta(angle: Tensor, scale: Tensor, shift: Tensor, canvas: int) -> Tensor:
    """(N, 2, 3) mapping canvas coordinates to the 28x28 digit's: the digit turned by ``angle``
    (radians), scaled by ``scale`` and moved by ``shift`` (N, 2) pixels from the centre."""
    ratio = canvas / 28  # a canvas unit is this many digit units
    cos, sin = torch.cos(angle), torch.sin(angle)
    inverse = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # R(-angle)
    inverse = inverse * (ratio / scale)[:, None, None]
    offset = shift * (2 / canvas)  # pixels to canvas units
    return torch.cat([inverse, -(inverse @ offset[:, :, None])], -1)


def distort(images: Tensor, variant: str, generator: torch.Generator) -> Tensor:
    """``images`` (N, 28, 28) uint8 -> (N, S, S) uint8, S = ``VARIANTS[variant]``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")
    n, canvas = len(images), VARIANTS[variant]
    angle, scale = torch.zeros(n), torch.ones(n)
    if variant == "rotated":
        angle = _uniform(n, -math.pi / 2, math.pi / 2, generator)
    elif variant == "rts":
        angle = _uniform(n, -math.pi / 4, math.pi / 4, generator)
        scale = _uniform(n, 0.7, 1.2, generator)
    room = ((canvas - 28 * scale) / 2).clamp_min(0)  # how far the digit box may move and stay inside
    shift = (
        torch.zeros(n, 2) if variant == "rotated" else (2 * torch.rand(n, 2, generator=generator) - 1) * room[:, None]
    )
    theta = _theta(angle, scale, shift, canvas)
    out = affine_sample(images[:, None].float(), theta, canvas)[:, 0]
    if variant == "cluttered":
        out = torch.maximum(out, _clutter(images, canvas, generator))
    return out.round().clamp(0, 255).to(torch.uint8)


def _clutter(images: Tensor, canvas: int, generator: torch.Generator) -> Tensor:
    """(N, canvas, canvas): :data:`CLUTTER_PIECES` random 6x6 crops of random digits of ``images``
    at random places of each canvas."""
    n, side = len(images), CLUTTER_SIDE
    out = torch.zeros(n, canvas, canvas)
    for _ in range(CLUTTER_PIECES):
        source = torch.randint(0, n, (n,), generator=generator)
        top, left = (torch.randint(0, 28 - side + 1, (n,), generator=generator) for _ in range(2))
        y, x = (torch.randint(0, canvas - side + 1, (n,), generator=generator) for _ in range(2))
        rows = torch.arange(side)
        pieces = images[source[:, None, None], (top[:, None] + rows)[:, :, None], (left[:, None] + rows)[:, None, :]]
        batch = torch.arange(n)[:, None, None]
        place = (batch, (y[:, None] + rows)[:, :, None], (x[:, None] + rows)[:, None, :])
        out[place] = torch.maximum(out[place], pieces.float())
    return out
