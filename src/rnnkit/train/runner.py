"""Running a recipe's training job: run directory, lock, config, seed, device, trainer.

Under ``torchrun`` (:mod:`rnnkit.train.distributed`) every rank runs the same job; the
process group is joined at the start and left at the end, and only rank 0 locks,
creates, overwrites or writes the run directory (the other ranks only read it, to
resume). The other ranks' :class:`TrainOutcome` says ``writer=False``: what follows a
run (the recipe's report, the summary) is rank 0's to do; every rank ends with the same
status.

The writer holds the run directory's lock (:mod:`rnnkit.train.lock`) from before it
touches the directory until the job ends, the recipe's report included (``report=True``),
so a second ``train``, ``--overwrite`` or ``--resume`` of the same directory is refused
with one line naming the holder, before it changes anything.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import torch

from . import config as cfg
from . import distributed, final_report, limits, lock, precision, resuming, rundir, setaside
from . import tensorboard as board
from .callbacks import OnFirstSave
from .device import flushed_denormals, resolve_device, seed_everything, set_threads
from .meta import check_resume
from .options import check_config
from .pace import Pace, choose_threads
from .recipe import Recipe
from .trainer import FitResult, Trainer


@dataclass
class TrainOutcome:
    run_dir: Path
    result: FitResult
    kept_previous: bool = False  # --overwrite: no evaluated checkpoint, so the old run is back
    writer: bool = True  # False on the ranks of a multi-process run that wrote nothing
    report: Optional[str] = None  # the recipe's report of a finished run (train(report=True))


def resolve_sections(recipe: Recipe, preset: Optional[str], overrides: dict) -> cfg.Sections:
    """The recipe's defaults <- preset <- command-line overrides."""
    sections = recipe.defaults()
    if preset is not None:
        if preset not in recipe.presets:
            raise ValueError(f"--preset: expected one of {', '.join(recipe.presets)}, got {preset!r}")
        sections = cfg.apply(sections, recipe.presets[preset])
    return cfg.apply(sections, overrides)


def train(
    recipe: Recipe,
    sections: cfg.Sections,
    run_dir: Optional[str | Path] = None,
    overwrite: bool = False,
    progress: bool = True,
    preset: Optional[str] = None,
    outputs: tuple[str, ...] = (),
    tasks: Iterable[str] = (),
    report: bool = False,
    tensorboard: bool = False,
) -> TrainOutcome:
    """Start a new run of ``recipe`` in ``run_dir`` (default ``runs/<recipe>-<time>``).

    With ``overwrite``, an existing run there is set aside, not deleted, until
    the new run saves its first evaluated checkpoint; if it ends without one
    (an error, a divergence, Ctrl-C first), the old run is put back. ``outputs``:
    the recipes' own file names (:attr:`Recipe.outputs`; default this recipe's);
    ``tasks``: the registered recipes' names (only a run of one of them, or one with a
    manifest, may be overwritten; default this recipe's). ``report``: also write the
    recipe's report of a finished run (:attr:`TrainOutcome.report`) while the lock is held.
    ``tensorboard``: also write the metrics as TensorBoard events (:mod:`.tensorboard`).
    """
    check_config(sections["train"])  # before touching the run directory
    precision.resolve(sections["train"].precision, resolve_device(sections["train"].device))
    limits.check_memory(sections)
    board.check(run_dir, tensorboard)
    known = Known(tuple(outputs) or recipe.outputs, tuple(tasks) or (recipe.name,))
    with contextlib.ExitStack() as held:
        with distributed.session(resolve_device(sections["train"].device)):
            outcome = _train(recipe, sections, run_dir, overwrite, progress, preset, known, held, tensorboard)
        return _finish(recipe, outcome, report)


@dataclass(frozen=True)
class Known:
    """What the caller knows of all recipes: their output names and their task names."""

    outputs: tuple[str, ...]
    tasks: tuple[str, ...]


