"""An objective that takes its own optimisation step, with optimizers it declares.

A GAN updates its discriminator and its generator with two optimizers; a model with two
heads may train each with its own. Such an objective gives, instead of ``step``:

* ``optimizers(model, config)`` -> ``{name: torch.optim.Optimizer}``: each over the
  parameters it chooses (all of them the model's, each in at most one); names are
  letters, digits, ``_`` and ``-``. Called once, when the trainer is made (the model is
  already on its device).
* ``train_step(model, batch, info, control)`` -> ``(loss, count)``: computes its losses
  and calls ``control.update(name, loss)`` (:class:`StepControl`) for each optimizer it
  steps, in the order it likes; the ``loss`` it returns is what is logged.

The engine still does the rest: every parameter group's rate is its declared rate times
the schedule's factor (the schedule's rate over ``config.lr``: a group declared at
``config.lr`` follows the schedule exactly); ``update`` clips with ``config.grad_clip``;
a non-finite loss or gradient norm skips that update and every later one of the step and
stops the run as diverged. Checkpoints keep each optimizer's state in section
``optim.<name>`` and metadata ``optimizers.<name>`` (instead of ``optim`` and
``optimizer``); resuming needs the same names, and the resumed run's declaration gives
the hyperparameters from there on (as ``--weight-decay`` does for the engine's own).
Evaluation, logging (``lr``: the first declared optimizer's first group), the time
budget, Ctrl-C and exact resume are the engine's as for any objective.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import Tensor, nn

from . import checkpoint as ckpt
from . import distributed
from .precision import outside_autocast

NAME = re.compile(r"[A-Za-z0-9_-]+")


def takes_own_step(objective: Any) -> bool:
    """Whether ``objective`` declares optimizers or a ``train_step`` of its own."""
    return hasattr(objective, "optimizers") or hasattr(objective, "train_step")


def declare(objective: Any, model: nn.Module, config) -> dict[str, torch.optim.Optimizer]:
    """``objective.optimizers(model, config)``, checked; ValueError naming what is wrong."""
    who = type(objective).__name__
    for needed in ("optimizers", "train_step"):
        if not callable(getattr(objective, needed, None)):
            raise ValueError(
                f"{who} takes its own step but has no {needed}() method: an objective "
                "declares optimizers(model, config) and train_step(model, batch, info, "
                "control) together"
            )
    found = objective.optimizers(model, config)
    if not isinstance(found, dict) or not found:
        raise ValueError(
            f"{who}.optimizers(): expected a non-empty dict of name -> torch.optim.Optimizer, got {found!r:.80}"
        )
    names = {id(p): n for n, p in model.named_parameters()}
    owner: dict[int, str] = {}
    for name, optimizer in found.items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ValueError(f"{who}.optimizers(): optimizer name {name!r}: expected letters, digits, _ and - only")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"{who}.optimizers(): {name!r} is a {type(optimizer).__name__}, not a torch.optim.Optimizer"
            )
        for param in (p for group in optimizer.param_groups for p in group["params"]):
            if id(param) not in names:
                raise ValueError(
                    f"{who}.optimizers(): optimizer {name!r} holds a parameter that is not "
                    "the model's (checkpoints keep the model's parameters only)"
                )
            if id(param) in owner:
                raise ValueError(
                    f"{who}.optimizers(): parameter {names[id(param)]!r} is in optimizers "
                    f"{owner[id(param)]!r} and {name!r}; give each parameter to one"
                )
            owner[id(param)] = name
    return found


class StepControl:
    """What an objective's ``train_step`` updates with, one step at a time.

    Attributes:
        optimizers: name -> optimizer, as the objective declared them.
        norms: the gradient norm (before clipping) of each update so far in this step.
    """

    def __init__(self, model: nn.Module, optimizers: dict[str, torch.optim.Optimizer], clip: float) -> None:
        self.model, self.optimizers, self.clip = model, optimizers, clip
        self.norms: list[float] = []
        self.stopped = False  # a non-finite loss or norm was met: no more updates this step

    def update(self, name: str, loss: Tensor, retain_graph: bool = False) -> float:
        """Step optimizer ``name`` on the gradient of ``loss`` (a scalar).

        Every parameter's gradient is cleared first, so the update sees ``loss``'s gradient
        only; the gradient of the optimizer's parameters is clipped to ``grad_clip`` (their
        joint norm). Returns that norm before clipping; NaN, with nothing updated, when
        ``loss`` is not finite or an earlier update of this step was skipped.
        """
        if name not in self.optimizers:
            raise ValueError(
                f"update: no optimizer {name!r}; the objective declared {', '.join(map(repr, self.optimizers))}"
            )
        optimizer = self.optimizers[name]
        if self.stopped or not math.isfinite(float(loss.detach())):
            return self._skip(math.nan)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        with _backward_precision(loss):
            self.model.zero_grad(set_to_none=True)
            loss.backward(retain_graph=retain_graph)
            norm = float(nn.utils.clip_grad_norm_(params, self.clip))
            if not math.isfinite(norm):
                return self._skip(norm)
            optimizer.step()
        self.norms.append(norm)
        return norm

    def _skip(self, norm: float) -> float:
        self.stopped = True
        self.norms.append(norm)
        return norm

    def norm(self) -> float:
        """The step's gradient norm for the engine: the root of the updates' squared norms
        (NaN or infinite when one was; 0 when the step updated nothing)."""
        return math.sqrt(sum(n * n for n in self.norms))


def _backward_precision(loss: Tensor):
    """Backward and update outside bf16 autocast (torch advises against backward under it)."""
    return outside_autocast(loss.device.type)


class OwnStep:
    """The engine's side of an objective that takes its own step: its optimizers, their
    scheduled rates, the step and their checkpoint state."""

    def __init__(self, objective: Any, model: nn.Module, config) -> None:
        if distributed.active():
            raise ValueError(
                f"{type(objective).__name__} takes its own step (train_step): it cannot train on several processes yet"
            )
        self.objective, self.model = objective, model
        self.optimizers = declare(objective, model, config)
        self.clip = config.grad_clip or math.inf
        # each group's rate as a multiple of config.lr: the schedule scales it
        self.ratios = {
            name: [group["lr"] / config.lr for group in optimizer.param_groups]
            for name, optimizer in self.optimizers.items()
        }

    @property
    def first(self) -> torch.optim.Optimizer:
        """The first declared optimizer (its first group's rate is the one shown and logged)."""
        return next(iter(self.optimizers.values()))

    def set_lr(self, lr: float) -> None:
        """Give every group its declared multiple of the schedule's rate ``lr``."""
        for name, optimizer in self.optimizers.items():
            for group, ratio in zip(optimizer.param_groups, self.ratios[name]):
                group["lr"] = lr * ratio

    def __call__(self, batch: Any, info: Any) -> tuple[float, int, float]:
        """One step: (loss, count, gradient norm), as :meth:`Trainer.train_step` returns them."""
        control = StepControl(self.model, self.optimizers, self.clip)
        loss, count = self.objective.train_step(self.model, batch, info, control)
        value = float(loss.detach()) if isinstance(loss, Tensor) else float(loss)
        return value, count, control.norm()

    def state(self) -> tuple[dict[str, tuple[dict[str, Tensor], dict]], dict]:
        """Checkpoint sections ``optim.<name>`` and the metadata ``{"optimizers": {name: ...}}``."""
        sections = {f"optim.{name}": ckpt.optimizer_state(optimizer) for name, optimizer in self.optimizers.items()}
        return sections, {"optimizers": {name: sections[f"optim.{name}"][1] for name in self.optimizers}}

    def load_state(self, state: ckpt.Checkpoint) -> None:
        """Each optimizer's state from ``state``; the declared hyperparameters (all but the
        rate, which the schedule sets) apply from here on."""
        saved = state.meta["optimizers"]
        if not isinstance(saved, dict) or sorted(saved) != sorted(self.optimizers):
            held = ", ".join(map(repr, saved)) if isinstance(saved, dict) else repr(saved)
            raise ckpt.CheckpointError(
                f"{state.path}: cannot resume from this checkpoint: it holds the optimizers {held}; "
                f"this run declares {', '.join(map(repr, self.optimizers))}"
            )
        for name, optimizer in self.optimizers.items():
            declared = [
                {k: v for k, v in group.items() if k not in ("params", "lr")} for group in optimizer.param_groups
            ]
            ckpt.load_optimizer_state(optimizer, state.section(f"optim.{name}"), saved[name])
            for group, settings in zip(optimizer.param_groups, declared):
                group.update(settings)
