"""Running a recipe's training job: run directory, config, seed, device, trainer.

Under ``torchrun`` (:mod:`rnnkit.train.distributed`) every rank runs the same job; the
process group is joined at the start and left at the end, and only rank 0 creates,
overwrites or writes the run directory (the other ranks only read it, to resume). The
other ranks' :class:`TrainOutcome` says ``writer=False``: what follows a run (the recipe's
report, the summary) is rank 0's to do; every rank ends with the same status.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import checkpoint as ckpt
from . import config as cfg
from . import distributed, rundir
from .callbacks import OnFirstSave
from .device import resolve_device, seed_everything, set_threads
from .options import check_config, check_resume_changes
from .recipe import Recipe
from .trainer import FitResult, Trainer


@dataclass
class TrainOutcome:
    run_dir: Path
    result: FitResult
    kept_previous: bool = False  # --overwrite: no evaluated checkpoint, so the old run is back
    writer: bool = True  # False on the ranks of a multi-process run that wrote nothing


def resolve_sections(recipe: Recipe, preset: Optional[str], overrides: dict) -> cfg.Sections:
    """The recipe's defaults <- preset <- command-line overrides."""
    sections = recipe.defaults()
    if preset is not None:
        if preset not in recipe.presets:
            raise ValueError(f"--preset: expected one of {', '.join(recipe.presets)}, got {preset!r}")
        sections = cfg.apply(sections, recipe.presets[preset])
    return cfg.apply(sections, overrides)


def train(recipe: Recipe, sections: cfg.Sections, run_dir: Optional[str | Path] = None,
          overwrite: bool = False, progress: bool = True, preset: Optional[str] = None,
          outputs: tuple[str, ...] = ()) -> TrainOutcome:
    """Start a new run of ``recipe`` in ``run_dir`` (default ``runs/<recipe>-<time>``).

    With ``overwrite``, an existing run there is set aside, not deleted, until
    the new run saves its first evaluated checkpoint; if it ends without one
    (an error, a divergence, Ctrl-C first), the old run is put back. ``outputs``:
    the recipes' own file names (:attr:`Recipe.outputs`; default this recipe's).
    """
    check_config(sections["train"])  # before touching the run directory
    with distributed.session(resolve_device(sections["train"].device)):
        return _train(recipe, sections, run_dir, overwrite, progress, preset, outputs)


def _train(recipe: Recipe, sections, run_dir, overwrite: bool, progress: bool, preset, outputs) -> TrainOutcome:
    # every rank takes rank 0's default name (the time may differ) and checks before any writes
    run_dir = distributed.broadcast_object(str(run_dir or rundir.default_run_dir(recipe.name)))
    path = rundir.check(run_dir, overwrite=overwrite)
    distributed.barrier()
    config = {"task": recipe.name, "preset": preset, **cfg.to_dict(sections)}
    aside: list = []

    def ready() -> None:  # the model and data were built: only now touch the directory
        if not distributed.is_writer():
            return
        if path.exists() and any(path.iterdir()):
            aside.append(rundir.set_aside(path, outputs or recipe.outputs))
        else:
            rundir.create(path)
        rundir.write_config(path, config)

    def discard() -> None:
        for pending in aside:
            pending.discard()

    try:
        outcome = _fit(recipe, sections, path, None, progress, ready, (OnFirstSave(discard),))
    except BaseException:
        _put_back(aside)
        raise
    if aside and aside[0].state == "pending":  # no evaluated checkpoint: the old run stays
        _put_back(aside)
        outcome.kept_previous = True
    return outcome


def _put_back(aside: list) -> None:
    for pending in aside:
        pending.restore()


