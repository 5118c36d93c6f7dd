"""Trainer callbacks: code a run adds to the loop without the trainer knowing it.

The trainer calls, in this order within a step:

* ``on_batch(trainer, batch)`` after the learning rate is set, before the step;
* ``on_step_end(trainer, loss, count)`` after the optimizer update;
* ``evaluating(trainer)``: a context manager around each evaluation;
* ``on_evaluate(trainer, result, improved)`` after an evaluation is logged,
  before its checkpoints are saved;
* ``on_save(trainer, name, path)`` after a checkpoint file is written.

A callback with state gives ``state_dict()`` -> (tensors, JSON-able meta)
and ``load_state_dict``; it is saved in every checkpoint under its ``name``.
``inference_weights()`` may name one of its tensor prefixes that holds the
weights to use after training (NT-ASGD's average).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

import torch
from torch import Tensor


class Callback:
    """Base class: every hook does nothing."""

    name = "callback"

    def on_batch(self, trainer, batch: Any) -> None:
        pass

    def on_step_end(self, trainer, loss: float, count: int) -> None:
        pass

    def evaluating(self, trainer):
        return contextlib.nullcontext()

    def on_evaluate(self, trainer, result: dict[str, float], improved: bool) -> None:
        pass

    def on_save(self, trainer, name: str, path) -> None:
        pass

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return {}, {}

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        pass

    def inference_weights(self) -> Optional[str]:
        return None


@contextlib.contextmanager
def evaluation(trainer, autocast) -> Iterator[None]:
    """How the trainer evaluates: its model in eval mode, no gradients, ``autocast`` and
    every callback's ``evaluating(trainer)`` context; training mode again after."""
    trainer.model.eval()
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.no_grad())
            stack.enter_context(autocast)
            for callback in trainer.callbacks:
                stack.enter_context(callback.evaluating(trainer))
            yield
    finally:
        trainer.model.train()


class LRScale(Callback):
    """Multiply the learning rate of each step by ``batch.lr_scale``.

    AWD-LSTM (Merity et al., 2018) scales the rate by the window length over
    the base length under variable-length BPTT, so every token weighs the same.
    """

    name = "lr_scale"

    def on_batch(self, trainer, batch) -> None:
        optimizers = [trainer.optimizer] if trainer.own is None else trainer.own.optimizers.values()
        for optimizer in optimizers:  # the schedule has set this step's rates already
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * batch.lr_scale


class OnFirstSave(Callback):
    """Call ``action()`` once, after the run's first evaluated checkpoint is written
    (e.g. to delete the run that ``--overwrite`` set aside). The checkpoint that
    Ctrl-C saves before any evaluation does not count."""

    name = "first_save"

    def __init__(self, action) -> None:
        self.action, self.done = action, False

    def on_save(self, trainer, name: str, path) -> None:
        if not self.done and trainer.last_eval_step == trainer.step:
            self.done = True
            self.action()
