"""Optional C++ build of the LSTM and GRU kernels (``csrc/lstm_scan.cpp``, ``csrc/gru_scan.cpp``,
their shared walk in ``csrc/scan_walk.h``, entry points in ``csrc/module.cpp``), compiled on
first use.

The C++ code is the same algorithm as :class:`rnnkit.nn.kernels.LSTMScan` and ``GRUScan``: the
whole sequence of one layer and direction in one call each way; it removes the per-step Python
overhead that dominates at small sizes. It is built with
``torch.utils.cpp_extension.load`` (needs a C++ compiler and ninja) into torch's extension
cache, once per machine. If the build fails, or ``RNNKIT_NO_EXT=1`` is set, the pure-Python
kernel is used and a warning says why.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

NO_EXT = "RNNKIT_NO_EXT"
_SOURCES = [Path(__file__).with_name("csrc") / name for name in ("lstm_scan.cpp", "gru_scan.cpp", "module.cpp")]
_state: dict = {}


def lstm_extension():
    """The compiled module, or None when unavailable (reason warned once)."""
    if "module" not in _state:
        _state["module"] = _build()
    return _state["module"]


def _build():
    if os.environ.get(NO_EXT, "") not in ("", "0"):
        return None
    try:
        from torch.utils.cpp_extension import load

        return load(name="rnnkit_scan", sources=[str(p) for p in _SOURCES], extra_cflags=["-O3"], verbose=False)
    except Exception as exc:  # compiler or ninja missing: fall back, but say so
        warnings.warn(
            f"rnnkit: C++ LSTM/GRU kernel unavailable ({type(exc).__name__}: {exc}); using the Python kernel",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
