"""What a resumed run starts from: its saved configuration with the new ``train`` options,
and the checkpoint to continue (``last``, else ``best``).

:func:`rnnkit.train.runner.resume` calls both before it touches the run directory.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

from . import checkpoint as ckpt
from . import config as cfg
from . import limits, rundir
from .options import check_config, check_resume_changes
from .recipe import Recipe


def resumed_config(recipe: Recipe, path: Path, train_overrides: dict) -> tuple[cfg.Sections, dict]:
    """The run's saved sections with the new ``train`` options, and the config to save."""
    saved = rundir.read_config(path)
    if saved.get("task") != recipe.name:
        raise ValueError(f"--resume {path}: that run is of recipe {saved.get('task')!r}, not {recipe.name!r}")
    defaults = recipe.defaults()
    sections = cfg.from_dict(defaults, {k: v for k, v in saved.items() if k in defaults})
    check_resume_changes(sections["train"], train_overrides)
    sections = cfg.apply(sections, {"train": train_overrides})
    cfg.check_applies(sections, {"train": train_overrides})
    check_config(sections["train"])
    limits.check_memory(sections)
    return sections, {"task": recipe.name, "preset": saved.get("preset"), **cfg.to_dict(sections)}


def starting_state(recipe: Recipe, path: Path, given: Optional[Path]) -> ckpt.Checkpoint:
    """The checkpoint a resumed run starts from: ``given``, else ``last``, else ``best``
    (saying so: its save of ``last`` failed)."""
    last, best = path / ckpt.LAST, path / ckpt.BEST
    if given is not None or last.is_file():
        return ckpt.load(given or last, task=recipe.name)
    if best.is_file():
        state = ckpt.load(best, task=recipe.name)
        warnings.warn(
            f"--resume {path}: no {ckpt.LAST} (its save failed, e.g. on a full disk); "
            f"continuing from {ckpt.BEST} (step {state.meta.get('step')}), which holds the "
            "whole training state as of that evaluation"
        )
        return state
    hidden = sorted(p.name for p in path.glob(rundir.SET_ASIDE_PREFIX + "*"))
    note = (
        f"; {path / hidden[0]} holds an earlier run that --overwrite set aside (move its "
        "files back to keep it: starting again with --overwrite deletes it)"
        if hidden
        else ""
    )
    raise ValueError(
        f"--resume {path}: no checkpoint yet (the run stopped before its first "
        f"one); start it again with --overwrite{note}"
    )
