"""Single-step cells with ``torch.nn``'s interface and parameter names.

Legend: N batch, H_in input size, H hidden size. Input ``(N, H_in)`` or
unbatched ``(H_in,)``; state ``(N, H)`` or ``(H,)``; ``hx=None`` means zeros.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from .checks import check_input, check_like, check_state, under_autocast
from .specs import CELLS, CellSpec, elman_mode


class _CellBase(nn.Module):
    """Parameters, checks and the step of one cell; ``mode`` picks its :class:`~rnnkit.nn.specs.CellSpec`."""

    mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive, "
                f"got {input_size} and {hidden_size}"
            )
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

    @property
    def spec(self) -> CellSpec:
        """The description of this cell's recurrence (:data:`rnnkit.nn.specs.CELLS`)."""
        return CELLS[self.mode]

    @property
    def gates(self) -> int:
        """Number of gates G: ``weight_ih`` is ``(G*H, H_in)``."""
        return self.spec.gates

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _prepare(self, x: Tensor, states: tuple[Optional[Tensor], ...]) -> tuple[Tensor, list[Tensor], bool]:
        """Validate, add the batch dim to unbatched input, and fill missing states with zeros."""
        name = type(self).__name__
        x, states = under_autocast(x, self.weight_ih), under_autocast(states, self.weight_ih)
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

    def _step(self, input: Tensor, states: tuple[Optional[Tensor], ...]) -> tuple[Tensor, ...]:
        """``spec.step`` on validated input ``(N, H_in)`` / ``(H_in,)``; new states ``(N, H)`` / ``(H,)``."""
        x, filled, batched = self._prepare(input, states)
        new = self.spec.step(x, tuple(filled), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return new if batched else tuple(s.squeeze(0) for s in new)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """Elman cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act tanh or relu.

    Example:
        >>> cell = RNNCell(10, 20, nonlinearity="relu")
        >>> h = cell(torch.randn(3, 10))          # (3, 20)
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None, dtype=None
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    @property
    def mode(self) -> str:
        """``"RNN_TANH"`` or ``"RNN_RELU"``, after ``nonlinearity``."""
        return elman_mode(self.nonlinearity)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        """``input (N, H_in)``, ``hx (N, H)`` or None -> ``h' (N, H)`` (unbatched: no N)."""
        (h,) = self._step(input, (hx,))
        return h


class LSTMCell(_CellBase):
    """LSTM cell, torch gate order ``i, f, g, o`` (equations: :func:`rnnkit.nn.functional.lstm_gates`).

    Inputs: ``input (N, H_in)``, ``hx = (h, c)`` each ``(N, H)`` or None.
    Outputs: ``(h', c')``. Attributes: ``weight_ih (4H, H_in)``, ``weight_hh (4H, H)``.
    """

    mode = "LSTM"

    def forward(self, input: Tensor, hx: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, Tensor]:
        """``input (N, H_in)``, ``hx = (h, c)`` each ``(N, H)`` or None -> ``(h', c')`` (unbatched: no N)."""
        h, c = self._step(input, hx if hx is not None else (None, None))
        return h, c


class GRUCell(_CellBase):
    """GRU cell, torch gate order ``r, z, n``; the reset gate multiplies
    ``W_hn h + b_hn`` (equations: :func:`rnnkit.nn.functional.gru_gates`).

    Attributes: ``weight_ih (3H, H_in)``, ``weight_hh (3H, H)``.
    """

    mode = "GRU"

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        """``input (N, H_in)``, ``hx (N, H)`` or None -> ``h' (N, H)`` (unbatched: no N)."""
        (h,) = self._step(input, (hx,))
        return h
