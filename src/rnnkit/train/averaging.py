"""NT-ASGD: non-monotonically triggered averaged SGD (Merity et al., 2018).

Training runs plain SGD until the validation loss stops improving in the
AWD-LSTM sense: at an evaluation, with more than ``nonmono`` earlier results
logged, the new loss is worse than the best of all results except the last
``nonmono``. From then on every SGD iterate is averaged; evaluation and the
saved model use the average.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import torch
from torch import Tensor, nn

from .callbacks import Callback


class NTAverager:
    """Watches validation losses, triggers averaging, keeps the running mean."""

    def __init__(self, model: nn.Module, nonmono: int = 5) -> None:
        if nonmono < 1:
            raise ValueError(f"nonmono: expected >= 1, got {nonmono}")
        self.model, self.nonmono = model, nonmono
        self.history: list[float] = []
        self.average: dict[str, Tensor] = {}
        self.count = 0
        self.trigger_step = -1

    @property
    def active(self) -> bool:
        return self.trigger_step >= 0

    def observe(self, val_loss: float, step: int) -> bool:
        """Record an evaluation; returns True when this one triggers averaging."""
        triggered = (
            not self.active and len(self.history) > self.nonmono and val_loss > min(self.history[: -self.nonmono])
        )
        self.history.append(val_loss)
        if triggered:
            self.trigger_step = step
            self.average = {n: p.detach().clone() for n, p in self._params()}
            self.count = 1
        return triggered

    def update(self) -> None:
        """Fold the current iterate into the mean (call after each optimizer step)."""
        if not self.active:
            return
        self.count += 1
        with torch.no_grad():
            for name, param in self._params():
                self.average[name].add_(param.detach() - self.average[name], alpha=1.0 / self.count)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights (if averaging)."""
        if not self.active:
            yield
            return
        saved = {n: p.detach().clone() for n, p in self._params()}
        self._load(self.average)
        try:
            yield
        finally:
            self._load(saved)

    def _params(self):
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def _load(self, values: dict[str, Tensor]) -> None:
        with torch.no_grad():
            for name, param in self._params():
                param.copy_(values[name])

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return dict(self.average), {
            "history": self.history,
            "count": self.count,
            "trigger_step": self.trigger_step,
            "nonmono": self.nonmono,
        }

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.history = [float(v) for v in meta["history"]]
        self.count, self.trigger_step = int(meta["count"]), int(meta["trigger_step"])
        device = next(self.model.parameters()).device
        self.average = {k: v.to(device) for k, v in tensors.items()}


class NTASGD(Callback):
    """NT-ASGD as a trainer callback: averages after each update once triggered,
    evaluates with the average, and keeps it in every checkpoint for later use."""

    name = "ntasgd"

    def __init__(self, model: nn.Module, nonmono: int = 5) -> None:
        self.averager = NTAverager(model, nonmono)

    def on_step_end(self, trainer, loss: float, count: int) -> None:
        self.averager.update()

    def evaluating(self, trainer):
        return self.averager.swapped()

    def on_evaluate(self, trainer, result: dict[str, float], improved: bool) -> None:
        if self.averager.observe(result["loss"], trainer.step):
            trainer.note(
                "NT-ASGD: validation stopped improving; averaging the weights from here on", event="averaging started"
            )

    def state_dict(self) -> tuple[dict[str, Tensor], dict]:
        return self.averager.state_dict()

    def load_state_dict(self, tensors: dict[str, Tensor], meta: dict) -> None:
        self.averager.load_state_dict(tensors, meta)

    def inference_weights(self) -> Optional[str]:
        return "" if self.averager.active else None  # the whole state: the averaged weights
