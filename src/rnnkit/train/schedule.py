"""Learning-rate schedules as pure functions of progress (so resuming is exact)."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine", "linear", "plateau", "step", "onecycle")
#: the schedules that follow the run's progress to its end (they need to know where it ends)
ANNEALED = ("cosine", "linear", "onecycle")
#: one-cycle: the rate starts at lr / ONECYCLE_START and peaks after ONECYCLE_RISE of the run
ONECYCLE_START, ONECYCLE_RISE = 25.0, 0.3
#: warm-up never lasts more than this share of a run whose length is known (so a short run
#: reaches its peak learning rate)
WARMUP_SHARE = 0.1


class LRSchedule:
    """Learning rate at a given step.

    * ``constant``: ``lr`` after warm-up.
    * ``cosine`` / ``linear``: decay from ``lr`` to ``lr * final_lr_ratio``
      over the run, measured by ``progress`` in [0, 1] (the fraction of
      ``max_steps`` done, or of the time budget when annealing by time).
    * ``plateau``: ``lr`` times ``plateau_factor`` for every evaluation that
      did not improve the validation loss (as in pytorch/examples'
      word_language_model, which divides by 4).

    * ``step``: ``lr * step_decay ** max(0, epoch + 1 - step_decay_epoch)``
      (Zaremba et al., 2014: constant for the first epochs, then decayed
      every epoch; ``epoch`` counts from 0).
    * ``onecycle`` (Smith & Topin, 2019): from ``lr / 25`` up to ``lr`` over the first 30% of the
      run (half a cosine), then down to ``lr * final_lr_ratio`` (half a cosine); it is its own
      warm-up, so ``warmup_steps`` is not applied.

    Warm-up multiplies by ``max((step + 1) / warmup_steps, progress / WARMUP_SHARE)`` until
    that reaches 1: it lasts ``warmup_steps`` steps or the first 10% of the run, whichever is
    shorter (``progress`` measures the run by ``max_steps``, or by the time budget with
    ``anneal_by_time``; a run measured by neither warms up for ``warmup_steps``).
    """

    def __init__(
        self,
        kind: str,
        lr: float,
        warmup_steps: int = 0,
        final_lr_ratio: float = 0.0,
        plateau_factor: float = 0.25,
        step_decay: float = 0.5,
        step_decay_epoch: int = 0,
    ) -> None:
        if kind not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {kind!r}")
        if lr <= 0:
            raise ValueError(f"lr: expected > 0, got {lr}")
        self.kind, self.lr, self.warmup_steps = kind, lr, warmup_steps
        self.final_lr_ratio, self.plateau_factor = final_lr_ratio, plateau_factor
        self.step_decay, self.step_decay_epoch = step_decay, step_decay_epoch
        self.plateau_scale = 1.0

    def __call__(self, step: int, progress: float, epoch: int = 0) -> float:
        progress = min(max(progress, 0.0), 1.0)
        warm = min(1.0, max((step + 1) / self.warmup_steps, progress / WARMUP_SHARE)) if self.warmup_steps else 1.0
        if self.kind == "onecycle":
            return self.lr * self._one_cycle(progress)
        if self.kind == "cosine":
            shape = 0.5 * (1.0 + math.cos(math.pi * progress))
        elif self.kind == "linear":
            shape = 1.0 - progress
        elif self.kind == "step":
            shape = self.step_decay ** max(0, epoch + 1 - self.step_decay_epoch)
        else:
            shape = 1.0
        floor = self.final_lr_ratio if self.kind in ANNEALED else 0.0
        return self.lr * warm * self.plateau_scale * (floor + (1.0 - floor) * shape)

    def _one_cycle(self, progress: float) -> float:
        """The one-cycle multiple of ``lr`` at ``progress``: a half-cosine rise, then a half-cosine fall."""
        if progress < ONECYCLE_RISE:
            start = 1.0 / ONECYCLE_START
            return start + (1.0 - start) * 0.5 * (1.0 - math.cos(math.pi * progress / ONECYCLE_RISE))
        fall = (progress - ONECYCLE_RISE) / (1.0 - ONECYCLE_RISE)
        return self.final_lr_ratio + (1.0 - self.final_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * fall))

    def after_eval(self, improved: bool) -> None:
        if self.kind == "plateau" and not improved:
            self.plateau_scale *= self.plateau_factor

    def state_dict(self) -> dict:
        return {"plateau_scale": self.plateau_scale}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale = float(state["plateau_scale"])
