"""Recipe: an image classifier, the course notes' CNN (conv, pool, fully connected) or a small
residual network, on Fashion-MNIST, MNIST, CIFAR-10 (binary version) or a folder of photos.

Train: ``rnnkit train cnn`` (``--dataset fashion-mnist`` default; ``--preset mnist``,
``--preset cifar10``; ``--arch simple|resnet``)
Predict: ``rnnkit predict RUN image.png [more ...] --top 3 [--explain heat.png]``
Evaluate: ``rnnkit eval RUN --split test`` (accuracy, per class, confusion matrix and the most
confident mistakes as PNGs)
"""

from __future__ import annotations

import sys
from typing import Optional

import torch
import torch.nn.functional as F

from rnnkit.data import mnist
from rnnkit.data.augment import Augment, augment
from rnnkit.objectives.supervised import SupervisedObjective, evaluating
from rnnkit.recipes import report_on_test
from rnnkit.recipes.cnn.config import HELP, PRESETS, build_classifier, defaults
from rnnkit.recipes.cnn.data import ImageDataConfig, channel_stats, load, normalise
from rnnkit.recipes.cnn.trained import ImageClassifier
from rnnkit.recipes.cnn.use import PREDICT
from rnnkit.train.distributed import shard_range
from rnnkit.train.params import Param
from rnnkit.train.recipe import Built, Recipe, Smoke


class AugmentedObjective(SupervisedObjective):
    """Batches of training images, augmented as ``how`` says (training batches only; validation
    reads the images as they are). Each step's draws come from a generator seeded by the run's
    seed and the step, so a resumed run draws the same.

    ``inputs``: normalised float images ``(N, C, H, W)``; ``labels`` ``(N,)``."""

    def __init__(
        self, inputs, labels, train_idx, valid_idx, how: Augment, smoothing: float, batch_size: int, seed: int
    ):
        self.inputs, self.labels, self.how, self.smoothing, self.seed = inputs, labels, how, smoothing, seed
        collate = lambda rows: (inputs[train_idx[rows]], labels[train_idx[rows]])  # noqa: E731
        super().__init__(
            list(range(len(train_idx))),
            valid_idx,
            collate,
            self._loss,
            length=lambda _: 1,
            batch_size=batch_size,
            seed=seed,
            evaluate=self._scores,
            metrics={"loss": "min", "accuracy": "max"},
            unit="images",
        )

    def _loss(self, model, batch, reduction: str = "mean"):
        images, labels = batch
        device = next(model.parameters()).device
        logits = model(images.to(device))
        loss = F.cross_entropy(logits.float(), labels.to(device), reduction=reduction, label_smoothing=self.smoothing)
        return loss, len(labels)

    def next_batch(self):
        """(images, labels, rows of the global batch they are): augmentation is drawn per global batch."""
        rows = self.cycler.next()
        start, stop = shard_range(len(rows), self.rank, self.world) if self.world > 1 else (0, len(rows))
        if start == stop:
            return None
        return (*self.collate(rows[start:stop]), slice(start, stop))

    def step(self, model, batch, info=None):
        images, labels, rows = batch
        if self.how.active:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + (info.step if info is not None else 0))
            images = augment(images, self.how, generator)  # the shard's own rows of the drawn batch
        return self._loss(model, (images, labels))

    def _scores(self, model, valid_idx) -> dict:
        log_probs = log_probs_of(model, self.inputs[valid_idx])
        labels = self.labels[valid_idx]
        return {
            "loss": float(F.nll_loss(log_probs, labels)),
            "accuracy": float((log_probs.argmax(-1) == labels).double().mean()),
        }


def log_probs_of(model, inputs: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """log p(class | image) ``(M, K)`` on the CPU for normalised ``inputs`` ``(M, C, H, W)``."""
    device = next(model.parameters()).device
    with evaluating(model):
        parts = [model(inputs[i : i + batch_size].to(device)).float() for i in range(0, len(inputs), batch_size)]
    return F.log_softmax(torch.cat(parts), -1).cpu()


def build(sections, resume_meta: Optional[dict]) -> Built:
    """Model, objective and checkpoint metadata (class names, normalisation, image shape)."""
    data: ImageDataConfig = sections["data"]
    found = load(data, "train")
    images, labels = found.images, found.labels
    recorded = (resume_meta or {}).get("train_sha256")
    if recorded is not None and recorded != mnist.digest(images, labels):
        raise ValueError(
            f"{data.dataset}: the training images are not the run's (sha256 differs); point --data-dir at its data"
        )
    train_idx, valid_idx = mnist.validation_split(len(images), data.valid_size, sections["train"].seed)
    mean, std = channel_stats(images[train_idx])
    channels, side = images.shape[1], images.shape[-1]
    print(
        f"cnn: {data.dataset}, {len(train_idx):,} training and {len(valid_idx):,} validation images of "
        f"{channels}x{side}x{side}, {len(found.classes)} classes",
        file=sys.stderr,
    )
    how = Augment(data.crop_padding, data.flip, data.erase)
    model_config = sections["model"]
    objective = AugmentedObjective(
        normalise(images, mean, std),
        labels,
        train_idx,
        valid_idx,
        how,
        model_config.label_smoothing,
        data.batch_size,
        sections["train"].seed,
    )
    model = build_classifier(model_config, channels, len(found.classes), side)
    meta = {
        "classes": list(found.classes),
        "mean": mean,
        "std": std,
        "channels": channels,
        "side": side,
        "train_sha256": mnist.digest(images, labels),
    }
    return Built(model, objective, meta)


RECIPE = Recipe(
    name="cnn",
    summary="image classifier (conv-pool-fc or residual CNN) on Fashion-MNIST, MNIST, CIFAR-10 or a photo folder",
    defaults=defaults,
    presets=PRESETS,
    build=build,
    trained=ImageClassifier,
    commands=(PREDICT,),
    eval_params=(
        Param("split", str, "test", "which images to score", choices=("train", "valid", "test")),
        Param("data_dir", str, None, "the data folder (default: the run's)"),
    ),
    help=HELP,
    report=report_on_test(),
    outputs=("report_test.json", "confusion_*.png", "mistakes_*.png"),
    smoke=Smoke(
        train=(
            "--dataset",
            "mnist",
            "--data-dir",
            "{fixtures}",
            "--width",
            "4",
            "--hidden",
            "8",
            "--batch-size",
            "16",
            "--valid-size",
            "20",
            "--max-minutes",
            "0",
            "--max-steps",
            "6",
            "--warmup-steps",
            "0",
        ),
        uses={
            "predict": ("{fixtures}/cnn/digit.png", "--top", "2"),
            "eval": ("--split", "valid"),
        },
        expect={
            "predict": r"digit\.png: \S+ \(p \d\.\d{3}\); then \S+ \d\.\d{3}\n",
            "eval": r"^valid: accuracy \d+\.\d\d%",
        },
    ),
)
