"""Sequential MNIST, trained side: a digit classifier loaded from a checkpoint (:class:`DigitClassifier`).

It gives p(digit | image) for images (M, 28, 28) uint8 and scores a split of MNIST: accuracy, per-class
figures, the confusion matrix and PNGs of it and of the misclassified digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from rnnkit.data import mnist
from rnnkit.metrics.classification import classification_scores, per_class_lines, plot_confusion
from rnnkit.recipes.seqmnist.config import defaults
from rnnkit.recipes.seqmnist.data import Reader, input_size, mnist_folder, permutation_of
from rnnkit.recipes.seqmnist.model import VectorClassifier
from rnnkit.train.meta import Need, is_permutation
from rnnkit.train.plots import plot_digits
from rnnkit.train.recipe import TrainedModel

DIGITS = [str(d) for d in range(10)]


def _permuted_has_its_permutation(data: dict, meta: dict) -> Optional[str]:
    if data.get("mode") == "permuted" and meta.get("permutation") is None:
        return "mode 'permuted' needs the pixel permutation (field 'permutation'), which is missing"
    return None


class DigitClassifier(TrainedModel):
    """A trained sequential-MNIST classifier: digits of images, figures on a split."""

    config_defaults = staticmethod(defaults)
    meta_fields = {
        "permutation": Need("integers", optional=True, check=is_permutation(28 * 28)),
        "train_sha256": Need("string", optional=True),
        "config.data": Need("object", optional=True, check=_permuted_has_its_permutation),
    }

    @classmethod
    def build_model(cls, sections, meta: dict):
        return VectorClassifier(input_size(sections["data"].mode), 10, sections["model"])

    def __init__(self, model, sections, meta: dict, path=None) -> None:
        super().__init__(model, sections, meta, path)
        self.reader = Reader(sections["data"].mode, permutation_of(meta))

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """p(digit | image) (M, 10) for images (M, 28, 28) uint8."""
        return self.reader.log_probs(self.model, images).exp()

    def split_images(self, split: str, data_dir: Optional[str] = None) -> tuple[torch.Tensor, torch.Tensor]:
        data = self.sections["data"]
        folder = mnist_folder(data_dir or data.data_dir)
        if split == "test":
            return mnist.load_split(folder, "test")
        images, labels = mnist.load_split(folder, "train")
        mnist.check_same_training(folder, images, labels, self.meta.get("train_sha256"))
        train_idx, valid_idx = mnist.validation_split(len(images), data.valid_size, self.sections["train"].seed)
        rows = valid_idx if split == "valid" else train_idx
        return images[rows], labels[rows]

    def evaluate(self, split: str = "test", data_dir: Optional[str] = None, figures: Optional[Path] = None) -> dict:
        """Accuracy, per-class figures and the confusion matrix; PNGs of it and of the misclassified
        digits (``confusion_<split>.png``, ``errors_<split>.png``) in ``figures`` (default: the run)."""
        images, labels = self.split_images(split, data_dir)
        log_probs = self.reader.log_probs(self.model, images)
        result = classification_scores(log_probs, labels, DIGITS)
        result.update(split=split, examples=len(labels))
        folder = Path(figures) if figures is not None else self.run_dir
        title = f"{split}: accuracy {100 * result['accuracy']:.2f}% ({self.sections['data'].mode})"
        plot_confusion(result["confusion"], DIGITS, folder / f"confusion_{split}.png", title)
        predicted = log_probs.argmax(-1)
        wrong = (predicted != labels).nonzero().flatten()
        result["misclassified"] = len(wrong)
        plot_digits(
            images[wrong[:64]].numpy(),
            [f"{int(labels[i])}->{int(predicted[i])}" for i in wrong[:64]],
            folder / f"errors_{split}.png",
            f"{split}: {len(wrong)} misclassified (true->predicted)",
        )
        result["figures"] = [str(folder / f"confusion_{split}.png"), str(folder / f"errors_{split}.png")]
        result["confusion"] = result["confusion"].tolist()
        return result

    def describe(self, result: dict) -> str:
        lines = [
            f"{result['split']}: accuracy {100 * result['accuracy']:.2f}% ({result['misclassified']} of "
            f"{result['examples']:,} wrong), macro-F1 {result['macro_f1']:.4f}",
            *per_class_lines(result["per_class"], "digit", 6),
        ]
        lines.append(f"figures: {', '.join(result['figures'])}")
        return "\n".join(lines)
