"""Atomic file writes, the one place every layer of rnnkit writes a file through.

A file is written to a temporary name in the same folder (``.<name>.tmp-<pid>``, or
``.<name>.tmp-<pid>-<8 hex digits>`` when that name is taken), flushed to disk, then
renamed over the target, so a crash mid-write leaves the previous file whole; a temporary
left by a process that died is removed by the next write of the same target.

A temporary is always a new file: it is created with ``O_CREAT | O_EXCL | O_NOFOLLOW``
(mode ``0o666`` less the umask), so nothing planted under its name (a symlink to another
file, say) is ever followed or overwritten, and cleaning up removes only regular files,
never what a link points to.

A folder that holds a manifest (:data:`MANIFEST`, see :func:`start_manifest`; every run
directory does) gets the name of each file written into it listed there
(:func:`record_written`): what rnnkit may later move or delete is what it wrote. Nothing
here imports torch, so the data layer can use it too.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import threading
from pathlib import Path
from typing import Optional

_TEMPORARY = re.compile(r"\.(?P<name>.+)\.tmp-(?P<pid>[0-9]+)(?:-[0-9a-f]{8})?")
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: the manifest of a folder: the names rnnkit wrote there, one JSON string a line
MANIFEST = ".rnnkit-manifest"
MANIFEST_LIMIT = 2**20  # bytes; a run's manifest lists a few dozen names
_HEADER = "# rnnkit manifest: the files rnnkit wrote in this folder, one JSON string a line\n"
_RECORDING = threading.Lock()
_LISTED: dict[str, tuple[tuple, frozenset]] = {}  # manifest -> (its stat signature, names)


class WriteError(ValueError):
    """A file could not be written (its folder is missing, read-only or full): one line naming it."""


def temporary(path: str | Path, pid: int | None = None) -> Path:
    """The first temporary name that process ``pid`` (default: this one) writes ``path`` through."""
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
    ``predict`` runs saving a run's calibration, say); the last rename wins. Only regular
    files go: a symlink (or anything else) under a temporary's name was not made by
    rnnkit and stays, and what it points to is never touched.
    """
    path = Path(path)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        parsed = parse_temporary(entry.name)
        if (
            parsed
            and parsed[0] == path.name
            and parsed[1] != os.getpid()
            and not alive(parsed[1])
            and entry.is_file(follow_symlinks=False)
        ):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed.append(Path(entry.path))
    return removed


def _create_temporary(path: Path) -> tuple[Path, int]:
    """A new temporary of ``path`` and its open descriptor; never an existing file or link."""
    first = temporary(path)
    for name in [first.name] + [f"{first.name}-{secrets.token_hex(4)}" for _ in range(8)]:
        try:
            return path.with_name(name), os.open(path.with_name(name), _CREATE, 0o666)
        except FileExistsError:
            continue  # taken (a live write of the same file, or something planted): another name
    raise WriteError(f"{path}: cannot write: its temporary names {first.name}[-*] in {path.parent} are all taken")


def reserve_temporary(path: str | Path) -> Path:
    """Create an empty new temporary of ``path`` (as :func:`atomic_write` does) and return its
    name, for a library that writes a file by name (torch's exporters); the caller renames it
    over ``path`` (then :func:`record_written`) or unlinks it."""
    path = Path(path)
    try:
        tmp, fd = _create_temporary(path)
    except OSError as err:
        raise WriteError(f"{path}: cannot write: {err.strerror or err}") from err
    os.close(fd)
    return tmp


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a new temporary and an atomic rename.

    Stale temporaries of ``path`` go first. Raises :class:`WriteError` naming the file
    when its folder is missing or the write fails (the old file, if any, stays as it was).
    The name is then recorded in the folder's manifest, if it has one.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise WriteError(f"{path}: cannot write: the folder {path.parent} does not exist")
    remove_stale_temporaries(path)
    tmp: Optional[Path] = None
    try:
        tmp, fd = _create_temporary(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise WriteError(f"{path}: cannot write: {err.strerror or err}") from err
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    record_written(path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write` of ``text`` encoded as UTF-8, newlines as given."""
    atomic_write(path, text.encode("utf-8"))


# ---- the manifest: what rnnkit wrote in a folder --------------------------------
def start_manifest(folder: str | Path) -> Path:
    """Give ``folder`` a new, empty manifest (replacing one there); returns its path."""
    path = Path(folder) / MANIFEST
    atomic_write_text(path, _HEADER)
    return path


def read_manifest(folder: str | Path) -> Optional[frozenset[str]]:
    """The names listed in ``folder``'s manifest; None when it has none.

    Raises:
        ValueError: the manifest is not a regular file, is over :data:`MANIFEST_LIMIT`
            bytes or cannot be read (one line naming it).
    """
    path = Path(folder) / MANIFEST
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ValueError(f"{path}: cannot read rnnkit's manifest: {err.strerror or err}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MANIFEST_LIMIT:
            raise ValueError(f"{path}: not an rnnkit manifest (expected a file of at most {MANIFEST_LIMIT:,} bytes)")
        text = handle.read(MANIFEST_LIMIT + 1).decode("utf-8", errors="replace")
    return frozenset(_names(text))


def _names(text: str) -> list[str]:
    names = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            try:
                name = json.loads(line)
            except (ValueError, RecursionError):
                continue  # a torn last line (a process killed mid-append): never listed
            if isinstance(name, str) and name and "/" not in name and name not in (".", ".."):
                names.append(name)
    return names


def record_written(path: str | Path) -> None:
    """List ``path``'s name in its folder's manifest, when the folder has one.

    One ``O_APPEND`` write of one line, so processes writing into the same run directory
    at once never lose each other's names; a name already listed costs one ``lstat``.
    Failing to record is not an error: an unlisted file is only kept by ``--overwrite``.
    """
    path = Path(path)
    manifest = path.parent / MANIFEST
    if path.name == MANIFEST:
        return
    with _RECORDING:
        try:
            info = os.lstat(manifest)
            if not stat.S_ISREG(info.st_mode):
                return
            signature = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            cached = _LISTED.get(str(manifest))
            names = cached[1] if cached and cached[0] == signature else read_manifest(path.parent)
            if names is None or path.name in names:
                _LISTED[str(manifest)] = (signature, names or frozenset())
                return
            fd = os.open(manifest, os.O_WRONLY | os.O_APPEND | _NOFOLLOW)
            try:
                os.write(fd, (json.dumps(path.name) + "\n").encode("utf-8"))
            finally:
                os.close(fd)
            info = os.lstat(manifest)
            _LISTED[str(manifest)] = ((info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns), names | {path.name})
        except (OSError, ValueError):
            return
