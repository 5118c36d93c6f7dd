"""What the trainer and a recipe's objective exchange: the objective's methods, where a
step stands (:class:`StepInfo`) and how a run ended (:class:`FitResult`).

:mod:`rnnkit.train.trainer` describes the contract; :mod:`rnnkit.train.own_step` the
objectives that take their own optimisation step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn

__all__ = ["FitResult", "Objective", "OwnStepObjective", "StepInfo"]


@dataclass(frozen=True)
class StepInfo:
    """Where the run stands when a step is taken."""

    step: int  # steps done before this one
    progress: float  # fraction of the run done, in [0, 1]: the most used of its step, pass and
    # time budgets (0 when it has none)
    epoch: int  # passes over the training data done


class Objective(Protocol):
    epoch: int
    metrics: dict[str, str]

    def next_batch(self) -> Any: ...
    def step(self, model: nn.Module, batch: Any, info: StepInfo) -> tuple[Tensor, int]: ...
    def evaluate(self, model: nn.Module) -> dict[str, float]: ...
    def state_dict(self) -> tuple[dict[str, Tensor], dict]: ...
    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None: ...


class OwnStepObjective(Protocol):
    """An objective that updates the model itself, with the optimizers it declares: it gives
    these two instead of ``step`` (the rest as :class:`Objective`)."""

    def optimizers(self, model: nn.Module, config: Any) -> dict[str, torch.optim.Optimizer]: ...
    def train_step(self, model: nn.Module, batch: Any, info: StepInfo, control: Any) -> tuple[Tensor, int]: ...


@dataclass
class FitResult:
    """How a run ended: ``status`` is finished, interrupted or diverged; ``best`` is the best
    value of the ``monitor`` metric."""

    status: str
    step: int
    best: float
    monitor: str = "loss"
    message: str = ""
    last_eval: dict[str, float] = field(default_factory=dict)
    saved: int = 0  # checkpoints written by this run
