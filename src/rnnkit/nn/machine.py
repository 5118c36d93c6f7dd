"""What this CPU is: its model name and feature flags, as Linux reports them in /proc/cpuinfo.

Mixed precision (``rnnkit.train.precision``) reads the flags to know whether bf16 is native;
the kernel choice (:mod:`rnnkit.nn.choose`) keys its cache by both, so a timing measured on one
kind of machine is never reused on another.
"""

from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def _field(name: str) -> str:
    """The first value of ``name:`` in /proc/cpuinfo ('' where it cannot be read)."""
    try:
        text = CPUINFO.read_text(errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == name:
            return value.strip()
    return ""


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux names them (empty where they cannot be read)."""
    return set(_field("flags").split())


def cpu_model() -> str:
    """The CPU's model name (e.g. ``Intel(R) Xeon(R) Processor``; '' where unknown)."""
    return _field("model name")
