"""Optional C++ build of the LSTM and GRU kernels (``csrc/lstm_scan.cpp``, ``csrc/gru_scan.cpp``,
both with bf16 products in ``csrc/lstm_bf16.cpp`` and ``csrc/gru_bf16.cpp`` with their
vectorisable activations in ``csrc/fast_math.h``, their shared walk in ``csrc/scan_walk.h``, entry points in
``csrc/module.cpp``), compiled on first use.

The C++ code is the same algorithm as :class:`rnnkit.nn.kernels.LSTMScan` and
:class:`rnnkit.nn.kernels_gru_rnn.GRUScan`: the whole sequence of one layer and direction in one
call each way; it removes the per-step Python overhead that dominates at small sizes. It is
built with ``torch.utils.cpp_extension.load`` (needs a C++ compiler and ninja) into torch's
extension cache, once per machine, with ``-march=native`` (the loops of ``fast_math.h`` need
the CPU's vector instructions to be fast) under a name keyed by the CPU (the portable ``-O3``
build if the compiler refuses the flag). If the build fails, or ``RNNKIT_NO_EXT=1`` is set, the
pure-Python kernel is used and a warning says why.

torch's build takes a lock file (``lock`` in the build folder) that a process killed while
building or loading never removes, and every later build waits on it forever. rnnkit builds
under its own lock as well (``flock``, which the system releases when a process dies): a
``lock`` file found while holding it was left by a killed process, and is removed with a note.
"""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .machine import cpu_flags, cpu_model

NO_EXT = "RNNKIT_NO_EXT"
_SOURCES = [
    Path(__file__).with_name("csrc") / name
    for name in ("lstm_scan.cpp", "lstm_bf16.cpp", "gru_scan.cpp", "gru_bf16.cpp", "module.cpp")
]
_state: dict = {}


def lstm_extension():
    """The compiled module, or None when unavailable (reason warned once)."""
    if "module" not in _state:
        _state["module"] = _build()
    return _state["module"]


def _native_name() -> str:
    """``rnnkit_scan_<hash of CPU model and flags>``: a build for one CPU is never loaded on
    another (torch's extension cache may be shared, e.g. a home directory on several machines)."""
    seen = cpu_model() + " " + " ".join(sorted(cpu_flags()))
    return "rnnkit_scan_" + hashlib.sha256(seen.encode()).hexdigest()[:10]


def _build():
    if os.environ.get(NO_EXT, "") not in ("", "0"):
        return None
    try:
        from torch.utils.cpp_extension import load

        sources = [str(p) for p in _SOURCES]
        try:  # the vector instructions of this CPU, in a build named for it
            return _load(load, _native_name(), sources, ["-O3", "-march=native"])
        except Exception:  # a compiler without -march=native: the portable build
            return _load(load, "rnnkit_scan", sources, ["-O3"])
    except Exception as exc:  # compiler or ninja missing: fall back, but say so
        warnings.warn(
            f"rnnkit: C++ LSTM/GRU kernel unavailable ({type(exc).__name__}: {exc}); using the Python kernel",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def _load(load, name: str, sources: list[str], flags: list[str]):
    """torch's ``load`` into ``<torch's build root>/rnnkit-py<version>/<name>``, under
    :func:`build_lock`."""
    from torch.utils.cpp_extension import get_default_build_root

    folder = Path(get_default_build_root()) / f"rnnkit-py{sys.version_info[0]}{sys.version_info[1]}" / name
    folder.mkdir(parents=True, exist_ok=True)
    with build_lock(folder):
        return load(name=name, sources=sources, extra_cflags=flags, build_directory=str(folder), verbose=False)


@contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/rnnkit.lock`` (``flock``) for a build; remove torch's ``folder/lock`` when it
    is found then, since only a killed process leaves it (see the module docstring). Where
    ``fcntl`` is missing (Windows), torch's own lock alone."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(folder / "rnnkit.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        stale = folder / "lock"
        if stale.exists():
            stale.unlink(missing_ok=True)
            print(f"note: removed {stale}, left by a build that was killed", file=sys.stderr)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
