"""Run directories: what makes one, what rnnkit owns in it, starting, overwriting, resuming.

A run directory holds ``config.json`` (the resolved configuration),
``metrics.jsonl`` (:mod:`rnnkit.train.metricslog`), ``best.safetensors`` and
``last.safetensors`` (checkpoints), ``curves.png``, the files a recipe writes
(``Recipe.outputs``, e.g. ``report_test.json``), with ``--tensorboard`` the folder
``tensorboard/`` (:data:`FOLDERS`), and two of rnnkit's own:

* ``.rnnkit-manifest``: every name rnnkit wrote there (:mod:`rnnkit.files` lists each
  file it writes into a folder that has one). rnnkit moves or deletes only those names,
  their temporaries and its set-aside folders: a user's ``model.json`` or
  ``.paper.tmp-v2`` beside them stays. A run made before manifests existed has none:
  then only the engine's exact names (:data:`ENGINE`) and the recipes' exact output
  names count (no patterns: nothing is guessed), and the run gets a manifest listing
  those when it is resumed.
* ``.rnnkit-lock``: held by the one process writing the run (:mod:`rnnkit.train.lock`).

Starting a run (``train/runner.py``), in order::

    path = check(path, overwrite=overwrite, tasks=known)   # refuse early, touch nothing
    with lock.hold(path):                                   # one writer; check again under it
        ...build the model and the data...
        aside = None if is_fresh(path) else setaside.set_aside(path, outputs)   # keep the old run
        if aside is None:
            create(path)                                    # the folder and its manifest
        write_config(path, config)
        ...train: aside.discard() once the new run saved an evaluated checkpoint...
        ...ended without one (error, divergence, Ctrl-C first): aside.restore()...

Resuming: ``check(path, resume=True)``, then, under the lock, :func:`clean_temporaries`.
``config.json`` is read and written by :mod:`rnnkit.train.runconfig` (imported here).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Iterable, Optional

from rnnkit.files import MANIFEST, alive, parse_temporary, read_manifest, record_written, start_manifest

from .lock import LOCK, refuse_if_held
from .metricslog import METRICS, MetricsLog, read_metrics, select  # noqa: F401 - their former home
from .runconfig import CONFIG, load_config, read_config, write_config  # noqa: F401 - their public place

CHECKPOINTS = ("best.safetensors", "last.safetensors")
SET_ASIDE_PREFIX = ".rnnkit-previous-"
#: the engine's own files at the top of a run directory
ENGINE = (CONFIG, METRICS, *CHECKPOINTS, "curves.png")
#: the engine's folders: owned when the run's manifest lists them (never in a run without one)
FOLDERS = ("tensorboard",)


def default_run_dir(task: str, root: str | Path = "runs") -> Path:
    """``runs/<task>-<YYYYmmdd-HHMMSS>``."""
    return Path(root) / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


# ---- what is a run ------------------------------------------------------------
RUN_MANIFEST_NOTE = f"{MANIFEST} and no checkpoint ({' or '.join(CHECKPOINTS)}): rnnkit did not write this folder"


def not_a_run(path: str | Path, tasks: Optional[Iterable[str]] = None) -> Optional[str]:
    """Why ``path`` is not an rnnkit run directory, or None if it is one.

    A run directory has a ``config.json`` holding a JSON object with a string
    ``"task"`` and an object ``"train"``, as ``runner`` writes it. With ``tasks``
    (the registered recipes' names), a directory without a manifest (a run made before
    manifests existed) must also name one of them and hold a checkpoint: another tool's
    ``{"task": "charlm", "train": {}}`` beside its own files is not a run.
    """
    path = Path(path)
    if not path.is_dir():
        return "not a directory" if path.exists() else "no such directory"
    file = path / CONFIG
    if not file.is_file():
        hidden = sorted(p.name for p in path.glob(SET_ASIDE_PREFIX + "*"))
        extra = (
            f"; {path / hidden[0]} holds a run that an interrupted rnnkit process set aside: "
            "move its files back to continue it"
            if hidden
            else ""
        )
        return f"no {CONFIG}{extra}"
    try:
        config = load_config(file)
    except ValueError as err:
        return str(err)
    if not isinstance(config, dict):
        return f"{CONFIG} is not a JSON object"
    if not isinstance(config.get("task"), str):
        return f'{CONFIG} names no rnnkit task (no string "task")'
    if not isinstance(config.get("train"), dict):
        return f'{CONFIG} has no "train" section'
    if tasks is None or os.path.lexists(path / MANIFEST):
        return None
    if config["task"] not in set(tasks):
        return f"{CONFIG} names task {config['task'][:80]!r}, which is no rnnkit recipe"
    if not any((path / name).is_file() for name in CHECKPOINTS):
        # a run made before manifests existed has a checkpoint; a folder with only a look-alike
        # config.json is another tool's
        return f"no {RUN_MANIFEST_NOTE}"
    return None


def is_run(path: str | Path, tasks: Optional[Iterable[str]] = None) -> bool:
    """Whether ``path`` is an rnnkit run directory (see :func:`not_a_run`)."""
    return not_a_run(path, tasks) is None


def is_fresh(path: str | Path) -> bool:
    """Whether ``path`` is missing or holds nothing but rnnkit's lock and an empty start."""
    path = Path(path)
    if not path.exists():
        return True
    return path.is_dir() and all(p.name == MANIFEST or p.name.startswith(LOCK) for p in path.iterdir())


# ---- what rnnkit owns in it ---------------------------------------------------
def legacy_names(outputs: Iterable[str] = ()) -> frozenset[str]:
    """What a run without a manifest owns: :data:`ENGINE` and the exact names in ``outputs``."""
    return frozenset(ENGINE) | {o for o in outputs if not any(c in o for c in "*?[")}


