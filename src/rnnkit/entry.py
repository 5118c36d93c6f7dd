"""The ``rnnkit`` command's entry point: process settings that must come before torch allocates
anything, then :func:`rnnkit.cli.main`.

* ``THP_MEM_ALLOC_ENABLE=1`` (unless already set): torch's CPU allocator puts tensors of 2 MB
  and more in transparent huge pages (Linux). torch reads the variable once, at its first
  allocation, so it is set here, before anything imports torch. Without it a training step
  that stores large activations (pixel-MNIST: 784 steps of a batch of 128) spends a large part
  of its time on the first touch of fresh 4 KB pages; measured in docs/engine.md. Set
  ``THP_MEM_ALLOC_ENABLE=0`` to turn it off.
* The heap is kept (glibc only, unless ``RNNKIT_KEEP_HEAP=0``): by default glibc serves every
  block above a threshold with its own ``mmap`` and unmaps it when freed, so each training step
  gets its large activations and gradients in fresh pages from the kernel and pays a page fault
  per page touched again (the pixel-MNIST step's time alternated between ~380 and ~700 ms with
  it). :func:`keep_heap` tells glibc (``mallopt``) to serve large blocks from its heap and not to
  give freed memory back, so later steps reuse pages already mapped: the process's resident
  memory stays at its peak, as with torch's caching allocator on a GPU.
"""

from __future__ import annotations

import ctypes
import os

KEEP_HEAP = "RNNKIT_KEEP_HEAP"
#: glibc's mallopt parameters (malloc.h): no mmap'ed blocks, never trim the heap
M_MMAP_MAX, M_TRIM_THRESHOLD = -4, -1


def keep_heap() -> bool:
    """Ask glibc to keep large blocks in its heap and freed memory in the process (see the module
    docstring); False where it is not glibc, where ``RNNKIT_KEEP_HEAP=0`` or where glibc refuses."""
    if os.environ.get(KEEP_HEAP, "1") == "0":
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):  # not glibc: no such confstr name or symbol
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))


def main() -> int:
    """Run the ``rnnkit`` command (``sys.argv``); returns the exit code."""
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    keep_heap()
    from rnnkit.cli import main as cli_main

    return cli_main()
