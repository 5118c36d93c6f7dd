"""Image classification: the objective of a classifier of images ``(N, C, H, W)`` with training-time
augmentation (:class:`ImageObjective`) and its batched scoring (:func:`log_probs_of`).

Only training batches are augmented; validation (and every later use) reads the images as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.data.augment import Augment, augment
from rnnkit.objectives.supervised import SupervisedObjective, evaluating
from rnnkit.train.distributed import shard_range


class ImageObjective(SupervisedObjective):
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
