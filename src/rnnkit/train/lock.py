"""The lock of a run directory: one writer at a time (train, ``--overwrite``, ``--resume``).

The writer creates ``RUN/.rnnkit-lock`` with ``O_CREAT | O_EXCL`` (so exactly one
process can), holding its pid, host, start time and the kernel's start tick of the
process (Linux), keeps it for the whole job (training and the final report) and removes
it when the job ends, also on an error or Ctrl-C. Any other writer is refused with one
line naming the holder before it touches anything.

A lock whose holder is gone (same host, and no process with its pid, or one started at
another tick: the pid was reused) is stale: the next writer takes it over and says so in
a warning. One process at a time takes over (it holds ``.rnnkit-lock.takeover``, made with
``O_EXCL``) by renaming its own lock over the stale one, so the lock never goes missing
and processes racing for the same stale lock leave exactly one winner. A lock of another
host is never called stale: its holder cannot be checked from here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
import warnings
from pathlib import Path
from typing import Iterator, Optional

from rnnkit.files import alive

LOCK = ".rnnkit-lock"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class LockedError(ValueError):
    """The run directory is locked by another live process."""


def _start_tick(pid: int) -> Optional[int]:
    """The kernel's start time of process ``pid`` in clock ticks (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _record() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "start_tick": _start_tick(os.getpid()),
        "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def read_holder(path: Path) -> Optional[dict]:
    """The record of lock file ``path``; None if it is missing, being written or not one."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(4096)
    try:
        holder = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    ok = isinstance(holder, dict) and isinstance(holder.get("pid"), int) and isinstance(holder.get("host"), str)
    return holder if ok else None


def _settled(path: Path) -> Optional[dict]:
    """:func:`read_holder`, waiting up to a second for a lock that is being written."""
    for _ in range(20):
        holder = read_holder(path)
        if holder is not None or not os.path.lexists(path):
            return holder
        time.sleep(0.05)
    return None


def is_stale(holder: dict) -> bool:
    """Whether the process that wrote ``holder`` is gone (checked on this host only)."""
    if holder.get("host") != socket.gethostname():
        return False
    pid = holder["pid"]
    if pid <= 0 or not alive(pid):
        return True
    tick = _start_tick(pid)
    return tick is not None and holder.get("start_tick") not in (None, tick)


def describe(run_dir: Path, holder: Optional[dict]) -> str:
    """The one-line refusal naming the lock's holder."""
    lock = run_dir / LOCK
    if holder is None:
        return (
            f"run directory {run_dir} is locked by {lock}, which names no process; remove that file "
            "if no rnnkit process is using this run"
        )
    return (
        f"run directory {run_dir} is in use by rnnkit process {holder['pid']} on host {holder['host']} "
        f"since {holder.get('since', '?')}; wait for it to end (or remove {lock} if that process is gone)"
    )


def _ours(holder: dict) -> bool:
    return holder.get("host") == socket.gethostname() and holder["pid"] == os.getpid()


def refuse_if_held(run_dir: str | Path) -> None:
    """Raise :class:`LockedError` if another live process holds ``run_dir``'s lock; reads only."""
    run_dir = Path(run_dir)
    if os.path.lexists(run_dir / LOCK):
        holder = _settled(run_dir / LOCK)
        if holder is None or not (is_stale(holder) or _ours(holder)):
            raise LockedError(describe(run_dir, holder))


def _write_new(path: Path, record: dict) -> None:
    """Create ``path`` (never an existing file or link) holding ``record``; none is left if
    writing it fails (a full disk)."""
    fd = os.open(path, _CREATE, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _remove_stale(path: Path, holder: dict) -> None:
    """Remove ``path`` if it still holds the stale ``holder`` (renamed away first, then checked)."""
    moved = path.with_name(f"{path.name}.stale-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.rename(path, moved)
    except FileNotFoundError:
        return
    if read_holder(moved) != holder:  # replaced meanwhile by a live one: put it back
        with contextlib.suppress(OSError):
            os.link(moved, path)
    moved.unlink(missing_ok=True)


def _take_over(lock: Path, holder: dict) -> Optional[dict]:
    """Replace the stale lock ``holder`` at ``lock`` by this process's; its record, or None
    when another process is taking it over (try again).

    One process at a time takes over (it holds ``LOCK.takeover``, made with ``O_EXCL``); it
    replaces the lock with one rename, so the lock never goes missing in between and no
    ``O_CREAT | O_EXCL`` creator can slip in.
    """
    guard = lock.with_name(LOCK + ".takeover")
    record = _record()
    try:
        _write_new(guard, record)
    except FileExistsError:
        other = read_holder(guard)
        if other is not None and is_stale(other):  # a take-over killed half-way
            _remove_stale(guard, other)
        return None
    try:
        if read_holder(lock) != holder:
            return None
        fresh = lock.with_name(f"{LOCK}.new-{os.getpid()}-{secrets.token_hex(4)}")
        _write_new(fresh, record)
        os.replace(fresh, lock)
        return record
    finally:
        if read_holder(guard) == record:
            guard.unlink(missing_ok=True)


def acquire(run_dir: str | Path) -> dict:
    """Create ``run_dir``'s lock for this process (the folder must exist); returns its record.

    Raises:
        LockedError: another live process holds it (one line naming pid, host and since when).
    """
    run_dir = Path(run_dir)
    lock = run_dir / LOCK
    for _ in range(40):
        record = _record()
        try:
            _write_new(lock, record)
            return record
        except FileExistsError:
            holder = _settled(lock)
        if holder is None or not is_stale(holder):
            raise LockedError(describe(run_dir, holder))
        record = _take_over(lock, holder)
        if record is not None:
            warnings.warn(
                f"{run_dir}: took over the lock of rnnkit process {holder['pid']} on "
                f"{holder['host']} (since {holder.get('since', '?')}), which is no longer running"
            )
            return record
        time.sleep(0.05)
    raise LockedError(describe(run_dir, read_holder(lock)))


def release(run_dir: str | Path, record: dict) -> None:
    """Remove ``run_dir``'s lock if it is still the one ``record`` describes."""
    lock = Path(run_dir) / LOCK
    if read_holder(lock) == record:
        lock.unlink(missing_ok=True)


@contextlib.contextmanager
def hold(run_dir: str | Path) -> Iterator[Path]:
    """Lock ``run_dir`` (making it, and its parents, when missing) until the block ends.

    A folder this call made is removed again at the end if nothing but the lock was put
    in it (the job failed before it started).
    """
    run_dir = Path(run_dir)
    made = not run_dir.exists()
    if made:
        run_dir.mkdir(parents=True, exist_ok=True)
    try:
        record = acquire(run_dir)
    except BaseException:
        _remove_if_empty(run_dir, made)
        raise
    try:
        yield run_dir
    finally:
        release(run_dir, record)
        _remove_if_empty(run_dir, made)


def _remove_if_empty(run_dir: Path, made: bool) -> None:
    if made:
        with contextlib.suppress(OSError):
            run_dir.rmdir()
