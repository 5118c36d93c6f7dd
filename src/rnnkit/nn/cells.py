"""Single-step cells with ``torch.nn``'s interface and parameter names.

Legend: N batch, H_in input size, H hidden size. Input ``(N, H_in)`` or
unbatched ``(H_in,)``; state ``(N, H)`` or ``(H,)``; ``hx=None`` means zeros.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from . import functional as RF
from .checks import check_input, check_like, check_state


class _CellBase(nn.Module):
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: input_size and hidden_size must be positive, "
                             f"got {input_size} and {hidden_size}")
        kw = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **kw))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows, **kw))
            self.bias_hh = nn.Parameter(torch.empty(rows, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _prepare(self, x: Tensor, states: tuple[Optional[Tensor], ...]) -> tuple[Tensor, list[Tensor], bool]:
        """Validate, add the batch dim to unbatched input, and fill missing states with zeros."""
        name = type(self).__name__
        check_input(name, x, self.input_size, (1, 2), "(N, H_in) or (H_in,)")
        check_like(name, "input", x, self.weight_ih)
        batched = x.dim() == 2
        x = x if batched else x.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        filled = []
        for k, s in enumerate(states):
            arg = "hx" if len(states) == 1 else f"hx[{k}]"
            if s is None:
                s = x.new_zeros(x.shape[0], self.hidden_size)
            else:
                check_state(name, arg, s, expected, self.weight_ih)
                s = s if batched else s.unsqueeze(0)
            filled.append(s)
        return x, filled, batched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """Elman cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act tanh or relu.

    Example:
        >>> cell = RNNCell(10, 20, nonlinearity="relu")
        >>> h = cell(torch.randn(3, 10))          # (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        x, (h,), batched = self._prepare(input, (hx,))
        h = RF.rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """LSTM cell, torch gate order ``i, f, g, o`` (equations: :func:`rnnkit.nn.functional.lstm_gates`).

    Inputs: ``input (N, H_in)``, ``hx = (h, c)`` each ``(N, H)`` or None.
    Outputs: ``(h', c')``. Attributes: ``weight_ih (4H, H_in)``, ``weight_hh (4H, H)``.
    """
    gates = 4

    def forward(self, input: Tensor, hx: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._prepare(input, hx if hx is not None else (None, None))
        h, c = RF.lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """GRU cell, torch gate order ``r, z, n``; the reset gate multiplies
    ``W_hn h + b_hn`` (equations: :func:`rnnkit.nn.functional.gru_gates`).

    Attributes: ``weight_ih (3H, H_in)``, ``weight_hh (3H, H)``.
    """
    gates = 3

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        x, (h,), batched = self._prepare(input, (hx,))
        h = RF.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)
