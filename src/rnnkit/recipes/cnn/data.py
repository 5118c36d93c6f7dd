"""Image classification, data side: which data set (:class:`ImageDataConfig`), its images
(:func:`load`: uint8 ``(N, C, H, W)``, labels ``(N,)``, class names) and how they reach the network
(:func:`normalise` with the training images' per-channel mean and spread).

Data sets: ``fashion-mnist`` and ``mnist`` (the idx files in ``fashion-mnist/`` and ``mnist/`` of
the data folder), ``cifar10`` (the binary version, in ``cifar10/`` or ``cifar-10-batches-bin/``)
and ``folder`` (``--data-dir`` holding ``train/`` and ``test/``, one subfolder of images per
class, as people keep their own photos).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.bounds import batch
from rnnkit.data import cifar, mnist
from rnnkit.data.corpus import data_dir as default_data_dir
from rnnkit.data.corpus import missing_data
from rnnkit.data.image_folder import read_folder
from rnnkit.train.config import PATH, bound, only_with

DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder")
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGITS = tuple(str(d) for d in range(10))


@dataclass
class ImageDataConfig:
    """Where the images come from and what training does to them.

    Attributes:
        dataset: one of :data:`DATASETS`.
        data_dir: the data folder (default ``$RNNKIT_DATA`` or ``../shared/data``); for ``folder``
            the folder holding ``train/`` and ``test/``.
        side: images of a ``folder`` are resized to side x side.
        skip_bad_files: a ``folder``'s files that are not images are skipped and counted, not refused.
        valid_size: training images held out (seeded by the run's seed) for validation.
        crop_padding: random crop after padding by this many pixels (training only; 0 = off).
        flip: random left-right flips (training only; for clothes and photos, not digits).
        erase: random erasing probability per image (training only).
        batch_size: images per batch.
    """

    dataset: str = "fashion-mnist"
    data_dir: str = field(default="", metadata=PATH)
    side: int = field(default=32, metadata={**bound(8, 512), **only_with("dataset", "folder")})
    skip_bad_files: bool = field(default=False, metadata=only_with("dataset", "folder"))
    valid_size: int = field(default=5000, metadata=bound(1, 30_000))
    crop_padding: int = field(default=2, metadata=bound(0, 16))
    flip: bool = True
    erase: float = field(default=0.0, metadata=bound(0, 1))
    batch_size: int = field(default=128, metadata=batch())

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"--dataset: expected one of {', '.join(DATASETS)}, got {self.dataset!r}")


@dataclass
class Images:
    """A split: ``images`` uint8 ``(N, C, H, W)``, ``labels`` int64 ``(N,)``, ``classes`` names."""

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...]


def _idx(config: ImageDataConfig, split: str) -> Images:
    root = default_data_dir(config.data_dir or None)
    folder = root / config.dataset
    if not mnist.has_files(folder, split):
        raise missing_data(config.dataset, config.data_dir or None, folder / mnist.FILES[split][0])
    images, labels = mnist.load_split(folder, split)
    return Images(images.unsqueeze(1), labels, FASHION if config.dataset == "fashion-mnist" else DIGITS)


def _cifar(config: ImageDataConfig, split: str) -> Images:
    root = default_data_dir(config.data_dir or None)
    folder = root / "cifar10" if (root / "cifar10").is_dir() else root
    try:
        images, labels = cifar.load_split(folder, split)
    except FileNotFoundError as err:  # not in rnnkit's catalogue: no fetch command to name
        raise ValueError(f"{err}; unpack CIFAR-10's binary version (cifar-10-binary.tar.gz) there") from None
    return Images(images, labels, cifar.class_names(folder))


def _folder(config: ImageDataConfig, split: str) -> Images:
    root = Path(config.data_dir) if config.data_dir else None
    if root is None:
        raise ValueError(
            "--dataset folder needs --data-dir: the folder holding train/ and test/ (one subfolder per class)"
        )
    found = read_folder(root / split, config.side, config.skip_bad_files)
    if found.skipped:
        first = found.skipped[0][0]
        print(
            f"cnn: skipped {len(found.skipped)} files of {root / split} that are not images (first {first})",
            file=sys.stderr,
        )
    return Images(found.images, found.labels, found.classes)


def load(config: ImageDataConfig, split: str) -> Images:
    """The ``train`` or ``test`` images of the configured data set; ValueError in one line naming
    what is missing or wrong."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected train or test, got {split!r}")
    reader = {"cifar10": _cifar, "folder": _folder}.get(config.dataset, _idx)
    return reader(config, split)


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
