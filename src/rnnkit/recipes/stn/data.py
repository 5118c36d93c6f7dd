"""Spatial transformer recipe, data side: distorted MNIST made from the idx files of ``mnist/``
(:func:`load`: uint8 ``(N, 1, S, S)`` and labels), the same distortions every time for a seed."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from rnnkit.data import mnist
from rnnkit.data.corpus import data_dir as default_data_dir
from rnnkit.data.corpus import missing_data
from rnnkit.data.distort import distort
from rnnkit.recipes.stn.config import DistortedConfig

#: the seed of the test images' distortions: one test set for every run
TEST_SEED = 31_415
DIGITS = [str(d) for d in range(10)]


def mnist_folder(config: DistortedConfig) -> Path:
    root = default_data_dir(config.data_dir or None)
    if not mnist.has_files(root / "mnist"):
        raise missing_data("mnist", config.data_dir or None, root / "mnist" / mnist.FILES["train"][0])
    return root / "mnist"


def load(config: DistortedConfig, split: str) -> tuple[Tensor, Tensor, str]:
    """(distorted images uint8 ``(N, 1, S, S)``, labels ``(N,)``, sha256 of the undistorted
    images) of MNIST's ``train`` (distorted by ``distort_seed``) or ``test`` (by :data:`TEST_SEED`)."""
    images, labels = mnist.load_split(mnist_folder(config), split)
    seed = config.distort_seed if split == "train" else TEST_SEED
    distorted = distort(images, config.variant, torch.Generator().manual_seed(seed))
    return distorted[:, None], labels, mnist.digest(images, labels)


def as_inputs(images: Tensor) -> Tensor:
    """uint8 ``(N, 1, S, S)`` -> float in [0, 1] (0 the background, as the transformer pads)."""
    return images.float() / 255
