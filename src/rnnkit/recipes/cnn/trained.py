"""Image classification, trained side: a classifier loaded from a checkpoint (:class:`ImageClassifier`).

It gives p(class | image) for uint8 images ``(M, C, H, W)`` of the run's shape and scores a split:
accuracy, per-class figures, the confusion matrix and PNGs of it and of the most confident mistakes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from rnnkit.data import mnist
from rnnkit.families.vision.scoring import describe_scores, score_split
from rnnkit.recipes.cnn.config import build_classifier, defaults
from rnnkit.recipes.cnn.data import load, normalise
from rnnkit.train.meta import Need
from rnnkit.train.recipe import TrainedModel


def _one_per_channel(value, meta: dict) -> Optional[str]:
    if len(value) != meta.get("channels"):
        return f"expected one value per channel ({meta.get('channels')}), got {len(value)}"
    return None


class ImageClassifier(TrainedModel):
    """A trained image classifier: classes of images, figures on a split."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        "classes": Need("strings", unique=True, check=lambda v, m: None if len(v) >= 2 else "expected >= 2 classes"),
        "mean": Need("numbers", check=_one_per_channel),
        "std": Need("numbers", positive=True, check=_one_per_channel),
        "channels": Need("integer", choices=(1, 3)),
        "side": Need("integer", minimum=8, maximum=512),
        "train_sha256": Need("string", optional=True),
    }

    @classmethod
    def build_model(cls, sections, meta: dict):
        return build_classifier(sections["model"], meta["channels"], len(meta["classes"]), meta["side"])

    @property
    def classes(self) -> list[str]:
        return self.meta["classes"]

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(M, C, H, W)`` -> the network's normalised float input, on its device."""
        return normalise(images, self.meta["mean"], self.meta["std"]).to(self.device)

    def log_probs(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """log p(class | image) ``(M, K)`` on the CPU for uint8 ``images`` ``(M, C, H, W)``."""
        self.model.eval()
        with torch.no_grad():
            parts = [
                self.model(self.inputs(images[i : i + batch_size])).float() for i in range(0, len(images), batch_size)
            ]
        return F.log_softmax(torch.cat(parts), -1).cpu()

    def split_images(self, split: str, data_dir: Optional[str] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images and labels of ``split`` (``valid``: the run's held-out training images)."""
        data = self.sections["data"]
        if data_dir:
            data = type(data)(**{**vars(data), "data_dir": data_dir})
        found = load(data, "test" if split == "test" else "train")
        if list(found.classes) != self.classes:
            raise ValueError(f"{data.dataset}: classes {list(found.classes)} are not the run's {self.classes}")
        if split == "test":
            return found.images, found.labels
        recorded = self.meta.get("train_sha256")
        if recorded is not None and mnist.digest(found.images, found.labels) != recorded:
            raise ValueError(
                f"{data.dataset}: the training images are not the run's, so its validation split cannot be drawn"
            )
        train_idx, valid_idx = mnist.validation_split(len(found.images), data.valid_size, self.sections["train"].seed)
        rows = valid_idx if split == "valid" else train_idx
        return found.images[rows], found.labels[rows]

    def evaluate(self, split: str = "test", data_dir: Optional[str] = None, figures: Optional[Path] = None) -> dict:
        """Accuracy, per-class figures and the confusion matrix; PNGs of it and of the most confident
        mistakes (``confusion_<split>.png``, ``mistakes_<split>.png``) in ``figures`` (default: the run)."""
        images, labels = self.split_images(split, data_dir)
        folder = Path(figures) if figures is not None else self.run_dir
        about = self.sections["data"].dataset
        return score_split(self.log_probs(images), labels, images, self.classes, folder, split, about)

    def describe(self, result: dict) -> str:
        return describe_scores(result, self.classes)
