"""Spatial transformer recipe, trained side: a classifier of distorted digits loaded from a checkpoint
(:class:`StnClassifier`): p(digit | image), what its transformer makes of images, figures on a split."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from rnnkit.data import mnist
from rnnkit.families.vision.scoring import describe_scores, score_split
from rnnkit.recipes.stn.config import TransformedClassifier, defaults
from rnnkit.recipes.stn.data import DIGITS, as_inputs, load
from rnnkit.train.meta import Need
from rnnkit.train.recipe import TrainedModel


class StnClassifier(TrainedModel):
    """A trained (spatial transformer +) CNN on distorted MNIST."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        "classes": Need("strings", check=lambda v, m: None if v == DIGITS else "expected the digits 0-9"),
        "channels": Need("integer", choices=(1,)),
        "side": Need("integer", minimum=16, maximum=128),
        "train_sha256": Need("string", optional=True),
    }
    classes = DIGITS

    @classmethod
    def build_model(cls, sections, meta: dict):
        return TransformedClassifier(meta["side"], 10, sections["model"])

    @property
    def side(self) -> int:
        return self.meta["side"]

    def log_probs(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """log p(digit | image) ``(M, 10)`` on the CPU for uint8 ``images`` ``(M, 1, S, S)``."""
        self.model.eval()
        with torch.no_grad():
            parts = [
                self.model(as_inputs(images[i : i + batch_size]).to(self.device)).float()
                for i in range(0, len(images), batch_size)
            ]
        return F.log_softmax(torch.cat(parts), -1).cpu()

    def transformed(self, images: torch.Tensor) -> torch.Tensor:
        """What the transformer makes of uint8 ``images`` ``(M, 1, S, S)``: uint8 ``(M, 1, S', S')``;
        ValueError for a run trained without one."""
        if self.model.transformer is None:
            raise ValueError("this run has no spatial transformer (it was trained with --no-transformer)")
        self.model.eval()
        with torch.no_grad():
            out = self.model.transformer(as_inputs(images).to(self.device)).cpu()
        return (out * 255).round().clamp(0, 255).to(torch.uint8)

    def split_images(self, split: str, data_dir: Optional[str] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Distorted uint8 images and labels of ``split`` (``valid``: the run's held-out training images)."""
        data = self.sections["data"]
        if data_dir:
            data = type(data)(**{**vars(data), "data_dir": data_dir})
        images, labels, digest = load(data, "test" if split == "test" else "train")
        if split == "test":
            return images, labels
        recorded = self.meta.get("train_sha256")
        if recorded is not None and digest != recorded:
            raise ValueError("mnist: the training images are not the run's, so its validation split cannot be drawn")
        train_idx, valid_idx = mnist.validation_split(len(images), data.valid_size, self.sections["train"].seed)
        rows = valid_idx if split == "valid" else train_idx
        return images[rows], labels[rows]

    def evaluate(self, split: str = "test", data_dir: Optional[str] = None, figures: Optional[Path] = None) -> dict:
        """Accuracy, per-digit figures, the confusion matrix and the most confident mistakes (PNGs in
        ``figures``, default the run)."""
        images, labels = self.split_images(split, data_dir)
        folder = Path(figures) if figures is not None else self.run_dir
        kind = "ST-CNN" if self.model.transformer is not None else "CNN"
        about = f"{self.sections['data'].variant} MNIST, {kind}"
        return score_split(self.log_probs(images), labels, images, self.classes, folder, split, about)

    def describe(self, result: dict) -> str:
        return describe_scores(result, self.classes)
