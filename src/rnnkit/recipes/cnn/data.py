"""Image classification, data side: which data set (:class:`ImageDataConfig`), its images
(:func:`load`: uint8 ``(N, C, H, W)``, labels ``(N,)``, class names) and how they reach the network
(:func:`normalise` with the training images' per-channel mean and spread).

Data sets: ``fashion-mnist`` and ``mnist`` (the idx files in ``fashion-mnist/`` and ``mnist/`` of
the data folder), ``cifar10`` (the binary version, in ``cifar10/`` or ``cifar-10-batches-bin/``)
and ``folder`` (``--data-dir`` holding ``train/`` and ``test/``, one subfolder of images per
class, as people keep their own photos).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.bounds import batch
from rnnkit.data.image_sets import DATASETS, Images, channel_stats, load_set, normalise
from rnnkit.train.config import PATH, bound, only_with

__all__ = ["ImageDataConfig", "Images", "channel_stats", "load", "normalise"]


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


def load(config: ImageDataConfig, split: str) -> Images:
    """The ``train`` or ``test`` images of the configured data set (:func:`~rnnkit.data.image_sets.load_set`)."""
    return load_set(config.dataset, config.data_dir, split, config.side, config.skip_bad_files)
