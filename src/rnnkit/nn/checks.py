"""Input validation shared by cells and layers: errors name the argument,
what was expected and what was received."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def shape_str(shape: Sequence[int]) -> str:
    """Shape as Python writes a tuple: ``(3,)``, ``(2, 5)``."""
    return str(tuple(int(s) for s in shape))


def check_input(name: str, x: Tensor, input_size: int, ranks: tuple[int, ...], layout: str) -> None:
    """``x`` has one of ``ranks`` dimensions and ``input_size`` features (last dim)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name}: expected input to be a Tensor, got {type(x).__name__}")
    if x.dim() not in ranks:
        wanted = " or ".join(str(r) for r in ranks)
        raise ValueError(f"{name}: expected input with {wanted} dimensions {layout}, "
                         f"got {x.dim()} dimensions with shape {shape_str(x.shape)}")
    if x.shape[-1] != input_size:
        raise ValueError(f"{name}: expected input with {input_size} features (input_size), "
                         f"got {x.shape[-1]}; input shape {shape_str(x.shape)}")


def check_like(name: str, arg: str, t: Tensor, ref: Tensor) -> None:
    """``t`` has the dtype and device of the parameters (``ref``)."""
    if t.dtype != ref.dtype:
        raise ValueError(f"{name}: {arg} has dtype {t.dtype} but the parameters have dtype {ref.dtype}; "
                         f"convert one of them (e.g. module.to({t.dtype}) or {arg}.to({ref.dtype}))")
    if t.device != ref.device:
        raise ValueError(f"{name}: {arg} is on device {t.device} but the parameters are on {ref.device}")


def check_state(name: str, arg: str, t: Tensor, expected: Sequence[int], ref: Tensor) -> None:
    """A hidden/cell state has exactly the ``expected`` shape, dtype and device."""
    if not isinstance(t, Tensor):
        raise ValueError(f"{name}: expected {arg} to be a Tensor, got {type(t).__name__}")
    if tuple(t.shape) != tuple(expected):
        raise ValueError(f"{name}: expected {arg} of shape {shape_str(expected)}, got {shape_str(t.shape)}")
    check_like(name, arg, t, ref)


def check_lengths(name: str, lengths, batch: int, seq_len: int) -> Tensor:
    """Lengths are ``(N,)`` integers in ``[1, seq_len]``; returns them as a CPU int64 tensor."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(f"{name}: expected lengths of shape ({batch},) (one per sequence), "
                         f"got {shape_str(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"{name}: expected integer lengths, got dtype {lengths.dtype}")
    lengths = lengths.to("cpu", torch.int64)
    too_long = (lengths > seq_len).nonzero()
    if too_long.numel():
        k = int(too_long[0])
        raise ValueError(f"{name}: lengths[{k}] = {int(lengths[k])} is longer than the sequence "
                         f"length {seq_len} of the input")
    empty = (lengths < 1).nonzero()
    if empty.numel():
        k = int(empty[0])
        raise ValueError(f"{name}: lengths[{k}] = {int(lengths[k])}; every sequence needs at least one step")
    return lengths

