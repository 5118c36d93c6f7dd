"""Image classification, trained side: a classifier loaded from a checkpoint (:class:`ImageClassifier`,
see :class:`~rnnkit.families.vision.trained.TrainedImageClassifier`): its input is the image
normalised by the training images' per-channel mean and spread."""

from __future__ import annotations

from typing import Optional

import torch

from rnnkit.families.vision.trained import META, TrainedImageClassifier
from rnnkit.recipes.cnn.config import build_classifier, cam_layer, defaults
from rnnkit.recipes.cnn.data import normalise
from rnnkit.train.meta import Need


def _one_per_channel(value, meta: dict) -> Optional[str]:
    if len(value) != meta.get("channels"):
        return f"expected one value per channel ({meta.get('channels')}), got {len(value)}"
    return None


class ImageClassifier(TrainedImageClassifier):
    """A trained CNN: classes of images, figures on a split."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        **META,
        "mean": Need("numbers", check=_one_per_channel),
        "std": Need("numbers", positive=True, check=_one_per_channel),
    }

    @classmethod
    def build_model(cls, sections, meta: dict):
        return build_classifier(sections["model"], meta["channels"], len(meta["classes"]), meta["side"])

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(M, C, H, W)`` -> the network's normalised float input, on its device."""
        return normalise(images, self.meta["mean"], self.meta["std"]).to(self.device)

    def cam_layer(self) -> torch.nn.Module:
        return cam_layer(self.model)