def _hold(path: Path, held: contextlib.ExitStack, check: Callable[[], object]) -> None:
    """Rank 0 runs ``check`` (refusing without touching anything), locks ``path`` until
    ``held`` closes and runs ``check`` again under the lock (the directory may have changed
    meanwhile); every rank fails alike."""

    def lock_and_check() -> None:
        check()
        held.enter_context(lock.hold(path))
        check()

    if not distributed.active():
        lock_and_check()
        return
    error = None
    if distributed.is_writer():
        try:
            lock_and_check()
        except (ValueError, OSError) as err:
            error = str(err)
    error = distributed.broadcast_object(error)
    if error is not None:
        raise ValueError(error)


def _train(
    recipe: Recipe,
    sections,
    run_dir,
    overwrite: bool,
    progress: bool,
    preset,
    known: Known,
    held: contextlib.ExitStack,
    tensorboard: bool,
) -> TrainOutcome:
    # every rank takes rank 0's default name (the time may differ) and checks before any writes
    run_dir = distributed.broadcast_object(str(run_dir or rundir.default_run_dir(recipe.name)))
    path = Path(run_dir)
    _hold(path, held, lambda: rundir.check(path, overwrite=overwrite, tasks=known.tasks))
    distributed.barrier()
    config = {"task": recipe.name, "preset": preset, **cfg.to_dict(sections)}
    aside: list = []

    def ready() -> None:  # the model and data were built: only now touch the directory
        if not distributed.is_writer():
            return
        if rundir.is_fresh(path):
            rundir.create(path)
        else:
            aside.append(setaside.set_aside(path, known.outputs, known.tasks))
        rundir.write_config(path, config)

    def discard() -> None:
        for pending in aside:
            pending.discard()

    try:
        outcome = _fit(recipe, sections, path, None, progress, ready, (OnFirstSave(discard),), tensorboard)
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


def _finish(recipe: Recipe, outcome: TrainOutcome, report: bool) -> TrainOutcome:
    """The recipe's report of a finished run, by the writer (the lock is still held)."""
    if report and outcome.writer and outcome.result.status == "finished" and recipe.report is not None:
        outcome.report = final_report.run(recipe, outcome.run_dir)  # --final-report full, quick or none
    return outcome


def resume(
    recipe: Recipe,
    run_dir: str | Path,
    train_overrides: dict,
    progress: bool = True,
    report: bool = False,
    tensorboard: bool = False,
) -> TrainOutcome:
    """Continue the run in ``run_dir`` (or the run of a checkpoint file in it).

    Starts from ``last.safetensors`` (or the given file); when only ``best.safetensors``
    is left (a save of ``last`` failed, e.g. on a full disk), from that one: it holds the
    whole training state as of its evaluation, so the run goes on from that step (the
    metrics logged after it are dropped) and nothing is lost. Only ``train``
    options (budgets, device, threads, weight decay...) may change, not the
    optimizer or the seed. Nothing in the run directory changes unless the
    checkpoint loads and restores. The number of processes may differ from the
    run's where the recipe's data layout allows it (see :mod:`rnnkit.train.distributed`).
    ``report``, ``tensorboard``: as for :func:`train` (a new event file beside the run's).
    """
    run_dir = Path(run_dir)
    given = run_dir if run_dir.is_file() else None
    path = rundir.check(given.parent if given else run_dir, resume=True)
    sections, resolved = resuming.resumed_config(recipe, path, train_overrides)
    precision.resolve(sections["train"].precision, resolve_device(sections["train"].device))
    board.check(path, tensorboard)
    with contextlib.ExitStack() as held:
        with distributed.session(resolve_device(sections["train"].device)):
            _hold(path, held, lambda: rundir.check(path, resume=True))
            sections, resolved = resuming.resumed_config(recipe, path, train_overrides)  # as it is now
            state = resuming.starting_state(recipe, path, given)

            def ready() -> None:
                if distributed.is_writer():
                    rundir.clean_temporaries(path)
                    rundir.adopt(path, recipe.outputs)
                    rundir.write_config(path, resolved)

            distributed.barrier()  # every rank has read the checkpoint before rank 0 writes
            outcome = _fit(recipe, sections, path, state, progress, ready, (), tensorboard)
        return _finish(recipe, outcome, report)


