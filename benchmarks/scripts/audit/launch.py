"""Starting one ``rnnkit`` process with limits, and waiting for it with a time limit.

Two ways, the same contract (:func:`start` -> :class:`Proc`):

* ``fork`` (default): this process has imported ``rnnkit.cli`` (and torch) once; each
  case is a ``fork()`` that calls ``rnnkit.cli.main(argv)`` as the console script does
  (an uncaught exception prints its traceback and exits 1). Startup costs ~50 ms
  instead of ~1.7 s, so the catalogue can be large. The code under test is the one
  imported when the audit started.
* ``spawn``: a real ``.venv/bin/rnnkit`` subprocess per case (what a user runs).

Either way the process gets its own session (killed as a group on a hang), stdin from
a file or /dev/null, stdout/stderr into files, ``RLIMIT_AS`` (an allocation past it
fails, so a memory bomb is a failure, not a swapped machine), optionally
``RLIMIT_FSIZE`` with SIGXFSZ ignored (writes past it fail with EFBIG: a full disk),
and symlinks planted under the temporary names it would write through
(``.NAME.tmp-<its pid>``).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .core import Result

RNNKIT = Path(sys.executable).with_name("rnnkit")


@dataclass
class Spec:
    argv: list
    cwd: Path
    out: Path
    err: Path
    stdin: Optional[Path] = None
    mem_bytes: Optional[int] = None
    fsize: Optional[int] = None  # RLIMIT_FSIZE with SIGXFSZ ignored (a full disk)
    max_output: int = 1 << 30  # RLIMIT_FSIZE otherwise: output past it kills the process (SIGXFSZ)
    plant: tuple = ()  # (folder, name, target) resolved paths
    env: Optional[dict] = None


def _prepare_child(spec: Spec) -> None:
    """In the new process, before rnnkit runs: limits and planted symlinks."""
    if spec.mem_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (spec.mem_bytes, spec.mem_bytes))
    if spec.fsize is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (spec.fsize, spec.fsize))
    else:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE, (spec.max_output, spec.max_output))
    for folder, name, target in spec.plant:
        link = Path(folder) / f".{name}.tmp-{os.getpid()}"
        try:
            os.symlink(target, link)
        except OSError:
            pass


class Proc:
    """A started process: ``poll()`` -> exit status or None; ``kill()``; ``result()``."""

    def __init__(self, spec: Spec, pid: int, popen: Optional[subprocess.Popen] = None) -> None:
        self.spec, self.pid, self.popen = spec, pid, popen
        self.started = time.monotonic()
        self.status: Optional[int] = None  # os.waitstatus_to_exitcode: negative = signal
        self.killed = False
        self.ended: Optional[float] = None

    def poll(self) -> Optional[int]:
        if self.status is not None:
            return self.status
        if self.popen is not None:
            code = self.popen.poll()
            if code is None:
                return None
            self.status = code
        else:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                return None
            self.status = os.waitstatus_to_exitcode(status)
        self.ended = time.monotonic()
        return self.status

    def kill(self) -> None:
        self.killed = True
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.wait(10)

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the process alone."""
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float) -> Optional[int]:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)
        return self.status

    def result(self) -> Result:
        out = self.spec.out.read_bytes().decode("utf-8", "replace") if self.spec.out.exists() else ""
        err = self.spec.err.read_bytes().decode("utf-8", "replace") if self.spec.err.exists() else ""
        seconds = (self.ended or time.monotonic()) - self.started
        if self.killed or self.status is None:
            return Result(self.spec.argv, None, out, err, seconds)
        sig = -self.status if self.status < 0 else None
        return Result(self.spec.argv, self.status if sig is None else 128 + sig, out, err, seconds, sig)


def start(spec: Spec, mode: str = "fork") -> Proc:
    """Start ``rnnkit SPEC.ARGV``; see the module doc for ``mode``."""
    if mode == "spawn":
        stdin = open(spec.stdin or os.devnull, "rb")
        out, err = open(spec.out, "wb"), open(spec.err, "wb")
        try:
            env = dict(os.environ, **(spec.env or {}))
            popen = subprocess.Popen(
                [str(RNNKIT), *spec.argv],
                cwd=spec.cwd,
                stdin=stdin,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
                preexec_fn=lambda: _prepare_child(spec),
            )
        finally:
            stdin.close(), out.close(), err.close()
        return Proc(spec, popen.pid, popen)
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            os.setsid()
            _prepare_child(spec)
            os.chdir(spec.cwd)
            for fd, path, flags in (
                (0, spec.stdin or os.devnull, os.O_RDONLY),
                (1, spec.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                (2, spec.err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            ):
                opened = os.open(path, flags, 0o644)
                os.dup2(opened, fd)
                os.close(opened)
            os.environ.update(spec.env or {})
            code = _main(spec.argv)
        finally:
            os._exit(code)
    return Proc(spec, pid)


def _fresh_random_state() -> None:
    """A forked child starts with its parent's random generators; a new process would not
    (unseeded sampling must differ run to run, as it does for a user)."""
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()


def _main(argv: list) -> int:
    """``rnnkit ARGV`` as the console script runs it: the exit code."""
    sys.argv = ["rnnkit", *argv]
    _fresh_random_state()
    try:
        from rnnkit.cli import main

        code = main(list(argv))
        code = 0 if code is None else code
    except SystemExit as stop:
        if stop.code is None:
            code = 0
        elif isinstance(stop.code, int):
            code = stop.code
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 130
    except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught exception
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - e.g. a closed pipe
            pass
    return code if isinstance(code, int) and 0 <= code < 256 else 1