def is_owned(entry: Path, outputs: Iterable[str] = (), listed: Optional[Iterable[str]] = None) -> bool:
    """Whether rnnkit wrote ``entry`` (a top-level entry of a run directory).

    ``listed``: the names in the run's manifest (:func:`rnnkit.files.read_manifest`);
    None for a run without one (then :func:`legacy_names` of ``outputs``). Owned are
    those names, the manifest, temporaries (``.<name>.tmp-<pid>``) of those names or of
    :func:`legacy_names`, set-aside folders and the engine's :data:`FOLDERS` that the
    manifest lists. Never the lock, never a user's folder.
    """
    name = entry.name
    if name.startswith(LOCK):
        return False
    if entry.is_dir() and not entry.is_symlink():
        listed_folder = name in FOLDERS and listed is not None and name in frozenset(listed)
        return name.startswith(SET_ASIDE_PREFIX) or listed_folder
    legacy = legacy_names(outputs)
    known = legacy if listed is None else frozenset(listed)
    parsed = parse_temporary(name)
    if parsed:
        return parsed[0] in known or parsed[0] in legacy or parsed[0] == MANIFEST
    return name == MANIFEST or name in known


def owned(path: str | Path, outputs: Iterable[str] = ()) -> list[Path]:
    """The entries rnnkit owns at the top of the directory ``path``, sorted."""
    outputs, listed = tuple(outputs), read_manifest(path)
    return sorted(entry for entry in Path(path).iterdir() if is_owned(entry, outputs, listed))


def refuse_run_file(path: str | Path, what: str = "--out", replaceable: Iterable[str] = ()) -> None:
    """Raise ValueError if writing ``path`` would replace a file of an rnnkit run.

    That is an existing entry that the run in ``path``'s folder owns (:func:`is_owned`)
    or its lock, unless its name matches one of the ``replaceable`` patterns (what the
    command itself wrote there before, e.g. an exported ``model.onnx``).
    """
    path = Path(path)
    folder = path.parent
    if not os.path.lexists(path) or any(fnmatch.fnmatchcase(path.name, p) for p in replaceable):
        return
    if not os.path.lexists(folder / MANIFEST) and not is_run(folder):
        return
    try:
        listed = read_manifest(folder)
    except ValueError:
        listed = frozenset()
    if path.name.startswith(LOCK) or is_owned(path, (), listed):
        raise ValueError(
            f"{what} {path}: refusing to replace {path.name}, a file of the rnnkit run in "
            f"{folder}; choose another file name (nothing was written)"
        )


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink(missing_ok=True)


def clean_temporaries(path: str | Path) -> list[Path]:
    """Remove temporaries left in run directory ``path`` by dead processes; returns them.

    A temporary ``.<name>.tmp-<pid>`` is left when a save is killed between
    writing and renaming. Those of this process or of a live process stay, and so does
    anything that is not a regular file.
    """
    removed = []
    for entry in owned(path):
        parsed = parse_temporary(entry.name)
        if parsed and parsed[1] != os.getpid() and not alive(parsed[1]) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


# ---- starting, overwriting and resuming ------------------------------------
def check(
    path: str | Path, resume: bool = False, overwrite: bool = False, tasks: Optional[Iterable[str]] = None
) -> Path:
    """Refuse what starting (or resuming) a run in ``path`` must not do; touches nothing.

    Raises:
        ValueError: another live process holds the run's lock; or ``resume`` and ``path``
            is not an rnnkit run; or ``path`` holds files without ``resume``/``overwrite``;
            or ``overwrite`` and ``path`` is not an rnnkit run (:func:`not_a_run`, with
            ``tasks`` the known recipes).
    """
    path = Path(path)
    if path.is_dir():
        refuse_if_held(path)
    if resume:
        if (why := not_a_run(path, tasks)) is not None:
            raise ValueError(f"--resume {path}: not an rnnkit run directory ({why})")
        return path
    if not is_fresh(path):
        if not overwrite:
            raise ValueError(
                f"run directory {path} already exists; pass --resume {path} to "
                "continue it or --overwrite to start again in it"
            )
        if (why := not_a_run(path, tasks)) is not None:
            raise ValueError(
                f"--overwrite {path}: refusing to delete a directory that is not an "
                f"rnnkit run ({why}); nothing was changed"
            )
    return path


def create(path: str | Path) -> Path:
    """Make the directory of a fresh run (and its parents) with an empty manifest; refuses
    what :func:`check` refuses."""
    path = check(path)
    path.mkdir(parents=True, exist_ok=True)
    start_manifest(path)
    return path


def adopt(path: str | Path, outputs: Iterable[str] = ()) -> None:
    """Give a run made before manifests existed one listing its :func:`legacy_names` present."""
    path = Path(path)
    if read_manifest(path) is None:
        names = sorted(e.name for e in path.iterdir() if e.name in legacy_names(outputs) and e.is_file())
        start_manifest(path)
        for name in names:
            record_written(path / name)


def warn_legacy(path: Path, outputs: Iterable[str], left: Iterable[str]) -> None:
    """Say, for a run without a manifest, which files of recipe-like names stay where they are."""
    patterns = [o for o in outputs if any(c in o for c in "*?[")]
    kept = sorted(n for n in left if any(fnmatch.fnmatchcase(n, p) for p in patterns))
    if kept:
        warnings.warn(
            f"{path} was made before rnnkit kept a manifest: only files of rnnkit's exact "
            f"names were set aside; {', '.join(kept[:5])}{' ...' if len(kept) > 5 else ''} "
            "stay (nothing is guessed)"
        )
