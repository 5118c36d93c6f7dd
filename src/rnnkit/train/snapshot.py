"""A trainer's whole state as one checkpoint, and back: what makes a resumed run exact.

Tensors: ``model/``, ``optim/``, ``objective/``, ``rng/`` and ``callback/<name>/``;
an objective that declares its own optimizers has ``optim.<name>/`` for each instead of
``optim/`` (:mod:`rnnkit.train.own_step`).
Metadata: the run's own (task, config, vocabulary...) plus step, elapsed time,
the best monitored value, early-stopping count, the unlogged loss window, the
optimizer's (or ``optimizers``: name -> each one's) and objective's JSON parts, RNG,
schedule and callback states, and ``inference_weights``: the tensor prefix to use after
training, when a callback keeps other weights than the last iterate (NT-ASGD's average).
"""

from __future__ import annotations

from pathlib import Path

from . import checkpoint as ckpt
from .options import apply_hyperparameters


def save(trainer, path: Path, write: bool = True) -> Path:
    """Write ``trainer``'s state to ``path`` (atomically).

    On several processes every rank calls it (an objective may gather its state from all
    ranks) and only the one with ``write`` writes; the model's own ``state_dict`` is saved
    (never DistributedDataParallel's, so names carry no ``module.`` prefix)."""
    tensors = {f"model/{k}": v for k, v in trainer.model.state_dict().items()}
    if trainer.own is None:
        optim = {"optim": ckpt.optimizer_state(trainer.optimizer)}
        optim_meta = {"optimizer": optim["optim"][1]}
    else:
        optim, optim_meta = trainer.own.state()
    sections = {**optim, "objective": trainer.objective.state_dict(), "rng": ckpt.rng_state(trainer.device)}
    callbacks, inference = {}, None
    for callback in trainer.callbacks:
        cb_tensors, cb_meta = callback.state_dict()
        if cb_tensors or cb_meta:
            sections[f"callback/{callback.name}"] = (cb_tensors, cb_meta)
            callbacks[callback.name] = cb_meta
        sub = callback.inference_weights()
        if sub is not None:
            inference = f"callback/{callback.name}" + (f"/{sub}" if sub else "")
    for prefix, (part, _) in sections.items():
        tensors.update({f"{prefix}/{k}": v for k, v in part.items()})
    meta = dict(
        trainer.meta,
        step=trainer.step,
        elapsed=trainer.elapsed,
        best=trainer.best,
        monitor=trainer.config.monitor,
        bad_evals=trainer.bad_evals,
        last_eval_step=trainer.last_eval_step,
        window=trainer.window,
        **optim_meta,
        objective=sections["objective"][1],
        rng=sections["rng"][1],
        schedule=trainer.schedule.state_dict(),
        callbacks=callbacks,
        inference_weights=inference,
    )
    if write:
        ckpt.save(path, tensors, meta)
    return path


def last_good(path: Path) -> str:
    """A sentence naming the checkpoint ``path`` and its step, or saying there is none."""
    if not path.exists():
        return "No checkpoint was saved before it."
    return f"The last good checkpoint is {path} (step {ckpt.load(path).meta['step']})."


def restore(trainer, state: ckpt.Checkpoint) -> None:
    """Put ``trainer`` back where :func:`save` left it; the trainer's config supplies the
    optimizer settings from here on (weight decay, momentum), or the objective's declaration
    of its own optimizers does."""
    meta = state.meta
    try:
        _restore(trainer, state, meta)
    except ckpt.CheckpointError:
        raise
    except KeyError as err:
        raise ckpt.CheckpointError(
            f"{state.path}: cannot resume from this checkpoint: its training state has no {err}"
        ) from None
    except RuntimeError as err:  # tensors that do not fit the model or optimizer
        raise ckpt.CheckpointError(
            f"{state.path}: cannot resume from this checkpoint: {' '.join(str(err).split())[:300]}"
        ) from None
    except (TypeError, ValueError, AttributeError, IndexError) as err:  # a state its fields' checks let by
        raise ckpt.CheckpointError(
            f"{state.path}: cannot resume from this checkpoint: {type(err).__name__}: "
            f"{' '.join(str(err).split())[:300]}"
        ) from err


def _restore(trainer, state: ckpt.Checkpoint, meta: dict) -> None:
    trainer.model.load_state_dict(state.section("model"))
    if trainer.own is not None:
        trainer.own.load_state(state)
    elif "optimizer" not in meta and "optimizers" in meta:
        declared = ", ".join(map(str, meta["optimizers"]))
        raise ckpt.CheckpointError(
            f"{state.path}: cannot resume from this checkpoint: its objective "
            f"declared its own optimizers ({declared}); this run's does not"
        )
    else:
        ckpt.load_optimizer_state(trainer.optimizer, state.section("optim"), meta["optimizer"])
        apply_hyperparameters(trainer.optimizer, trainer.config)
    trainer.objective.load_state_dict(state.section("objective"), meta["objective"])
    ckpt.set_rng_state(state.section("rng"), meta["rng"], trainer.device)
    trainer.schedule.load_state_dict(meta["schedule"])
    saved = _callback_states(state)
    for callback in trainer.callbacks:
        if callback.name in saved:
            callback.load_state_dict(*saved[callback.name])
    trainer.step, trainer.elapsed = int(meta["step"]), float(meta["elapsed"])
    best = meta["best"] if "best" in meta else meta["best_loss"]  # before callbacks: best_loss
    trainer.best, trainer.bad_evals = float(best), int(meta["bad_evals"])
    trainer.last_eval_step = int(meta["last_eval_step"])
    trainer.window = [float(meta["window"][0]), int(meta["window"][1])]


def _callback_states(state: ckpt.Checkpoint) -> dict[str, tuple]:
    """name -> (tensors, meta) of each callback saved in ``state``.

    Checkpoints written before callbacks kept NT-ASGD's state as ``averager``
    metadata and ``avg/`` tensors; they resume the same way.
    """
    meta = state.meta
    if "callbacks" not in meta and meta.get("averager"):
        return {"ntasgd": (state.section("avg"), meta["averager"])}
    return {name: (state.section(f"callback/{name}"), part) for name, part in (meta.get("callbacks") or {}).items()}
