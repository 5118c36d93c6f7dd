"""Sequential MNIST, data side: where the digits come from (:class:`MnistConfig`, :func:`mnist_folder`)
and how a network reads them (:class:`Reader`: images (N, 28, 28) uint8 as rows, pixels or permuted pixels)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from rnnkit.bounds import batch, seed
from rnnkit.data import mnist
from rnnkit.data.corpus import data_dir as default_data_dir
from rnnkit.data.corpus import missing_data, note_as_given
from rnnkit.objectives.supervised import evaluating
from rnnkit.train.config import PATH, bound, only_with


@dataclass
class MnistConfig:
    """Where the digits come from and how a network reads them.

    Attributes:
        data_dir: the data folder, holding ``mnist/`` (default ``$RNNKIT_DATA`` or
            ``../shared/data``); a folder of the four idx files itself (``fashion-mnist/``, or
            the form before issue 29) is used as given, with a note.
        mode: ``rows`` (28 steps of 28 pixels), ``pixels`` (784 steps of 1) or ``permuted``.
        permutation_seed: seed of the fixed pixel order of ``permuted`` (saved in the checkpoint).
        valid_size: training images held out (seeded by the run's seed) for validation.
        shift: training images move by up to this many pixels each way (augmentation; 0 = off).
        batch_size: images per batch.
    """

    data_dir: str = field(default="", metadata=PATH)
    mode: str = "rows"
    permutation_seed: int = field(default=0, metadata={**seed(), **only_with("mode", "permuted")})
    valid_size: int = field(default=5000, metadata=bound(1, 30_000))  # at most half of MNIST's 60,000
    shift: int = field(default=0, metadata=bound(0, 4))
    batch_size: int = field(default=128, metadata=batch())

    @property
    def steps(self) -> int:
        """Steps a network reads per image (for the memory estimate)."""
        return 28 if self.mode == "rows" else 784


def mnist_folder(explicit: str) -> Path:
    """The folder of the idx files: the data folder's ``mnist/``, else the data folder itself when
    it holds them (after a note: the form before issue 29). ValueError naming the fetch command."""
    root = default_data_dir(explicit or None)
    if mnist.has_files(root / "mnist"):
        return root / "mnist"
    if mnist.has_files(root):
        return note_as_given(explicit or None, "the MNIST idx files", "mnist")
    raise missing_data("mnist", explicit or None, root / "mnist" / mnist.FILES["train"][0])


def input_size(mode: str) -> int:
    return mnist.SIDE if mode == "rows" else 1


def permutation_of(meta: dict) -> Optional[torch.Tensor]:
    return torch.tensor(meta["permutation"]) if meta.get("permutation") is not None else None


class Reader:
    """Images (N, 28, 28) uint8 -> the model's logits (N, 10), in the run's sequence mode."""

    def __init__(self, mode: str, permutation: Optional[torch.Tensor]) -> None:
        self.mode, self.permutation = mode, permutation

    def logits(self, model, images: torch.Tensor) -> torch.Tensor:
        device = next(model.parameters()).device
        return model(mnist.as_sequence(images.to(device), self.mode, self.permutation))

    def log_probs(self, model, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """(M, 10) on the CPU, in batches, without gradients."""
        with evaluating(model):
            return torch.cat(
                [
                    F.log_softmax(self.logits(model, images[i : i + batch_size]).float(), -1).cpu()
                    for i in range(0, len(images), batch_size)
                ]
            )
