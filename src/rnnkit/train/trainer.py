"""The training engine shared by every recipe.

The trainer knows no model. A recipe hands it a model and an *objective*:

* ``objective.next_batch()`` -> the next training batch (endless);
* ``objective.step(model, batch, info)`` -> ``(mean loss, target count)``;
  ``info`` (:class:`~rnnkit.train.contract.StepInfo`) gives the step number, the fraction of the
  run done and the epoch (e.g. for scheduled teacher forcing);
* ``objective.evaluate(model)`` -> ``{"loss": ..., other metrics}`` on held-out data;
* ``objective.metrics`` -> ``{name: "min" or "max"}`` for what ``evaluate``
  returns (whether lower or higher is better);
* ``objective.epoch`` -> completed passes over the training data;
* ``objective.state_dict()`` / ``load_state_dict(tensors, meta)`` -> its
  position in the data and anything it carries between batches.

An objective may take its own step instead (a GAN's two optimizers): it declares
``optimizers(model, config)`` -> ``{name: optimizer}`` and gives
``train_step(model, batch, info, control)`` -> ``(loss, count)``, calling
``control.update(name, loss)`` for each optimizer it steps; the engine still sets every
optimizer's rate from the schedule, clips, checks for NaN and checkpoints each one's state
(:mod:`rnnkit.train.own_step`).

On several processes the objective also gives ``shard(rank, world)``; steps go through
DistributedDataParallel, validation runs on rank 0 and only rank 0 writes
(:mod:`rnnkit.train.distributed`).

The trainer owns the optimizer (unless the objective declares its own), clipping,
schedule, evaluation cadence, checkpoints (``last`` at every evaluation, ``best`` when
the monitored metric improves), early stopping, the time budget, Ctrl-C and NaN
handling, metrics and progress. Callbacks (:mod:`rnnkit.train.callbacks`) add the rest.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Optional

from torch import nn

from . import checkpoint as ckpt
from . import distributed, own_step, precision, snapshot, validation
from .averaging import NTASGD
from .callbacks import Callback
from .contract import FitResult, Objective, StepInfo
from .metricslog import METRICS, MetricsLog
from .options import TrainConfig, check_config, make_optimizer, optimizer_groups
from .progress import Progress, budget_fraction, catch_sigint, schedule_fraction, stop_reason
from .schedule import LRSchedule

__all__ = ["FitResult", "Objective", "StepInfo", "TrainConfig", "Trainer", "check_config"]


class Trainer:
    """Fits ``model`` on ``objective``; checkpoints and metrics go to ``run_dir``.

    Args:
        meta: JSON-able facts stored in every checkpoint (task, config, vocabulary).
        progress: show progress (bar on a terminal, log lines otherwise).
        callbacks: extra :class:`~rnnkit.train.callbacks.Callback` objects;
            ``--optimizer ntasgd`` adds NT-ASGD's.

    Attributes:
        optimizer: the engine's optimizer; None when the objective declares its own.
        own: the objective's own step and optimizers (:class:`~rnnkit.train.own_step.OwnStep`), or None.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        config: TrainConfig,
        run_dir: str | Path,
        meta: dict[str, Any],
        progress: bool = True,
        callbacks: tuple[Callback, ...] = (),
    ) -> None:
        check_config(config)
        self.model, self.objective, self.config = model, objective, config
        self.run_dir, self.meta, self.show_progress = Path(run_dir), meta, progress
        self.device = next(model.parameters()).device
        self.precision, self.precision_reason = precision.resolve(config.precision, self.device)
        self.own = own_step.OwnStep(objective, model, config) if own_step.takes_own_step(objective) else None
        self.optimizer = make_optimizer(optimizer_groups(model), config) if self.own is None else None
        self.schedule = LRSchedule(
            config.schedule,
            config.lr,
            config.warmup_steps,
            config.final_lr_ratio,
            config.plateau_factor,
            config.step_decay,
            config.step_decay_epoch,
        )
        engine = (NTASGD(model, config.nonmono),) if config.optimizer == "ntasgd" else ()
        self.callbacks = tuple(callbacks) + engine
        self.writer = distributed.is_writer()  # only rank 0 touches the run directory
        self.metrics = MetricsLog(self.run_dir / METRICS, enabled=self.writer)
        mode = (
            config.monitor_mode if config.monitor_mode != "auto" else dict(objective.metrics).get(config.monitor, "min")
        )
        self.higher_is_better = mode == "max"
        self.step, self.elapsed, self.bad_evals = 0, 0.0, 0
        self.best = -math.inf if self.higher_is_better else math.inf
        self.last_eval_step, self.saved = -1, 0
        self.window = [0.0, 0]  # loss sum and target count since the last log line
        self._stop_requested = False
        self._progress: Optional[Progress] = None
        self.parallel: Optional[distributed.DataParallel] = None  # made by fit() on several ranks

    # ---- checkpoints -------------------------------------------------------
    def save(self, name: str) -> Path:
        """Write checkpoint ``name`` in the run directory (see :mod:`rnnkit.train.snapshot`).

        Every rank calls it (the state may be gathered from all); only the writer writes."""
        path = snapshot.save(self, self.run_dir / name, write=self.writer)
        if not self.writer:
            return path
        self.saved += 1
        for callback in self.callbacks:
            callback.on_save(self, name, path)
        return path

    def restore(self, state: ckpt.Checkpoint) -> None:
        """Continue from a checkpoint written by :meth:`save` (this config's optimizer
        settings apply from here on)."""
        snapshot.restore(self, state)
        self.metrics.truncate_after(self.step)

    # ---- the loop ----------------------------------------------------------
    def progress_fraction(self) -> float:
        """How far the schedule is: steps (and time, with ``anneal_by_time``) over their budgets."""
        return schedule_fraction(self.config, self.step, self.elapsed)

    def budget_fraction(self) -> float:
        """How much of the run is done: the most used of its step, pass and time budgets."""
        return budget_fraction(self.config, self.step, self.objective.epoch, self.elapsed)

    def _should_stop(self) -> Optional[str]:
        return stop_reason(self.config, self.step, self.objective.epoch, self.elapsed, self.bad_evals)

    def _autocast(self):
        return precision.autocast(self.precision, self.device)

    def train_step(self) -> tuple[float, int, float]:
        """One optimisation step; returns (loss, count, grad norm) before the update.

        Non-finite loss or gradient norm: nothing is updated (an objective's own step:
        nothing from that update on; its norm is that of all its updates together).
        """
        batch = self.objective.next_batch()
        progress = self.progress_fraction()
        lr = self.schedule(self.step, progress, self.objective.epoch)
        if self.own is not None:
            self.own.set_lr(lr)
        else:
            for group in self.optimizer.param_groups:
                group["lr"] = lr * group.get("lr_factor", 1.0)
        for callback in self.callbacks:
            callback.on_batch(self, batch)
        self.model.train()
        info = StepInfo(self.step, self.budget_fraction(), self.objective.epoch)
        with self._autocast():
            if self.own is not None:
                return self.own(batch, info)
            if self.parallel is None:
                loss, count = self.objective.step(self.model, batch, info)
                value = float(loss.detach())
            else:  # value and count: the global batch's, on every rank
                loss, value, count = self.parallel.step(self.objective, batch, info)
        if not math.isfinite(value):
            return value, count, math.nan
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.config.grad_clip or math.inf
        norm = float(nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        if math.isfinite(norm):
            self.optimizer.step()
        return value, count, norm

    def evaluate(self) -> dict[str, float]:
        """The objective's validation figures (on several ranks: rank 0's, broadcast)."""
        return validation.evaluate(self, self._autocast())

    def improves(self, value: float) -> bool:
        """Whether ``value`` of the monitored metric beats the best so far."""
        return value > self.best if self.higher_is_better else value < self.best

    def note(self, text: str, event: Optional[str] = None) -> None:
        """Print ``step N | text``; with ``event``, also log it in metrics.jsonl."""
        if self._progress is not None:
            self._progress.print(f"step {self.step} | {text}")
        if event is not None:
            self.metrics.write(dict(split="event", step=self.step, event=event))

    def _after_eval(self, result: dict[str, float], progress: Progress) -> None:
        """Best, patience, schedule, metrics, callbacks, checkpoints (:func:`.validation.record`)."""
        validation.record(self, result, progress)

    def fit(self) -> FitResult:
        """Train until a budget, early stop, Ctrl-C or a non-finite loss.

        Call :meth:`restore` first to continue from a checkpoint.
        """
        c = self.config
        progress = Progress(
            c.max_steps or None,
            self.step,
            c.log_every,
            quiet=not self.show_progress,
            unit=getattr(self.objective, "unit", "items"),
        )
        self._progress = progress
        if distributed.active() and self.parallel is None:
            self.parallel = distributed.DataParallel(self.model)  # rank 0's weights, everywhere
            distributed.reseed(c.seed, self.step)
        restore_sigint = catch_sigint(lambda: setattr(self, "_stop_requested", True))
        last_eval: dict[str, float] = {}
        status, message = "finished", ""
        try:
            tokens, clock, base = 0, time.perf_counter(), self.elapsed
            while (reason := self._agree() or self._should_stop()) is None:
                if self._stop_requested:
                    status = "interrupted"
                    path = self.save(ckpt.LAST)
                    message = f"interrupted at step {self.step}; saved {path}"
                    break
                epoch_before = self.objective.epoch
                loss, count, norm = self.train_step()
                if not (math.isfinite(loss) and math.isfinite(norm)):
                    what = "loss" if not math.isfinite(loss) else "gradient norm"
                    status, message = "diverged", self._diverged(what, loss if what == "loss" else norm, self.step + 1)
                    break
                self.step += 1
                for callback in self.callbacks:
                    callback.on_step_end(self, loss, count)
                self.elapsed = base + time.perf_counter() - clock
                tokens += count
                self.window[0] += loss * count
                self.window[1] += count
                rate = tokens / max(time.perf_counter() - clock, 1e-9)
                mean = self.window[0] / self.window[1]  # since the last log line
                progress.update(self.step, mean, rate, self._eta(), self._lr())
                if self.step % c.log_every == 0:
                    self._log_train(rate)
                epoch_done = c.eval_each_epoch and self.objective.epoch != epoch_before
                if (c.eval_every and self.step % c.eval_every == 0) or epoch_done:
                    last_eval = self.evaluate()
                    self.elapsed = base + time.perf_counter() - clock
                    if not math.isfinite(last_eval["loss"]):
                        status, message = "diverged", self._diverged("validation loss", last_eval["loss"], self.step)
                        break
                    self._after_eval(last_eval, progress)
            else:
                message = reason
                if self.last_eval_step != self.step:  # the final state is always evaluated
                    last_eval = self.evaluate()
                    if math.isfinite(last_eval["loss"]):
                        self._after_eval(last_eval, progress)
                    else:
                        status, message = "diverged", self._diverged("validation loss", last_eval["loss"], self.step)
        finally:
            restore_sigint()
            progress.close()
            self._progress = None
        return FitResult(status, self.step, self.best, c.monitor, message, last_eval, self.saved)

    def _diverged(self, what: str, value: float, step: int) -> str:
        return validation.diverged(self, what, value, step)

    def _agree(self) -> None:
        """On several ranks: every rank takes rank 0's elapsed time and stops if any was asked to."""
        if self.parallel is not None:
            self.elapsed, self._stop_requested = self.parallel.agree(self.elapsed, self._stop_requested)

    def _log_train(self, rate: float) -> None:
        loss_sum, count = self.window
        self.metrics.write(
            dict(
                split="train",
                step=self.step,
                epoch=self.objective.epoch,
                loss=loss_sum / max(count, 1),
                lr=self._lr(),
                tokens_per_s=round(rate, 1),
                elapsed=round(self.elapsed, 3),
            )
        )
        self.window = [0.0, 0]

    def _lr(self) -> float:
        """The rate shown and logged: the first group's (of the first declared optimizer)."""
        return (self.optimizer if self.own is None else self.own.first).param_groups[0]["lr"]

    def _eta(self) -> Optional[float]:
        fraction = self.budget_fraction()
        return self.elapsed * (1 - fraction) / fraction if fraction > 0 else None
