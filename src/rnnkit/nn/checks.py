"""Input validation shared by cells and layers: errors name the argument,
what was expected and what was received."""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

IMPLS = ("auto", "fused", "reference")
"""Accepted values of a layer's ``impl``: see :mod:`rnnkit.nn.rnn`."""


def shape_str(shape: Sequence[int]) -> str:
    """Shape as Python writes a tuple: ``(3,)``, ``(2, 5)``."""
    return str(tuple(int(s) for s in shape))


def check_input(name: str, x: Tensor, input_size: int, ranks: tuple[int, ...], layout: str) -> None:
    """``x`` has one of ``ranks`` dimensions and ``input_size`` features (last dim)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name}: expected input to be a Tensor, got {type(x).__name__}")
    if x.dim() not in ranks:
        wanted = " or ".join(str(r) for r in ranks)
        raise ValueError(
            f"{name}: expected input with {wanted} dimensions {layout}, "
            f"got {x.dim()} dimensions with shape {shape_str(x.shape)}"
        )
    if x.shape[-1] != input_size:
        raise ValueError(
            f"{name}: expected input with {input_size} features (input_size), "
            f"got {x.shape[-1]}; input shape {shape_str(x.shape)}"
        )


def under_autocast(value, ref: Tensor):
    """Under autocast, floating tensors in ``value`` (a tensor, a PackedSequence, a tuple/list of
    them or None) in the parameters' dtype (``ref``): a layer fed by an autocast layer (bf16) then
    runs as inside ``torch.nn``'s own autocast (its products in bf16, where autocast puts them).
    Outside autocast ``value`` is returned unchanged, so a dtype mismatch is still an error."""
    if not torch.is_autocast_enabled(ref.device.type):
        return value
    if isinstance(value, Tensor):
        return value.to(ref.dtype) if value.is_floating_point() and value.dtype != ref.dtype else value
    if isinstance(value, PackedSequence):
        return value._replace(data=under_autocast(value.data, ref))
    if isinstance(value, (tuple, list)):
        return type(value)(under_autocast(v, ref) for v in value)
    return value


def check_like(name: str, arg: str, t: Tensor, ref: Tensor) -> None:
    """``t`` has the dtype and device of the parameters (``ref``)."""
    if t.dtype != ref.dtype:
        raise ValueError(
            f"{name}: {arg} has dtype {t.dtype} but the parameters have dtype {ref.dtype}; "
            f"convert one of them (e.g. module.to({t.dtype}) or {arg}.to({ref.dtype}))"
        )
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
        raise ValueError(
            f"{name}: expected lengths of shape ({batch},) (one per sequence), got {shape_str(lengths.shape)}"
        )
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"{name}: expected integer lengths, got dtype {lengths.dtype}")
    lengths = lengths.to("cpu", torch.int64)
    too_long = (lengths > seq_len).nonzero()
    if too_long.numel():
        k = int(too_long[0])
        raise ValueError(
            f"{name}: lengths[{k}] = {int(lengths[k])} is longer than the sequence length {seq_len} of the input"
        )
    empty = (lengths < 1).nonzero()
    if empty.numel():
        k = int(empty[0])
        raise ValueError(f"{name}: lengths[{k}] = {int(lengths[k])}; every sequence needs at least one step")
    return lengths


def check_layer_config(spec, input_size, hidden_size, num_layers, dropout, proj_size, impl, weight_dropout) -> None:
    """A layer's constructor arguments, for the cell described by ``spec`` (a ``CellSpec``).

    Raises ValueError for a bad value; warns when ``dropout`` has no layer to act between.
    """
    name = spec.name
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
        raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
    if proj_size < 0 or proj_size >= hidden_size and proj_size != 0:
        raise ValueError(f"{name}: proj_size must be 0 or in [1, hidden_size={hidden_size}), got {proj_size}")
    if impl not in IMPLS:
        raise ValueError(f"{name}: impl must be one of {IMPLS}, got {impl!r}")
    if not 0 <= weight_dropout < 1:
        raise ValueError(f"{name}: weight_dropout must be a number in [0, 1), got {weight_dropout!r}")
    if proj_size and not spec.projection:
        raise ValueError(f"{name}: proj_size is only supported by LSTM")
    if dropout > 0 and num_layers == 1:  # stacklevel: here, RNNBase, RNN/LSTM/GRU, the caller
        warnings.warn(
            f"{name}: dropout={dropout} has no effect with num_layers=1 (it is applied between layers)", stacklevel=4
        )
