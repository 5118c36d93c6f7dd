"""``--overwrite``: an old run's files moved aside until the new run has an evaluated checkpoint.

:func:`set_aside` moves what the old run owns (:func:`rnnkit.train.rundir.owned`: the names
its manifest lists, its manifest, its temporaries and set-aside folders) into a hidden
folder of the run directory and gives the directory a fresh manifest for the new run;
:meth:`SetAside.discard` then deletes the old run, or :meth:`SetAside.restore` deletes
what the new run wrote and moves the old run back. The user's own files, and the lock,
never move.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from rnnkit.files import read_manifest, start_manifest

from . import rundir


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
        """Delete the files the new run wrote (its manifest lists them), then move the old
        run's files back. The user's own files in the run directory are never touched."""
        if self.state != "pending":
            return
        if not self._cleared:
            for entry in rundir.owned(self.run_dir, self.outputs):
                if entry != self.folder:
                    rundir._remove(entry)
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


def set_aside(path: str | Path, outputs: Iterable[str] = (), tasks: Optional[Iterable[str]] = None) -> SetAside:
    """Move the owned files of the run in ``path`` into ``path/.rnnkit-previous-<pid>-*/``.

    Renames within one directory, so nothing is copied and nothing is lost if
    the process dies: a folder left by a killed process is itself owned (the
    next overwrite of that run sets it aside with the rest, and its discard
    deletes it). Files rnnkit does not own stay where they are; ``outputs``
    names the recipes' own files (``Recipe.outputs``), which count for a run without
    a manifest; ``tasks``: the known recipes (:func:`rundir.not_a_run`). The directory
    then gets a fresh, empty manifest for the new run.

    Raises:
        ValueError: ``path`` is not an rnnkit run (:func:`rundir.not_a_run`).
    """
    path = Path(path)
    if (why := rundir.not_a_run(path, tasks)) is not None:
        raise ValueError(f"--overwrite {path}: refusing to touch a directory that is not an rnnkit run ({why})")
    outputs = tuple(outputs)
    legacy = read_manifest(path) is None
    entries = rundir.owned(path, outputs)
    folder = Path(tempfile.mkdtemp(prefix=f"{rundir.SET_ASIDE_PREFIX}{os.getpid()}-", dir=path))
    moved: list[str] = []
    try:
        for entry in entries:
            os.rename(entry, folder / entry.name)
            moved.append(entry.name)
        start_manifest(path)
    except BaseException:
        SetAside(path, folder, moved)._put_back()  # undo the moves done so far, then fail
        raise
    if legacy:
        rundir.warn_legacy(path, outputs, (p.name for p in path.iterdir()))
    return SetAside(path, folder, moved, outputs)
