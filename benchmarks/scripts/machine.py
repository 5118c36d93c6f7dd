"""The machine a figure was measured on, as JSON: CPU model and the flags that change kernels,
cores, memory, torch, and the commit.

    python benchmarks/scripts/machine.py > benchmarks/results/machines/machine_DATE.json
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def lscpu() -> dict[str, str]:
    """lscpu's ``key: value`` lines (empty where lscpu is missing)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


def machine() -> dict:
    import torch

    info = lscpu()
    flags = set(info.get("Flags", "").split())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu_model": info.get("Model name", platform.processor()),
        "cores": os.cpu_count(),
        "flags": {f: f in flags for f in FLAGS},
        "memory_gib": round(memory, 1),
        "gpu": torch.cuda.is_available(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "commit": commit,
        "tree_dirty": dirty,
    }


if __name__ == "__main__":
    json.dump(machine(), sys.stdout, indent=1)
    print()
