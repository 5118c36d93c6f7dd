"""Spatial transformer recipe, trained side: a classifier of distorted digits loaded from a checkpoint
(:class:`StnClassifier`): p(digit | image) and figures on a split (from
:class:`~rnnkit.families.vision.trained.TrainedImageClassifier`), and what its transformer makes of
images."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from rnnkit.families.vision.trained import META, TrainedImageClassifier
from rnnkit.recipes.stn.config import TransformedClassifier, defaults
from rnnkit.recipes.stn.data import DIGITS, as_inputs, load
from rnnkit.train.meta import Need


class StnClassifier(TrainedImageClassifier):
    """A trained (spatial transformer +) CNN on distorted MNIST."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        **META,
        "classes": Need("strings", check=lambda v, m: None if v == DIGITS else "expected the digits 0-9"),
        "channels": Need("integer", choices=(1,)),
        "side": Need("integer", minimum=16, maximum=128),
    }

    @classmethod
    def build_model(cls, sections, meta: dict):
        return TransformedClassifier(meta["side"], 10, sections["model"])

    @property
    def side(self) -> int:
        return self.meta["side"]

    def inputs(self, images: Tensor) -> Tensor:
        return as_inputs(images).to(self.device)

    def read_part(self, part: str, data_dir: Optional[str] = None) -> tuple[Tensor, Tensor, str]:
        """MNIST's ``part`` distorted as in training (the digest is of the undistorted images)."""
        data = self.sections["data"]
        if data_dir:
            data = type(data)(**{**vars(data), "data_dir": data_dir})
        return load(data, part)

    def data_name(self) -> str:
        return "mnist"

    def about(self) -> str:
        kind = "ST-CNN" if self.model.transformer is not None else "CNN"
        return f"{self.sections['data'].variant} MNIST, {kind}"

    def transformed(self, images: Tensor) -> Tensor:
        """What the transformer makes of uint8 ``images`` ``(M, 1, S, S)``: uint8 ``(M, 1, S', S')``;
        ValueError for a run trained without one."""
        if self.model.transformer is None:
            raise ValueError("this run has no spatial transformer (it was trained with --no-transformer)")
        self.model.eval()
        with torch.no_grad():
            out = self.model.transformer(self.inputs(images)).cpu()
        return (out * 255).round().clamp(0, 255).to(torch.uint8)
