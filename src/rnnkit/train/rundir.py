"""Run directories and the metrics log.

A run directory holds ``config.json`` (the resolved configuration),
``metrics.jsonl`` (one JSON record per line), ``best.safetensors`` and
``last.safetensors`` (checkpoints), ``curves.png`` and the files a recipe
declares (``Recipe.outputs``, e.g. ``report_test.json``). rnnkit only ever
deletes or moves the files it owns (:data:`OWNED` and those names), and only
in a directory that :func:`is_run` recognises.

Starting a run (``train/runner.py``), in order::

    path = check(path, overwrite=overwrite)        # refuse early, touch nothing
    ...build the model and the data...
    aside = set_aside(path, outputs) if is_run(path) else None   # keep the old run for now
    if aside is None:
        create(path)
    write_config(path, config)
    ...train: aside.discard() once the new run saved an evaluated checkpoint...
    ...ended without one (error, divergence, Ctrl-C first): aside.restore()...

Resuming: ``check(path, resume=True)``, then :func:`clean_temporaries`.
"""
from __future__ import annotations

import fnmatch
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Optional

from rnnkit.files import alive, atomic_write, parse_temporary

CONFIG, METRICS = "config.json", "metrics.jsonl"
CHECKPOINTS = ("best.safetensors", "last.safetensors")
SET_ASIDE_PREFIX = ".rnnkit-previous-"
#: Names (fnmatch patterns) of what the engine writes at the top of a run directory:
#: its files, its temporaries (``.<name>.tmp-<pid>``, see :mod:`rnnkit.files`)
#: and the folder :func:`set_aside` moves an old run into. Recipes add exact names.
OWNED = (CONFIG, METRICS, *CHECKPOINTS, "curves.png", ".*.tmp-*", SET_ASIDE_PREFIX + "*")


def default_run_dir(task: str, root: str | Path = "runs") -> Path:
    """``runs/<task>-<YYYYmmdd-HHMMSS>``."""
    return Path(root) / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


# ---- what is a run, what rnnkit owns in it ---------------------------------
def not_a_run(path: str | Path) -> Optional[str]:
    """Why ``path`` is not an rnnkit run directory, or None if it is one.

    A run directory has a ``config.json`` holding a JSON object with a string
    ``"task"`` and an object ``"train"``, as ``runner`` writes it.
    """
    path = Path(path)
    if not path.is_dir():
        return "not a directory" if path.exists() else "no such directory"
    file = path / CONFIG
    if not file.is_file():
        hidden = sorted(p.name for p in path.glob(SET_ASIDE_PREFIX + "*"))
        extra = (f"; {path / hidden[0]} holds a run that an interrupted rnnkit process set aside: "
                 "move its files back to continue it" if hidden else "")
        return f"no {CONFIG}{extra}"
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"{CONFIG} is not readable JSON ({err})"
    if not isinstance(config, dict):
        return f"{CONFIG} is not a JSON object"
    if not isinstance(config.get("task"), str):
        return f"{CONFIG} names no rnnkit task (no string \"task\")"
    if not isinstance(config.get("train"), dict):
        return f"{CONFIG} has no \"train\" section"
    return None


def is_run(path: str | Path) -> bool:
    """Whether ``path`` is an rnnkit run directory (see :func:`not_a_run`)."""
    return not_a_run(path) is None


def is_owned(entry: Path, outputs: Iterable[str] = ()) -> bool:
    """Whether rnnkit wrote ``entry`` (a top-level entry of a run directory).

    Files (and links) whose names match :data:`OWNED` or one of the recipes'
    ``outputs`` (names or ``fnmatch`` patterns), and set-aside folders. A
    user's folder that happens to match a file name is not owned.
    """
    name = entry.name
    if not any(fnmatch.fnmatchcase(name, pattern) for pattern in (*OWNED, *outputs)):
        return False
    if entry.is_dir() and not entry.is_symlink():
        return name.startswith(SET_ASIDE_PREFIX)
    return True


def owned(path: str | Path, outputs: Iterable[str] = ()) -> list[Path]:
    """The entries rnnkit owns at the top of the directory ``path``, sorted."""
    outputs = tuple(outputs)
    return sorted(entry for entry in Path(path).iterdir() if is_owned(entry, outputs))


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink(missing_ok=True)


def clean_temporaries(path: str | Path) -> list[Path]:
    """Remove temporaries left in run directory ``path`` by dead processes; returns them.

    A temporary ``.<name>.tmp-<pid>`` is left when a save is killed between
    writing and renaming. Those of this process or of a live process stay.
    """
    removed = []
    for entry in owned(path):
        parsed = parse_temporary(entry.name)
        if parsed and parsed[1] != os.getpid() and not alive(parsed[1]) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


