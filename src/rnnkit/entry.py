"""The ``rnnkit`` command's entry point: process settings that must come before torch allocates
anything, then :func:`rnnkit.cli.main`.

* ``THP_MEM_ALLOC_ENABLE=1`` (unless already set): torch's CPU allocator puts tensors of 2 MB
  and more in transparent huge pages (Linux). torch reads the variable once, at its first
  allocation, so it is set here, before anything imports torch. Without it a training step
  that stores large activations (pixel-MNIST: 784 steps of a batch of 128) spends a large part
  of its time on the first touch of fresh 4 KB pages; measured in docs/engine.md. Set
  ``THP_MEM_ALLOC_ENABLE=0`` to turn it off.
"""

from __future__ import annotations

import os


def main() -> int:
    """Run the ``rnnkit`` command (``sys.argv``); returns the exit code."""
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    from rnnkit.cli import main as cli_main

    return cli_main()
