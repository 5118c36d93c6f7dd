"""One time step of each recurrence, written from the equations.

These are the readable definitions; the cells use them directly (autograd
records them), and :mod:`rnnkit.nn.kernels` runs the same equations over a
whole sequence with a hand-written backward. Shapes: ``x (N, H_in)``,
``h, c (N, H)``; weights as in ``torch.nn`` (``W_ih (G*H, H_in)``,
``W_hh (G*H, H)``, biases ``(G*H,)``, G the number of gates).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def rnn_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act = tanh or relu."""
    pre = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_gates(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> dict[str, Tensor]:
    """All intermediate values of one LSTM step (torch gate order i, f, g, o).

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)         cell candidate
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate
    c' = f * c + i * g
    h' = o * tanh(c')
    """
    i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    return {"i": i, "f": f, "g": g, "o": o, "c": c_new, "h": o * torch.tanh(c_new)}


def lstm_cell(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> tuple[Tensor, Tensor]:
    """One LSTM step; returns ``(h', c')``. Equations in :func:`lstm_gates`."""
    values = lstm_gates(x, h, c, w_ih, w_hh, b_ih, b_hh)
    return values["h"], values["c"]


def gru_gates(
    x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None
) -> dict[str, Tensor]:
    """All intermediate values of one GRU step (torch gate order r, z, n).

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)      reset gate
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)      update gate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   candidate; torch's convention:
                                                     r multiplies W_hn h + b_hn
    h' = (1 - z) * n + z * h
    """
    xr, xz, xn = F.linear(x, w_ih, b_ih).chunk(3, dim=-1)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return {"r": r, "z": z, "n": n, "h": (1 - z) * n + z * h}


def gru_cell(
    x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None
) -> Tensor:
    """One GRU step; returns ``h'``. Equations in :func:`gru_gates`."""
    return gru_gates(x, h, w_ih, w_hh, b_ih, b_hh)["h"]


# Uniform signature for :attr:`rnnkit.nn.specs.CellSpec.step`: the state is a tuple
# ``(h,)`` or ``(h, c)`` of ``(N, H)`` tensors and so is the result.


def rnn_step(
    x: Tensor,
    state: tuple[Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
    nonlinearity: str = "tanh",
) -> tuple[Tensor]:
    """:func:`rnn_cell` on a state tuple: ``(h,) -> (h',)``."""
    (h,) = state
    return (rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity),)


def lstm_step(
    x: Tensor,
    state: tuple[Tensor, Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> tuple[Tensor, Tensor]:
    """:func:`lstm_cell` on a state tuple: ``(h, c) -> (h', c')``."""
    h, c = state
    return lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)


def gru_step(
    x: Tensor,
    state: tuple[Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> tuple[Tensor]:
    """:func:`gru_cell` on a state tuple: ``(h,) -> (h',)``."""
    (h,) = state
    return (gru_cell(x, h, w_ih, w_hh, b_ih, b_hh),)
