"""Training-time image augmentation on a batch ``(N, C, H, W)``, drawn from a seeded generator.

* random crop with padding: pad each side by ``crop_padding`` zeros, then cut an H x W window
  at a random offset (a shift of up to ``crop_padding`` pixels each way), as in the ResNet
  CIFAR-10 recipe (He et al., 2016: 4 pixels);
* horizontal flip with probability 1/2 (for photographs; not for digits or text);
* random erasing (Zhong et al., 2020) with probability ``erase``: a rectangle of 2-33% of the
  image with aspect ratio 0.3-3.3 set to 0 (the mean of normalised inputs).

Only a training batch is ever augmented: evaluation and prediction read images as they are.
Every draw comes from the generator passed in, so a seeded run repeats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

ERASE_AREA = (0.02, 0.33)
ERASE_RATIO = (0.3, 3.3)


@dataclass(frozen=True)
class Augment:
    """What to apply: ``crop_padding`` pixels (0: no crop), ``flip``, ``erase`` probability."""

    crop_padding: int = 0
    flip: bool = False
    erase: float = 0.0

    def __post_init__(self) -> None:
        if self.crop_padding < 0:
            raise ValueError(f"crop_padding: expected >= 0 pixels, got {self.crop_padding}")
        if not 0.0 <= self.erase <= 1.0:
            raise ValueError(f"erase: expected a probability in [0, 1], got {self.erase}")

    @property
    def active(self) -> bool:
        return bool(self.crop_padding or self.flip or self.erase)


def augment(images: Tensor, how: Augment, generator: torch.Generator) -> Tensor:
    """``images`` ``(N, C, H, W)`` float, augmented as ``how`` says (a new tensor)."""
    if how.crop_padding:
        images = random_crop(images, how.crop_padding, generator)
    if how.flip:
        images = random_flip(images, generator)
    if how.erase:
        images = random_erase(images, how.erase, generator)
    return images


def random_crop(images: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """Each image padded by ``padding`` zeros, then cut back to its size at a random offset."""
    n, _, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    top = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    rows = (top[:, None] + torch.arange(h))[:, :, None]  # (N, H, 1)
    cols = (left[:, None] + torch.arange(w))[:, None, :]  # (N, 1, W)
    batch = torch.arange(n)[:, None, None]
    return (
        padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()
    )  # (N, H, W, C) -> (N, C, H, W)


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_erase(images: Tensor, probability: float, generator: torch.Generator) -> Tensor:
    """With ``probability`` per image, a random rectangle (area and aspect ratio as in
    :data:`ERASE_AREA`, :data:`ERASE_RATIO`) set to zero."""
    n, _, h, w = images.shape
    chosen = torch.rand(n, generator=generator) < probability
    area = h * w * torch.empty(n).uniform_(*ERASE_AREA, generator=generator)
    log_lo, log_hi = math.log(ERASE_RATIO[0]), math.log(ERASE_RATIO[1])
    ratio = torch.exp(torch.empty(n).uniform_(log_lo, log_hi, generator=generator))
    eh = (area * ratio).sqrt().round().clamp(1, h).long()
    ew = (area / ratio).sqrt().round().clamp(1, w).long()
    top = (torch.rand(n, generator=generator) * (h - eh + 1)).long()
    left = (torch.rand(n, generator=generator) * (w - ew + 1)).long()
    ys, xs = torch.arange(h), torch.arange(w)
    in_rows = (ys[None, :] >= top[:, None]) & (ys[None, :] < (top + eh)[:, None])  # (N, H)
    in_cols = (xs[None, :] >= left[:, None]) & (xs[None, :] < (left + ew)[:, None])  # (N, W)
    mask = chosen[:, None, None] & in_rows[:, :, None] & in_cols[:, None, :]  # (N, H, W)
    return images.masked_fill(mask[:, None], 0.0)
