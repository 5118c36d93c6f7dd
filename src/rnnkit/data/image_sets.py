"""The image classification sets rnnkit reads, as uint8 ``(N, C, H, W)`` images with labels and class
names (:func:`load_set`), and their normalisation (:func:`channel_stats`, :func:`normalise`).

* ``fashion-mnist`` and ``mnist``: the idx files in ``fashion-mnist/`` and ``mnist/`` of the data
  folder (``--data-dir``, ``$RNNKIT_DATA`` or ``../shared/data``);
* ``cifar10``: the binary version, in ``cifar10/`` (or ``cifar-10-batches-bin/``) of the data folder;
* ``folder``: the folder given holding ``train/`` and ``test/``, one subfolder of images per class.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from . import cifar, mnist
from .corpus import data_dir as default_data_dir
from .corpus import missing_data
from .image_folder import read_folder

DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder")
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGITS = tuple(str(d) for d in range(10))


@dataclass
class Images:
    """A split: ``images`` uint8 ``(N, C, H, W)``, ``labels`` int64 ``(N,)``, ``classes`` names."""

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...]


def _idx(dataset: str, data_dir: str, split: str) -> Images:
    root = default_data_dir(data_dir or None)
    folder = root / dataset
    if not mnist.has_files(folder, split):
        raise missing_data(dataset, data_dir or None, folder / mnist.FILES[split][0])
    images, labels = mnist.load_split(folder, split)
    return Images(images.unsqueeze(1), labels, FASHION if dataset == "fashion-mnist" else DIGITS)


def _cifar(data_dir: str, split: str) -> Images:
    root = default_data_dir(data_dir or None)
    folder = root / "cifar10" if (root / "cifar10").is_dir() else root
    try:
        images, labels = cifar.load_split(folder, split)
    except FileNotFoundError as err:  # not in rnnkit's catalogue: no fetch command to name
        raise ValueError(f"{err}; unpack CIFAR-10's binary version (cifar-10-binary.tar.gz) there") from None
    return Images(images, labels, cifar.class_names(folder))


def _folder(data_dir: str, split: str, side: int, skip_bad: bool) -> Images:
    root = Path(data_dir) if data_dir else None
    if root is None:
        raise ValueError(
            "--dataset folder needs --data-dir: the folder holding train/ and test/ (one subfolder per class)"
        )
    found = read_folder(root / split, side, skip_bad)
    if found.skipped:
        first = found.skipped[0][0]
        print(
            f"skipped {len(found.skipped)} files of {root / split} that are not images (first {first})",
            file=sys.stderr,
        )
    return Images(found.images, found.labels, found.classes)


def load_set(dataset: str, data_dir: str, split: str, side: int = 32, skip_bad: bool = False) -> Images:
    """The ``train`` or ``test`` images of ``dataset`` (one of :data:`DATASETS`; ``side`` and
    ``skip_bad`` for a ``folder``); ValueError in one line naming what is missing or wrong."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected train or test, got {split!r}")
    if dataset == "cifar10":
        return _cifar(data_dir, split)
    if dataset == "folder":
        return _folder(data_dir, split, side, skip_bad)
    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {dataset!r}")
    return _idx(dataset, data_dir, split)


def channel_stats(images: Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 ``images`` ``(N, C, H, W)`` in [0, 1] units."""
    pixels = images.transpose(0, 1).reshape(images.shape[1], -1).double() / 255
    std = pixels.std(dim=1).clamp_min(1e-3)
    return pixels.mean(dim=1).tolist(), std.tolist()


def normalise(images: Tensor, mean: list[float], std: list[float]) -> Tensor:
    """uint8 ``(N, C, H, W)`` -> float32 ``(N, C, H, W)``: (pixel / 255 - mean) / std per channel."""
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (images.float() / 255 - m) / s
