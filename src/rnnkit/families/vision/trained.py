"""The trained side shared by image classifiers read from an image set
(:mod:`rnnkit.data.image_sets`): :class:`TrainedImageClassifier` gives p(class | image) for uint8
images ``(M, C, H, W)`` of the run's shape and scores a split (:mod:`.scoring`).

A subclass says how images become the network's input (:meth:`~TrainedImageClassifier.inputs`) and,
where its training rows are not all the training images left after the validation split, which they
are (:meth:`~TrainedImageClassifier.split_rows`). Its config's ``data`` section has ``dataset``,
``data_dir``, ``side``, ``skip_bad_files`` and ``valid_size``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data import mnist
from rnnkit.data.image_sets import load_set
from rnnkit.train.meta import Need
from rnnkit.train.recipe import TrainedModel

from .scoring import describe_scores, score_split

#: the metadata every such run keeps
META = {
    "classes": Need("strings", unique=True, check=lambda v, m: None if len(v) >= 2 else "expected >= 2 classes"),
    "channels": Need("integer", choices=(1, 3)),
    "side": Need("integer", minimum=8, maximum=512),
    "train_sha256": Need("string", optional=True),
}


class TrainedImageClassifier(TrainedModel):
    """A trained image classifier: classes of images, figures on a split."""

    @property
    def classes(self) -> list[str]:
        return self.meta["classes"]

    def inputs(self, images: Tensor) -> Tensor:
        """uint8 ``(M, C, H, W)`` -> the network's float input, on its device."""
        raise NotImplementedError

    def cam_layer(self) -> torch.nn.Module:
        """The layer whose feature maps Grad-CAM reads (``predict --explain``)."""
        raise NotImplementedError

    def split_rows(self, labels: Tensor) -> tuple[Tensor, Tensor]:
        """(training rows, validation rows) among the training images, whose labels are ``labels`` (N,)."""
        data = self.sections["data"]
        return mnist.validation_split(len(labels), data.valid_size, self.sections["train"].seed)

    def log_probs(self, images: Tensor, batch_size: int = 500) -> Tensor:
        """log p(class | image) ``(M, K)`` on the CPU for uint8 ``images`` ``(M, C, H, W)``."""
        self.model.eval()
        with torch.no_grad():
            parts = [
                self.model(self.inputs(images[i : i + batch_size])).float() for i in range(0, len(images), batch_size)
            ]
        return F.log_softmax(torch.cat(parts), -1).cpu()

    def split_images(self, split: str, data_dir: Optional[str] = None) -> tuple[Tensor, Tensor]:
        """uint8 images and labels of ``split`` (``valid``: the run's held-out training images)."""
        images, labels, digest = self.read_part("test" if split == "test" else "train", data_dir)
        if split == "test":
            return images, labels
        recorded = self.meta.get("train_sha256")
        if recorded is not None and digest != recorded:
            raise ValueError(
                f"{self.data_name()}: the training images are not the run's, so its validation split cannot be drawn"
            )
        train_rows, valid_rows = self.split_rows(labels)
        rows = valid_rows if split == "valid" else train_rows
        return images[rows], labels[rows]

    def read_part(self, part: str, data_dir: Optional[str] = None) -> tuple[Tensor, Tensor, str]:
        """(uint8 images ``(N, C, H, W)``, labels ``(N,)``, the sha256 that ``train_sha256`` records)
        of the data set's ``part`` (``train`` or ``test``)."""
        data = self.sections["data"]
        found = load_set(data.dataset, data_dir or data.data_dir, part, data.side, data.skip_bad_files)
        if list(found.classes) != self.classes:
            raise ValueError(f"{data.dataset}: classes {list(found.classes)} are not the run's {self.classes}")
        return found.images, found.labels, mnist.digest(found.images, found.labels)

    def data_name(self) -> str:
        """The data set's name in messages."""
        return self.sections["data"].dataset

    def evaluate(self, split: str = "test", data_dir: Optional[str] = None, figures: Optional[Path] = None) -> dict:
        """Accuracy, per-class figures and the confusion matrix; PNGs of it and of the most confident
        mistakes (``confusion_<split>.png``, ``mistakes_<split>.png``) in ``figures`` (default: the run)."""
        images, labels = self.split_images(split, data_dir)
        folder = Path(figures) if figures is not None else self.run_dir
        return score_split(self.log_probs(images), labels, images, self.classes, folder, split, self.about())

    def about(self) -> str:
        """What the figures' titles say of the run (its data set)."""
        return self.data_name()

    def describe(self, result: dict) -> str:
        return describe_scores(result, self.classes)
