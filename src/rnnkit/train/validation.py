"""What the trainer does at an evaluation, and when a figure stops being finite.

:func:`evaluate` runs the objective's validation (on rank 0; its figures broadcast to every
rank) and checks that the monitored metric is among them; :func:`record` keeps the best
value and the early-stopping count, steps the plateau schedule, logs the figures, tells the
callbacks and saves the checkpoints (``best`` when the monitored metric improves, then
``last``); :func:`diverged` is the message of a run stopped by a non-finite loss or
gradient norm. The trainer (:mod:`rnnkit.train.trainer`) calls them.
"""

from __future__ import annotations

from . import checkpoint as ckpt
from . import distributed, snapshot
from .callbacks import evaluation
from .progress import Progress


def evaluate(trainer, autocast) -> dict[str, float]:
    """The objective's validation figures (on several ranks: rank 0's, broadcast)."""
    result = None
    if trainer.writer:
        with evaluation(trainer, autocast):
            result = trainer.objective.evaluate(trainer.model)
    result = distributed.broadcast_object(result)
    if trainer.config.monitor not in result:
        raise ValueError(
            f"monitor: this recipe's evaluation reports {', '.join(result)}, not {trainer.config.monitor!r}"
        )
    return result


def record(trainer, result: dict[str, float], progress: Progress) -> None:
    """Everything that follows evaluation ``result``: best and patience, schedule, the
    ``val`` line of metrics.jsonl and on screen, callbacks, checkpoints."""
    trainer.last_eval_step = trainer.step
    improved = trainer.improves(result[trainer.config.monitor])
    if improved:
        trainer.best, trainer.bad_evals = result[trainer.config.monitor], 0
    else:
        trainer.bad_evals += 1
    trainer.schedule.after_eval(improved)
    trainer.metrics.write(
        dict(split="val", step=trainer.step, epoch=trainer.objective.epoch, elapsed=round(trainer.elapsed, 3), **result)
    )
    shown = " | ".join(f"{k} {v:.4f}" for k, v in result.items())
    progress.print(f"step {trainer.step} | val {shown}{' | best' if improved else ''}")
    for callback in trainer.callbacks:
        callback.on_evaluate(trainer, result, improved)
    if improved:  # best first: a crash in between never leaves LAST ahead of BEST
        trainer.save(ckpt.BEST)
    trainer.save(ckpt.LAST)


def diverged(trainer, what: str, value: float, step: int) -> str:
    """Why the run stopped (``what`` became ``value`` at ``step``) and what is left to resume."""
    return f"{what} became {value} at step {step}; training stopped. " + snapshot.last_good(trainer.run_dir / ckpt.LAST)