def resume(recipe: Recipe, run_dir: str | Path, train_overrides: dict,
           progress: bool = True) -> TrainOutcome:
    """Continue the run in ``run_dir`` (or the run of a checkpoint file in it).

    Starts from ``last.safetensors`` (or the given file). Only ``train``
    options (budgets, device, threads, weight decay...) may change, not the
    optimizer or the seed. Nothing in the run directory changes unless the
    checkpoint loads and restores. The number of processes may differ from the
    run's where the recipe's data layout allows it (see :mod:`rnnkit.train.distributed`).
    """
    run_dir = Path(run_dir)
    last = run_dir if run_dir.is_file() else run_dir / ckpt.LAST
    path = rundir.check(last.parent, resume=True)
    saved = rundir.read_config(path)
    if saved.get("task") != recipe.name:
        raise ValueError(f"--resume {path}: that run is of task {saved.get('task')!r}, not {recipe.name!r}")
    defaults = recipe.defaults()
    sections = cfg.from_dict(defaults, {k: v for k, v in saved.items() if k in defaults})
    check_resume_changes(sections["train"], train_overrides)
    sections = cfg.apply(sections, {"train": train_overrides})
    cfg.check_applies(sections, {"train": train_overrides})
    check_config(sections["train"])
    if not last.is_file():
        hidden = sorted(p.name for p in path.glob(rundir.SET_ASIDE_PREFIX + "*"))
        note = (f"; {path / hidden[0]} holds an earlier run that --overwrite set aside (move its "
                "files back to keep it: starting again with --overwrite deletes it)" if hidden else "")
        raise ValueError(f"--resume {path}: no {ckpt.LAST} yet (the run stopped before its "
                         f"first checkpoint); start it again with --overwrite{note}")
    resolved = {"task": recipe.name, "preset": saved.get("preset"), **cfg.to_dict(sections)}

    def ready() -> None:
        if distributed.is_writer():
            rundir.clean_temporaries(path)
            rundir.write_config(path, resolved)
    with distributed.session(resolve_device(sections["train"].device)):
        state = ckpt.load(last, task=recipe.name)
        distributed.barrier()  # every rank has read the checkpoint before rank 0 writes
        return _fit(recipe, sections, path, state, progress, ready, ())


def _fit(recipe: Recipe, sections, path: Path, state, progress: bool, ready, callbacks) -> TrainOutcome:
    """Build, restore (when resuming), call ``ready()``, then train."""
    train_cfg = sections["train"]
    set_threads(train_cfg.threads)
    seed_everything(train_cfg.seed)  # the same on every rank: the same model and data
    device = distributed.rank_device(resolve_device(train_cfg.device))
    built = recipe.build(sections, state.meta if state else None)
    if train_cfg.monitor not in built.objective.metrics:  # before the run directory is touched
        raise ValueError(f"--monitor: {recipe.name} validation reports "
                         f"{', '.join(built.objective.metrics)}; got {train_cfg.monitor!r}")
    distributed.shard(built.objective)  # this rank's share of the data (before restoring)
    model = built.model.to(device)
    meta = dict(built.meta, task=recipe.name, config=cfg.to_dict(sections))
    progress = progress and distributed.is_writer()
    trainer = Trainer(model, built.objective, train_cfg, path, meta, progress=progress,
                      callbacks=tuple(built.callbacks) + tuple(callbacks))
    if state is not None:
        trainer.restore(state)
    ready()
    if progress:
        params = sum(p.numel() for p in model.parameters())
        start = f", resuming at step {trainer.step}" if state is not None else ""
        ranks = f" x {distributed.world_size()} processes" if distributed.active() else ""
        print(f"{recipe.name}: {params:,} parameters on {device}{ranks}; run directory {path}{start}",
              file=sys.stderr)
    result = trainer.fit()
    if distributed.is_writer():
        _plot(path)
    distributed.barrier()  # the other ranks go on only once rank 0 has written everything
    return TrainOutcome(path, result, writer=distributed.is_writer())


def _plot(path: Path) -> None:
    """Draw curves.png; plotting problems never lose a finished run."""
    try:
        from .plots import plot_run
        plot_run(path)
    except Exception as err:  # noqa: BLE001 - a plot is a convenience
        print(f"note: could not draw curves: {err}", file=sys.stderr)
