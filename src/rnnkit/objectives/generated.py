"""An objective whose training batches are generated, never repeated: synthetic tasks.

Batch k is drawn from a generator seeded by (seed, k), so a resumed run draws
exactly the batches the uninterrupted one would have; validation and test sets
are fixed sets drawn from their own seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn

from rnnkit.bounds import MAX_SET, batch, seed
from rnnkit.objectives.supervised import evaluating
from rnnkit.train.config import bound
from rnnkit.train.distributed import shard_range
from rnnkit.train.options import TrainConfig
from rnnkit.train.params import Param

SPLIT_SEEDS = {"valid": 10**9, "test": 2 * 10**9}  # offsets: far from the training batches' seeds

#: make(n, generator) -> (inputs, targets)
Make = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]

#: the ``eval`` parameter of a recipe on generated data: which fixed set to score
FIXED_SPLIT = Param("split", str, "test", "which fixed set to score", choices=("valid", "test"))


def fixed_set(make: Make, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` examples drawn once from ``seed`` (validation, test)."""
    return make(n, torch.Generator().manual_seed(seed))


@dataclass
class GeneratedSets:
    """What every generated task shares. Attributes:
    batch_size: sequences per training batch (each one new).
    valid_size, test_size: the fixed validation and test sets.
    data_seed: seed of those two sets.
    """

    batch_size: int = field(default=64, metadata=batch())
    valid_size: int = field(default=1000, metadata=bound(1, MAX_SET))
    test_size: int = field(default=2000, metadata=bound(1, MAX_SET))
    data_seed: int = field(default=0, metadata=seed())


def split_set(make: Make, data: GeneratedSets, split: str) -> tuple[Tensor, Tensor]:
    """The fixed ``valid`` or ``test`` set of a generated task."""
    size = data.valid_size if split == "valid" else data.test_size
    return fixed_set(make, size, SPLIT_SEEDS[split] + data.data_seed)


def generated_train_config(**overrides) -> TrainConfig:
    """The memory tasks' training defaults: Adam 1e-3, cosine over 13 minutes, clipping at 1."""
    return TrainConfig(
        **{
            **dict(
                optimizer="adam",
                lr=1e-3,
                schedule="cosine",
                max_minutes=13.0,
                anneal_by_time=True,
                warmup_steps=100,
                final_lr_ratio=0.05,
                eval_every=200,
                grad_clip=1.0,
            ),
            **overrides,
        }
    )


class GeneratedObjective:
    """Args:
        make: draws a batch.
        loss: ``loss(model, inputs, targets) -> (mean loss, count)``.
        scores: ``scores(model, inputs, targets) -> dict`` with ``"loss"``, on the validation set.
        metrics: ``{name: "min" or "max"}`` of what ``scores`` returns.
        valid: the validation set (inputs, targets).
        batch_size, seed: of the training batches; ``per_epoch`` batches count as one pass.
        unit: what ``loss``'s count counts (sequences, positions): the progress line's rate.

    On ``world`` processes (:meth:`shard`) every rank draws the same global batch and keeps
    its contiguous share of the rows (dim 0 of each tensor); the count of batches drawn is
    global, so a run resumes on any number of processes.
    """

    def __init__(
        self,
        make: Make,
        loss: Callable,
        scores: Callable,
        metrics: dict[str, str],
        valid: tuple[Tensor, Tensor],
        batch_size: int,
        seed: int,
        per_epoch: int = 100,
        unit: str = "sequences",
    ) -> None:
        self.make, self.loss, self.scores, self.metrics, self.unit = make, loss, scores, dict(metrics), unit
        self.valid, self.batch_size, self.seed, self.per_epoch = valid, batch_size, seed, per_epoch
        self.drawn = 0
        self.rank, self.world = 0, 1

    @property
    def epoch(self) -> int:
        return self.drawn // self.per_epoch

    def next_batch(self) -> Any:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.drawn)
        self.drawn += 1
        batch = self.make(self.batch_size, generator)
        if self.world == 1:
            return batch
        start, stop = shard_range(self.batch_size, self.rank, self.world)
        return tuple(part[start:stop] for part in batch) if stop > start else None

    def shard(self, rank: int, world: int) -> None:
        """Keep only this rank's rows of each global batch."""
        self.rank, self.world = rank, world

    def step(self, model: nn.Module, batch, info=None) -> tuple[Tensor, int]:
        return self.loss(model, *batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        with evaluating(model):
            return self.scores(model, *self.valid)

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return {}, {"drawn": self.drawn}

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.drawn = int(meta["drawn"])
