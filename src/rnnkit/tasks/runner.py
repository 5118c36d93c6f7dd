"""Running a recipe's training job: run directory, config, seed, device, trainer."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from rnnkit.train import checkpoint as ckpt
from rnnkit.train import config as cfg
from rnnkit.train import rundir
from rnnkit.train.device import resolve_device, seed_everything, set_threads
from rnnkit.train.trainer import FitResult, Trainer, check_config

#: build(sections, resume_meta) -> (model, objective, meta for checkpoints)
BuildFn = Callable[[cfg.Sections, Optional[dict]], tuple[Any, Any, dict]]


@dataclass
class TrainOutcome:
    run_dir: Path
    result: FitResult


def resolve_sections(defaults: cfg.Sections, presets: dict, preset: Optional[str],
                     overrides: dict) -> cfg.Sections:
    """defaults <- preset <- command-line overrides."""
    sections = defaults
    if preset is not None:
        if preset not in presets:
            raise ValueError(f"--preset: expected one of {', '.join(presets)}, got {preset!r}")
        sections = cfg.apply(sections, presets[preset])
    return cfg.apply(sections, overrides)


def train(task: str, sections: cfg.Sections, build: BuildFn, run_dir: Optional[str | Path] = None,
          overwrite: bool = False, progress: bool = True, preset: Optional[str] = None) -> TrainOutcome:
    """Start a new run of ``task`` in ``run_dir`` (default ``runs/<task>-<time>``)."""
    check_config(sections["train"])  # before touching the run directory
    resolve_device(sections["train"].device)
    path = rundir.check(run_dir or rundir.default_run_dir(task), overwrite=overwrite)

    def ready() -> None:  # the model and data were built: only now create (or empty) the directory
        rundir.prepare(path, overwrite=overwrite)
        rundir.write_config(path, {"task": task, "preset": preset, **cfg.to_dict(sections)})
    return _fit(task, sections, build, path, None, progress, ready)


def resume(task: str, defaults: cfg.Sections, build: BuildFn, run_dir: str | Path,
           train_overrides: dict, progress: bool = True) -> TrainOutcome:
    """Continue the run in ``run_dir`` (or the run of a checkpoint file in it).

    Starts from ``last.safetensors`` (or the given file). Only ``train``
    options (budgets, device, threads...) may change. Nothing in the run
    directory changes unless the checkpoint loads and restores.
    """
    run_dir = Path(run_dir)
    last = run_dir if run_dir.is_file() else run_dir / ckpt.LAST
    path = rundir.prepare(last.parent, resume=True)
    saved = rundir.read_config(path)
    if saved.get("task") != task:
        raise ValueError(f"--resume {path}: that run is of task {saved.get('task')!r}, not {task!r}")
    sections = cfg.from_dict(defaults, {k: v for k, v in saved.items() if k in defaults})
    sections = cfg.apply(sections, {"train": train_overrides})
    if not last.is_file():
        raise ValueError(f"--resume {path}: no {ckpt.LAST} yet (the run stopped before its "
                         "first checkpoint); start it again with --overwrite")
    state = ckpt.load(last, task=task)
    resolved = {"task": task, "preset": saved.get("preset"), **cfg.to_dict(sections)}
    return _fit(task, sections, build, path, state, progress,
                lambda: rundir.write_config(path, resolved))


def _fit(task, sections, build, path: Path, state, progress: bool, ready) -> TrainOutcome:
    """Build, restore (when resuming), call ``ready()``, then train."""
    train_cfg = sections["train"]
    set_threads(train_cfg.threads)
    seed_everything(train_cfg.seed)
    device = resolve_device(train_cfg.device)
    model, objective, meta = build(sections, state.meta if state else None)
    model.to(device)
    meta = dict(meta, task=task, config=cfg.to_dict(sections))
    trainer = Trainer(model, objective, train_cfg, path, meta, progress=progress)
    if state is not None:
        trainer.restore(state)
    ready()
    if progress:
        params = sum(p.numel() for p in model.parameters())
        start = f", resuming at step {trainer.step}" if state is not None else ""
        print(f"{task}: {params:,} parameters on {device}; run directory {path}{start}",
              file=sys.stderr)
    result = trainer.fit()
    _plot(path)
    return TrainOutcome(path, result)


def _plot(path: Path) -> None:
    """Draw curves.png; plotting problems never lose a finished run."""
    try:
        from rnnkit.train.plots import plot_run
        plot_run(path)
    except Exception as err:  # noqa: BLE001 - a plot is a convenience
        print(f"note: could not draw curves: {err}", file=sys.stderr)
