"""Reading a gate record (:meth:`rnnkit.nn.RNNBase.trace`), one function per recurrence.

Analysis tools get these through the layer's :class:`~rnnkit.nn.specs.CellSpec`
(``spec.hidden_of``, ``spec.jacobian_paths``) instead of testing cell names.

A *record* maps the names of :attr:`CellSpec.trace_names` to tensors of one
shape: ``(K, L, H)`` (K layers, L steps, H units) for the hidden state, any
shape for the Jacobian paths (they are elementwise).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

Paths = tuple[Optional[Tensor], Tensor, int]


def lstm_hidden(record: dict[str, Tensor]) -> Tensor:
    """``h_t = o_t * tanh(c_t)``: (K, L, H)."""
    return record["o"] * torch.tanh(record["c"])


def gru_hidden(record: dict[str, Tensor]) -> Tensor:
    """GRU hidden states from its gates: ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}``, ``h_0 = 0``.

    Args: record with z, n ``(K, L, H)``. Returns: h ``(K, L, H)``.
    """
    z, n = record["z"], record["n"]
    h, prev = torch.empty_like(n), n.new_zeros(n.shape[0], n.shape[2])
    for t in range(n.shape[1]):
        prev = (1 - z[:, t]) * n[:, t] + z[:, t] * prev
        h[:, t] = prev
    return h


def elman_hidden(record: dict[str, Tensor]) -> Tensor:
    """An Elman RNN's record holds ``h`` itself."""
    return record["h"]


# The recurrent Jacobian d h_s / d h_{s-1} of each recurrence, with every diagonal factor
# replaced by its mean, is ``mean(carry) + mean(candidate) * W_hh[block]`` (a first-order
# estimate that ignores the paths through the other gates). Each function returns
# ``(carry or None, candidate, block)``: the carry and candidate factors per unit and step,
# and the index of the gate block of ``weight_hh`` the candidate path goes through.


def lstm_paths(record: dict[str, Tensor]) -> Paths:
    """Memory path ``d c_s / d c_{s-1} = f_s``; candidate ``o tanh'(c) i g'`` through ``W_hg``
    (block 2 of i, f, g, o)."""
    candidate = record["o"] * (1 - record["c"].tanh().pow(2)) * record["i"] * (1 - record["g"].pow(2))
    return record["f"], candidate, 2


def gru_paths(record: dict[str, Tensor]) -> Paths:
    """Carry path z (torch's ``h_s = (1 - z) n + z h_{s-1}``); candidate ``(1 - z) n' r`` through
    ``W_hn`` (block 2 of r, z, n)."""
    candidate = (1 - record["z"]) * (1 - record["n"].pow(2)) * record["r"]
    return record["z"], candidate, 2


def elman_paths(record: dict[str, Tensor], nonlinearity: str) -> Paths:
    """No carry; ``phi'(a_s)`` through the whole ``W_hh``: tanh' = 1 - h^2, ReLU' = 1 where h > 0."""
    h = record["h"]
    slope = (h > 0).double() if nonlinearity == "relu" else 1 - h.pow(2)
    return None, slope, 0
