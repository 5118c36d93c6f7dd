"""Training precision: ``--precision fp32|bf16|auto`` and the autocast it means.

* ``fp32``: no autocast anywhere.
* ``bf16``: ``torch.autocast`` with bfloat16 around each training step's forward and the
  validations (the parameters and the optimiser state stay float32; backward runs outside the
  autocast, as torch advises). On a CPU only where it computes in bf16 natively (the
  ``avx512_bf16`` or ``amx_bf16`` flag): elsewhere bf16 is emulated and many times slower than
  fp32 (20-47x for an LSTM on a Zen 3 machine), so it is refused unless
  ``RNNKIT_FORCE_BF16=1``. On CUDA where the GPU supports it.
* ``auto`` (the default): bf16 on a CUDA GPU that supports it, else fp32. On a CPU it keeps fp32
  for now, whatever the CPU: choosing bf16 there is to follow a timed check on the run's own
  shapes (issue 31), and until then a CPU run gives the same numbers as before ``--precision``.

:func:`resolve` returns the choice and the reason; a bf16 run prints both when it starts and logs
them in ``metrics.jsonl`` (an ``event`` line); ``config.json`` keeps what was asked for.
"""

from __future__ import annotations

import contextlib
import os

import torch

from rnnkit.nn.machine import cpu_flags

PRECISIONS = ("auto", "fp32", "bf16")
FORCE_BF16 = "RNNKIT_FORCE_BF16"
#: the CPU flags (Linux /proc/cpuinfo names) that mean native bf16 arithmetic
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16(flags: set[str] | None = None) -> list[str]:
    """The flags of :data:`BF16_FLAGS` this CPU has (empty: no native bf16, or flags unknown)."""
    flags = cpu_flags() if flags is None else flags
    return [flag for flag in BF16_FLAGS if flag in flags]


def resolve(precision: str, device: torch.device, flags: set[str] | None = None) -> tuple[str, str]:
    """(``fp32`` or ``bf16``, why) for ``--precision`` on ``device``; ValueError in one line when the
    device cannot give what was asked for. ``flags``: the CPU's (default: read them)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return "fp32", "asked for"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "this GPU supports bf16"
        if precision == "bf16":
            raise ValueError("precision: bf16 was asked for, but this GPU does not support it; use --precision fp32")
        return "fp32", "this GPU does not support bf16"
    if device.type != "cpu":
        if precision == "bf16":
            raise ValueError(f"precision: bf16 autocast on {device.type} is not supported by rnnkit; use fp32")
        return "fp32", f"{device.type}: fp32"
    if precision == "auto":
        return "fp32", "auto keeps fp32 on a CPU (bf16 there only with --precision bf16)"
    native = native_bf16(flags)
    if native:
        return "bf16", f"asked for; this CPU has {' and '.join(native)}"
    if os.environ.get(FORCE_BF16) == "1":
        return "bf16", f"asked for and forced with {FORCE_BF16}=1: this CPU has no native bf16, expect it to be slow"
    raise ValueError(
        "precision: bf16 was asked for, but this CPU has no native bf16 (no avx512_bf16 or amx_bf16 flag), "
        f"so it would be emulated and many times slower than fp32; use --precision fp32, or set {FORCE_BF16}=1"
    )


def autocast(used: str, device: torch.device):
    """The context a step's forward runs in: bf16 autocast on ``device``, or nothing for fp32."""
    if used == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def outside_autocast(device_type: str):
    """A context that turns autocast off (for backward and updates inside a step's forward block)."""
    if device_type in ("cuda", "cpu"):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()