# ---- starting, overwriting and resuming ------------------------------------
def check(path: str | Path, resume: bool = False, overwrite: bool = False) -> Path:
    """Refuse what starting (or resuming) a run in ``path`` must not do; touches nothing.

    Raises:
        ValueError: ``resume`` and ``path`` is not an rnnkit run; or ``path``
            exists and is not empty without ``resume``/``overwrite``; or
            ``overwrite`` and ``path`` is not an rnnkit run (:func:`not_a_run`).
    """
    path = Path(path)
    if resume:
        if (why := not_a_run(path)) is not None:
            raise ValueError(f"--resume {path}: not an rnnkit run directory ({why})")
        return path
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        if not overwrite:
            raise ValueError(f"run directory {path} already exists; pass --resume {path} to "
                             "continue it or --overwrite to start again in it")
        if (why := not_a_run(path)) is not None:
            raise ValueError(f"--overwrite {path}: refusing to delete a directory that is not an "
                             f"rnnkit run ({why}); nothing was changed")
    return path


def create(path: str | Path) -> Path:
    """Make the directory of a fresh run (and its parents); refuses what :func:`check` refuses."""
    path = check(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


class SetAside:
    """An old run's files moved into ``folder``, a hidden folder of its run directory.

    Made by :func:`set_aside`. Exactly one of :meth:`discard` (the new run saved
    a checkpoint: the old run can go) and :meth:`restore` (it did not: bring the
    old run back) takes effect; calling either again, or the other one after
    it, does nothing. ``state`` is ``"pending"``, ``"discarded"`` or ``"restored"``;
    ``moved`` names the entries that were set aside.
    """

    def __init__(self, run_dir: Path, folder: Path, moved: list[str], outputs: Iterable[str] = ()) -> None:
        self.run_dir, self.folder, self.moved = run_dir, folder, tuple(moved)
        self.outputs = tuple(outputs)
        self.state = "pending"
        self._inside = list(moved)  # names still in the folder
        self._cleared = False  # the new run's files are gone (restore may be retried)

    def discard(self) -> None:
        """Delete the old run (the set-aside folder, with any stale ones it holds)."""
        if self.state == "pending":
            if self.folder.exists():
                shutil.rmtree(self.folder)
            self.state = "discarded"

    def restore(self) -> None:
        """Delete the owned files the new run wrote, then move the old run's files back.

        The user's own files in the run directory are never touched.
        """
        if self.state != "pending":
            return
        if not self._cleared:
            for entry in owned(self.run_dir, self.outputs):
                if entry != self.folder:
                    _remove(entry)
            self._cleared = True
        self._put_back()
        self.state = "restored"

    def _put_back(self) -> None:
        """Move the set-aside entries back (each one once) and remove the folder."""
        while self._inside:
            name = self._inside[-1]
            os.replace(self.folder / name, self.run_dir / name)
            self._inside.pop()
        self.folder.rmdir()


def set_aside(path: str | Path, outputs: Iterable[str] = ()) -> SetAside:
    """Move the owned files of the run in ``path`` into ``path/.rnnkit-previous-<pid>-*/``.

    Renames within one directory, so nothing is copied and nothing is lost if
    the process dies: a folder left by a killed process is itself owned (the
    next overwrite of that run sets it aside with the rest, and its discard
    deletes it). Files rnnkit does not own stay where they are; ``outputs``
    names the recipes' own files (``Recipe.outputs``).

    Raises:
        ValueError: ``path`` is not an rnnkit run (:func:`not_a_run`).
    """
    path = Path(path)
    if (why := not_a_run(path)) is not None:
        raise ValueError(f"--overwrite {path}: refusing to touch a directory that is not an "
                         f"rnnkit run ({why})")
    entries = owned(path, outputs)
    folder = Path(tempfile.mkdtemp(prefix=f"{SET_ASIDE_PREFIX}{os.getpid()}-", dir=path))
    moved: list[str] = []
    try:
        for entry in entries:
            os.rename(entry, folder / entry.name)
            moved.append(entry.name)
    except BaseException:
        SetAside(path, folder, moved)._put_back()  # undo the moves done so far, then fail
        raise
    return SetAside(path, folder, moved, outputs)


# ---- config and metrics ----------------------------------------------------
def write_config(path: str | Path, config: dict[str, Any]) -> None:
    atomic_write(Path(path) / CONFIG, (json.dumps(config, indent=2) + "\n").encode())


def read_config(path: str | Path) -> dict[str, Any]:
    file = Path(path) / CONFIG
    try:
        return json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{file}: cannot read the run's configuration: {err}") from None


class MetricsLog:
    """Append-only JSON-lines log, flushed after every record; with ``enabled`` False
    (a process that is not the run's writer) it writes nothing."""

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path, self.enabled = Path(path), enabled

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop records logged after ``step`` (they came after the checkpoint resumed from)."""
        if not self.enabled:
            return
        kept = [r for r in read_metrics(self.path, skip_torn_tail=True) if r.get("step", 0) <= step]
        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())


def read_metrics(path: str | Path, skip_torn_tail: bool = False) -> list[dict[str, Any]]:
    """Records of a metrics file (or of ``RUN_DIR/metrics.jsonl``); [] if none yet.

    ``skip_torn_tail`` drops a half-written last line (a crash mid-append).
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS
    if not path.is_file():
        return []
    records = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if skip_torn_tail and number == len(lines):
                    break
                raise ValueError(f"{path}, line {number}: not a JSON record") from None
    return records


def select(records: Iterable[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("split") == split]
