"""Transfer recipe, data side: which training images a run may learn from (:func:`labelled_rows`:
``labels_per_class`` of each class, drawn by the run's seed from those left after the validation
split) and the network's input (:func:`as_inputs`: Lite0's pixel scale)."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.data import mnist
from rnnkit.families.vision.efficientnet import normalise


def labelled_rows(
    labels: Tensor, valid_size: int, per_class: int, seed: int, classes: list[str]
) -> tuple[Tensor, Tensor]:
    """(training rows, validation rows) of ``labels`` (N,): the validation split first, then
    ``per_class`` rows of each class among the rest (0: all of them), both sorted. ValueError naming
    the class when one has fewer."""
    train, valid = mnist.validation_split(len(labels), valid_size, seed)
    if per_class == 0:
        return train, valid
    order = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 1))]
    chosen = []
    for k, name in enumerate(classes):
        rows = order[labels[order] == k]
        if len(rows) < per_class:
            raise ValueError(
                f"--labels-per-class {per_class}: class {name!r} has only {len(rows):,} training images "
                f"after the validation split of {valid_size:,}"
            )
        chosen.append(rows[:per_class])
    return torch.cat(chosen).sort().values, valid


def as_inputs(images: Tensor) -> Tensor:
    """uint8 ``(N, C, H, W)`` -> float, (x - 127) / 128 as Lite0's ImageNet weights expect."""
    return normalise(images)