def _fit(
    recipe: Recipe, sections, path: Path, state, progress: bool, ready, callbacks, tensorboard: bool = False
) -> TrainOutcome:
    """Build, restore (when resuming), call ``ready()``, then train: with denormals flushed from
    the start, so the thread pool's workers, created by the first parallel op, take it too."""
    with flushed_denormals(sections["train"].flush_denormal):
        return _build_and_train(recipe, sections, path, state, progress, ready, callbacks, tensorboard)


def _build_and_train(recipe: Recipe, sections, path: Path, state, progress: bool, ready, callbacks, tensorboard):
    train_cfg = sections["train"]
    threads_note = _threads(train_cfg.threads)
    seed_everything(train_cfg.seed)  # the same on every rank: the same model and data
    device = distributed.rank_device(resolve_device(train_cfg.device))
    if state is not None:  # untrusted metadata: what the build and the trainer read, checked first
        check_resume(recipe.trained, state)
    built = recipe.build(sections, state.meta if state else None)
    if train_cfg.monitor not in built.objective.metrics:  # before the run directory is touched
        raise ValueError(
            f"--monitor: {recipe.name} validation reports "
            f"{', '.join(built.objective.metrics)}; got {train_cfg.monitor!r}"
        )
    distributed.shard(built.objective)  # this rank's share of the data (before restoring)
    model = built.model.to(device)
    meta = dict(built.meta, task=recipe.name, config=cfg.to_dict(sections))
    progress = progress and distributed.is_writer()
    events = board.log(path, tensorboard)  # None unless asked for, and on the writer
    trainer = Trainer(
        model,
        built.objective,
        train_cfg,
        path,
        meta,
        progress=progress,
        callbacks=tuple(built.callbacks) + tuple(callbacks) + ((events,) if events else ()) + (Pace(),),
    )
    if state is not None:
        trainer.restore(state)
    ready()
    if trainer.precision == "bf16":  # recorded in the run: metrics.jsonl's event lines
        trainer.metrics.write(
            dict(split="event", step=trainer.step, event=f"precision bf16: {trainer.precision_reason}")
        )
    if threads_note:  # recorded in the run too, as precision is
        trainer.metrics.write(dict(split="event", step=trainer.step, event=f"threads: {threads_note}"))
        if progress:
            print(f"note: {threads_note}", file=sys.stderr)
    if progress:
        params = sum(p.numel() for p in model.parameters())
        start = f", resuming at step {trainer.step}" if state is not None else ""
        ranks = f" x {distributed.world_size()} processes" if distributed.active() else ""
        mixed = f"; bf16 autocast ({trainer.precision_reason})" if trainer.precision == "bf16" else ""
        print(
            f"{recipe.name}: {params:,} parameters on {device}{ranks}{mixed}; run directory {path}{start}",
            file=sys.stderr,
        )
    with board.opened(events):
        result = trainer.fit()
    if distributed.is_writer():
        _plot(path)
    distributed.barrier()  # the other ranks go on only once rank 0 has written everything
    return TrainOutcome(path, result, writer=distributed.is_writer())


def _threads(asked: int) -> str | None:
    """``--threads N``, or (0) as many as the free CPUs allow (:mod:`.pace`); the note, if fewer."""
    if asked or distributed.active():
        set_threads(asked)
        return None
    threads, note = choose_threads(torch.get_num_threads())
    set_threads(threads)
    return note


def _plot(path: Path) -> None:
    """Draw curves.png; plotting problems never lose a finished run."""
    try:
        from .plots import plot_run

        plot_run(path)
    except Exception as err:  # noqa: BLE001 - a plot is a convenience
        print(f"note: could not draw curves: {err}", file=sys.stderr)
