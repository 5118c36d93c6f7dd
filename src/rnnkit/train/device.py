"""Device choice, seeding, thread count and denormal numbers."""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; asking for a missing one is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES[1:]:
        raise ValueError(f"device: expected one of {', '.join(DEVICES)}, got {name!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for but torch sees no CUDA GPU")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device: 'mps' was asked for but it is not available")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device: expected e.g. cpu, cuda or cuda:1, got {name!r}") from None
    if kind == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device: {name!r} asked for, but torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python and torch (CPU and every GPU)."""
    random.seed(seed)
    torch.manual_seed(seed)


def set_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads (0 keeps torch's default)."""
    if threads < 0:
        raise ValueError(f"threads: expected >= 0 (0 = torch default), got {threads}")
    if threads:
        torch.set_num_threads(threads)


def denormals_flushed() -> bool:
    """Whether this CPU thread now treats denormal floats (below 1.2e-38) as zero."""
    return bool((torch.tensor(1e-39, dtype=torch.float32) * 2.0).item() == 0.0)


@contextmanager
def flushed_denormals(on: bool) -> Iterator[bool]:
    """Run the block with denormals flushed to zero (``on``) or kept (IEEE), where the CPU can.

    Gradients that shrink through hundreds of steps (a classifier reading 784 pixels and
    scoring only the final state) reach the denormal range, where x86 arithmetic is tens of
    times slower: one LSTM step of sequential MNIST took 3.9 s instead of 0.52 s (2 cores).
    The setting belongs to a thread: this one's is restored after the block. torch's intra-op
    workers take it from the thread that creates them (at the first parallel op), so a block
    entered before any parallel op covers them too, and they keep it. Yields whether flushing
    is in effect in this thread.
    """
    before = denormals_flushed()
    flushed = torch.set_flush_denormal(on) and on
    try:
        yield bool(flushed)
    finally:
        torch.set_flush_denormal(before)
