"""An objective whose training batches are generated, never repeated: synthetic tasks.

Batch k is drawn from a generator seeded by (seed, k), so a resumed run draws
exactly the batches the uninterrupted one would have; validation and test sets
are fixed sets drawn from their own seeds.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from .supervised import evaluating

#: make(n, generator) -> (inputs, targets)
Make = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]


def fixed_set(make: Make, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` examples drawn once from ``seed`` (validation, test)."""
    return make(n, torch.Generator().manual_seed(seed))


class GeneratedObjective:
    """Args:
        make: draws a batch.
        loss: ``loss(model, inputs, targets) -> (mean loss, count)``.
        scores: ``scores(model, inputs, targets) -> dict`` with ``"loss"``, on the validation set.
        metrics: ``{name: "min" or "max"}`` of what ``scores`` returns.
        valid: the validation set (inputs, targets).
        batch_size, seed: of the training batches; ``per_epoch`` batches count as one pass.
    """

    def __init__(self, make: Make, loss: Callable, scores: Callable, metrics: dict[str, str],
                 valid: tuple[Tensor, Tensor], batch_size: int, seed: int, per_epoch: int = 100) -> None:
        self.make, self.loss, self.scores, self.metrics = make, loss, scores, dict(metrics)
        self.valid, self.batch_size, self.seed, self.per_epoch = valid, batch_size, seed, per_epoch
        self.drawn = 0

    @property
    def epoch(self) -> int:
        return self.drawn // self.per_epoch

    def next_batch(self) -> Any:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.drawn)
        self.drawn += 1
        return self.make(self.batch_size, generator)

    def step(self, model: nn.Module, batch, info=None) -> tuple[Tensor, int]:
        return self.loss(model, *batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        with evaluating(model):
            return self.scores(model, *self.valid)

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return {}, {"drawn": self.drawn}

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.drawn = int(meta["drawn"])
