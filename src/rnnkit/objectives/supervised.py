"""Supervised training on variable-length examples: the objective, evaluation loops, batching.

Shape legend: N batch, L time (padded), C classes.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batches import BatchCycler, pad_batch
from rnnkit.train.distributed import shard_range

#: loss(model, batch, reduction) -> (loss, number of targets it covers)
LossFn = Callable[[nn.Module, Any, str], tuple[Tensor, int]]


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients inside the block; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def mean_loss(
    model: nn.Module, examples: Sequence, collate: Callable, loss: LossFn, batch_size: int = 256
) -> dict[str, float]:
    """``{"loss": mean per target, "bits": the same in bits}`` over ``examples``, in batches."""
    total, count = 0.0, 0
    with evaluating(model):
        for start in range(0, len(examples), batch_size):
            value, targets = loss(model, collate(examples[start : start + batch_size]), "sum")
            total, count = total + float(value), count + targets
    return {"loss": total / count, "bits": total / count / math.log(2)}


def predict_in_batches(
    forward: Callable[[list], Tensor],
    items: Sequence,
    size: Callable[[Any], int],
    model: nn.Module,
    batch_size: int = 256,
) -> Tensor:
    """``forward`` over ``items`` in batches of similar ``size``, rows back in the given order.

    ``forward(batch_items) -> (n, ...)`` runs under :func:`evaluating`; the
    result is (len(items), ...) on the CPU.
    """
    order = sorted(range(len(items)), key=lambda i: size(items[i]))
    out: list[Optional[Tensor]] = [None] * len(items)
    with evaluating(model):
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            result = forward([items[i] for i in rows]).cpu()
            for row, i in enumerate(rows):
                out[i] = result[row]
    return torch.stack(out)


def collate_labelled(examples: Sequence[tuple[Tensor, int]]):
    """(ids (N, L) padded with 0, lengths (N,), labels (N,)) from (ids, label) pairs."""
    ids, lengths = pad_batch([ids for ids, _ in examples])
    return ids, lengths, torch.tensor([label for _, label in examples])


def classifier_loss(weight: Optional[Tensor], logit_shift: Optional[Tensor] = None):
    """The loss of a (ids, lengths, labels) batch of a classifier with ``member_logits`` (K, N, C)
    (:mod:`rnnkit.recipes.names.model`): every member's cross-entropy (``weight`` per class; the logits
    plus ``logit_shift`` (C,) when given: the logit-adjusted loss), averaged."""

    def loss(model, batch, reduction: str = "mean") -> tuple[Tensor, int]:
        ids, lengths, labels = batch
        device = next(model.parameters()).device
        logits = model.member_logits(ids.to(device), lengths).float()  # (K, N, C), K = 1 unless an ensemble
        if logit_shift is not None:
            logits = logits + logit_shift.to(device)
        targets = labels.to(device).repeat(len(logits))
        w = weight.to(device) if weight is not None else None
        return F.cross_entropy(logits.flatten(0, 1), targets, weight=w, reduction=reduction), len(labels)

    return loss


def classifier_log_probs(model: nn.Module, encoded: Sequence[Tensor], batch_size: int = 256) -> Tensor:
    """A classifier's log-probabilities (M, C) for ``encoded`` sequences (each (L,) ids), batched by length."""
    device = next(model.parameters()).device

    def forward(batch):
        ids, lengths = pad_batch(batch)
        return F.log_softmax(model(ids.to(device), lengths).float(), dim=-1)

    return predict_in_batches(forward, encoded, len, model, batch_size)


def class_weights(labels: Sequence[int], num_classes: int, power: float = 1.0) -> Tensor:
    """Per-class weights (N / (C * count_c)) ** power; power 1 is sklearn's "balanced"."""
    counts = torch.bincount(torch.tensor(labels), minlength=num_classes).double()
    return (len(labels) / (num_classes * counts.clamp(min=1))).pow(power).float()


class SupervisedObjective:
    """Minibatches of variable-length examples, one shuffled pass after another.

    Batches are length-bucketed (:class:`~rnnkit.data.batches.BatchCycler`),
    so there is little padding, and the position in the data resumes exactly.

    Args:
        train, valid: the examples (any objects ``collate`` understands).
        collate: a list of examples -> a batch (padded tensors, lengths, targets).
        loss: ``loss(model, batch, reduction) -> (loss, target count)``.
        length: an example's length (for bucketing).
        batch_size: examples per batch.
        seed: seed of the shuffling.
        evaluate: ``evaluate(model, valid) -> dict`` with at least ``"loss"``;
            default: the mean loss (and bits) over ``valid``.
        metrics: ``{name: "min" or "max"}`` for what ``evaluate`` returns.
        sample_weights: one per training example: each pass draws examples with
            replacement in proportion to them (balanced sampling).
        unit: what ``loss``'s count counts (names, words...): the progress line's rate.

    On ``world`` processes (:meth:`shard`) every rank draws the same global batch of
    ``batch_size`` examples and collates its contiguous share (sizes differ by at most
    one; None when a short batch leaves it none); the saved position is the global one,
    so a run resumes on any number of processes.
    """

    def __init__(
        self,
        train: Sequence,
        valid: Sequence,
        collate: Callable,
        loss: LossFn,
        length: Callable[[Any], int],
        batch_size: int,
        seed: int,
        evaluate: Optional[Callable[[nn.Module, Sequence], dict]] = None,
        metrics: Optional[dict[str, str]] = None,
        sample_weights: Optional[Tensor] = None,
        unit: str = "examples",
    ) -> None:
        self.train, self.valid, self.collate, self.loss, self.unit = train, valid, collate, loss, unit
        self.evaluate_fn = evaluate or (lambda model, examples: mean_loss(model, examples, collate, loss))
        self.metrics = dict(metrics or {"loss": "min", "bits": "min"})
        self.cycler = BatchCycler([length(x) for x in train], batch_size, seed, sample_weights)
        self.rank, self.world = 0, 1

    @property
    def epoch(self) -> int:
        return self.cycler.epoch

    def shard(self, rank: int, world: int) -> None:
        """Collate only this rank's share of each global batch."""
        self.rank, self.world = rank, world

    def next_batch(self):
        rows = self.cycler.next()
        if self.world > 1:
            start, stop = shard_range(len(rows), self.rank, self.world)
            if start == stop:
                return None
            rows = rows[start:stop]
        return self.collate([self.train[i] for i in rows])

    def step(self, model: nn.Module, batch, info=None) -> tuple[Tensor, int]:
        return self.loss(model, batch, "mean")

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return self.evaluate_fn(model, self.valid)

    def state_dict(self):
        tensors, meta = self.cycler.state_dict()
        return {f"cycler/{k}": v for k, v in tensors.items()}, {"cycler": meta}

    def load_state_dict(self, tensors, meta) -> None:
        self.cycler.load_state_dict({"generator": tensors["cycler/generator"]}, meta["cycler"])
