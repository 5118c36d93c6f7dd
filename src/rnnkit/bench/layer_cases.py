"""The cases ``rnnkit bench layers`` times and what it keeps of each.

:class:`Size` is one benchmark shape: a sequence-first input ``(seq, batch, input)`` into
``layers`` stacked layers of ``hidden`` units, timed ``repeats`` times (``quick_repeats``
with ``--quick``); :data:`SIZES` names them (a)-(d) and (p), :data:`QUICK_SIZES` those ``--quick``
runs. :class:`Result` holds one contender's per-repetition milliseconds at one (layer,
size) and their medians.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import torch
from torch import nn

from rnnkit.nn import choose


@dataclass(frozen=True)
class Size:
    """One benchmark shape (sequence-first input ``(seq, batch, input)``)."""

    name: str
    batch: int
    seq: int
    input: int
    hidden: int
    layers: int
    repeats: int
    quick_repeats: int

    def label(self) -> str:
        return f"{self.name}: N{self.batch} L{self.seq} I{self.input} H{self.hidden} x{self.layers}"


SIZES = {
    "a": Size("a", 64, 100, 128, 512, 2, repeats=9, quick_repeats=2),
    "b": Size("b", 20, 35, 650, 650, 2, repeats=21, quick_repeats=3),
    "c": Size("c", 32, 28, 28, 128, 1, repeats=41, quick_repeats=9),
    "d": Size("d", 1, 10, 3, 3, 1, repeats=301, quick_repeats=61),
    "p": Size("p", 128, 784, 1, 128, 1, repeats=7, quick_repeats=1),  # sequential MNIST read pixel by pixel
}
#: with ``--precision bf16``: rnnkit's default (``auto``) fwd+bwd in bf16 at most this times the fp32
#: ``torch.nn`` time, per size (issue 31: char-LM size (a) 0.7x; pixel MNIST (p) 1.5x faster)
BF16_LIMITS = {"a": 0.7, "p": 1 / 1.5}
QUICK_SIZES = ("c", "d")


@dataclass
class Result:
    """Raw and summarised timings of one contender at one (layer, size)."""

    layer: str
    size: str
    impl: str
    fwd_ms: list = field(default_factory=list)
    fwdbwd_ms: list = field(default_factory=list)
    flops_fwd: float = 0.0
    chose: dict = field(default_factory=dict)  # impl="auto": the kernel picked per mode (train/infer)

    def name(self) -> str:
        """``auto`` with the kernel it ran for forward+backward (``auto:ref`` for rnnkit's)."""
        if self.impl != "auto" or not self.chose:
            return self.impl
        return "auto:ref" if self.chose.get("train") == "reference" else "auto:fused"

    @property
    def fwd(self) -> float:
        return statistics.median(self.fwd_ms)

    @property
    def fwdbwd(self) -> float:
        return statistics.median(self.fwdbwd_ms)


def auto_choice(model: nn.Module, size: Size, precision: str) -> dict:
    """The kernel ``impl="auto"`` ran for a training and an inference call of this size."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    forced = choose.forced()
    chose = {}
    for mode in ("train", "infer"):
        with torch.set_grad_enabled(mode == "train"):
            key = choose.shape_key(model, size.batch, size.seq, dtype, torch.device("cpu"))
        answer = None if forced else choose.known(key)
        chose[mode] = forced or (answer["choice"] if answer else "fused")
    return chose
