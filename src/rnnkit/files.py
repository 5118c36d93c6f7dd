"""Atomic file writes, the one place every layer of rnnkit writes a file through.

A file is written to a temporary name in the same folder (``.<name>.tmp-<pid>``),
flushed to disk, then renamed over the target, so a crash mid-write leaves the previous
file whole; a temporary left by a process that died is removed by the next write of the
same target. Nothing here imports torch, so the data layer can use it too.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

_TEMPORARY = re.compile(r"\.(?P<name>.+)\.tmp-(?P<pid>[0-9]+)")


class WriteError(ValueError):
    """A file could not be written (its folder is missing, read-only or full): one line naming it."""


def temporary(path: str | Path, pid: int | None = None) -> Path:
    """The temporary that process ``pid`` (default: this one) writes ``path`` through."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid() if pid is None else pid}")


def parse_temporary(name: str) -> tuple[str, int] | None:
    """``(target name, pid)`` of a temporary's file name, or None if it is not one."""
    match = _TEMPORARY.fullmatch(name)
    return (match["name"], int(match["pid"])) if match else None


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on Windows always True: never call one dead there)."""
    if os.name == "nt":
        return True  # os.kill would terminate it there
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass  # a process of another user
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by processes that no longer run; returns them.

    Such a file is left when a write is killed between writing and renaming. A live
    process's temporary is kept: it may be writing the same file right now (two
    ``predict`` runs saving a run's calibration, say); the last rename wins.
    """
    path = Path(path)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        parsed = parse_temporary(entry.name)
        if parsed and parsed[0] == path.name and parsed[1] != os.getpid() and not alive(parsed[1]) \
                and entry.is_file():
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed.append(Path(entry.path))
    return removed


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`temporary` and an atomic rename.

    Stale temporaries of ``path`` go first. Raises :class:`WriteError` naming the file
    when its folder is missing or the write fails (the old file, if any, stays as it was).
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise WriteError(f"{path}: cannot write: the folder {path.parent} does not exist")
    remove_stale_temporaries(path)
    tmp = temporary(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise WriteError(f"{path}: cannot write: {err.strerror or err}") from err
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write` of ``text`` encoded as UTF-8, newlines as given."""
    atomic_write(path, text.encode("utf-8"))
