"""Multi-layer RNN, LSTM and GRU with ``torch.nn``'s interface.

Legend: L sequence length, N batch, H_in input size, H hidden size,
H_out = proj_size if proj_size > 0 else H, D = 2 if bidirectional else 1.

Two implementations share the same parameters:

* ``impl="fused"``: torch's own fused recurrent ops (oneDNN or native on CPU,
  cuDNN on GPU), the same kernels ``torch.nn`` uses.
* ``impl="reference"``: rnnkit's first-principles recurrence
  (:mod:`rnnkit.nn.reference`, :mod:`rnnkit.nn.kernels`): the input projection
  of all steps in one matmul, then a step loop with a hand-written backward.
  Gate introspection (:meth:`RNNBase.trace`) always uses it.
* ``impl="auto"`` (default): whichever of the two a timed trial on this
  machine found faster for the call's shape, cached (:mod:`rnnkit.nn.choose`).

Parameters are named and shaped exactly as in ``torch.nn``
(``weight_ih_l{k}{_reverse}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``, ``weight_hr_l{k}``), so state dicts load both ways.

This module holds the public classes; their parameters (names, shapes,
initialisation, weight-drop, cuDNN's flat buffer) are
:class:`~rnnkit.nn.weights.LayerWeights`, how a call runs (layouts, initial
state, which kernel) is :mod:`rnnkit.nn.dispatch`, and what differs between
the recurrences is their :class:`~rnnkit.nn.specs.CellSpec`.
"""

from __future__ import annotations

from typing import Union

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from . import dispatch
from .checks import IMPLS, check_layer_config  # noqa: F401  (IMPLS: kept importable from here)
from .specs import CELLS, elman_mode
from .weights import LayerWeights


class RNNBase(LayerWeights):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (their parameters:
    :class:`~rnnkit.nn.weights.LayerWeights`)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        impl: str = "auto",
        device=None,
        dtype=None,
        *,
        weight_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        spec = CELLS[mode]
        check_layer_config(spec, input_size, hidden_size, num_layers, dropout, proj_size, impl, weight_dropout)
        self.weight_dropout = float(weight_dropout)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        self.impl = impl
        self._make_weights(device, dtype)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for key, default in (
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            ("proj_size", 0),
            ("impl", "auto"),
            ("weight_dropout", 0.0),
        ):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)!r}"
        if self.spec.nonlinearity not in (None, "tanh"):  # tanh is RNN's default
            s += f", nonlinearity={self.spec.nonlinearity!r}"
        return s

    # ---------------------------------------------------------------- forward
    def forward(self, input: Union[Tensor, PackedSequence], hx=None, lengths=None):
        """Run the layer. Returns ``(output, h_n)`` (RNN, GRU) or ``(output, (h_n, c_n))`` (LSTM).

        Inputs:
            input: ``(L, N, H_in)`` (``(N, L, H_in)`` if batch_first), unbatched ``(L, H_in)``,
                or a ``PackedSequence``.
            hx: initial state ``(D*num_layers, N, H_out)``; for LSTM a tuple ``(h_0, c_0)`` with
                ``c_0 (D*num_layers, N, H)``. None means zeros.
            lengths: optional ``(N,)`` valid lengths of a padded batch; padding never reaches the
                outputs (zeros there) nor the final states.
        Outputs:
            output: ``(L, N, D*H_out)`` (or batch_first / unbatched / packed, like the input).
            h_n: ``(D*num_layers, N, H_out)``; c_n: ``(D*num_layers, N, H)``.
        """
        output, state, _ = dispatch.run(self, input, hx, lengths, trace=False)
        return output, state

    def trace(self, input: Union[Tensor, PackedSequence], hx=None, lengths=None):
        """Forward pass that also returns every step's gate activations.

        Runs the first-principles path (which computes the gates anyway) and returns
        ``(output, state, gates)``; ``gates`` maps a name to a tensor of shape
        ``(D*num_layers, L, N, H)`` (``(D*num_layers, N, L, H)`` if batch_first; without N for
        unbatched input), zero at padded steps. Names: LSTM ``i, f, g, o`` and the cell
        state ``c``; GRU ``r, z, n``; RNN ``h`` (the hidden state itself).
        """
        return dispatch.run(self, input, hx, lengths, trace=True)


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, act tanh or relu.

    Args: ``input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, impl='auto'``, keyword-only ``weight_dropout=0.0`` (DropConnect on ``weight_hh``, see :meth:`RNNBase.run_weights`).
    Inputs/outputs as :meth:`RNNBase.forward`. Attributes: ``weight_ih_l{k} (H, H_in)``
    (``(H, D*H)`` for k > 0), ``weight_hh_l{k} (H, H)``, ``bias_ih_l{k}, bias_hh_l{k} (H,)``.

    Example:
        >>> rnn = RNN(10, 20, num_layers=2)
        >>> out, h_n = rnn(torch.randn(5, 3, 10))     # (5, 3, 20), (2, 3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        impl: str = "auto",
        device=None,
        dtype=None,
        *,
        weight_dropout: float = 0.0,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(
            elman_mode(nonlinearity),
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            impl,
            device,
            dtype,
            weight_dropout=weight_dropout,
        )


class LSTM(RNNBase):
    """Long short-term memory, torch gate order ``i, f, g, o``::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)              (then h_t = W_hr h_t if proj_size > 0)

    Args: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0, impl='auto'``, keyword-only ``weight_dropout=0.0`` (DropConnect on ``weight_hh``, see :meth:`RNNBase.run_weights`).
    Attributes: ``weight_ih_l{k} (4H, H_in)``, ``weight_hh_l{k} (4H, H_out)``, biases ``(4H,)``,
    ``weight_hr_l{k} (proj_size, H)``; rows stacked in the order i, f, g, o.

    Example:
        >>> lstm = LSTM(10, 20, num_layers=2, batch_first=True)
        >>> out, (h_n, c_n) = lstm(torch.randn(3, 5, 10))   # (3, 5, 20), (2, 3, 20) each
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        impl: str = "auto",
        device=None,
        dtype=None,
        *,
        weight_dropout: float = 0.0,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            impl,
            device,
            dtype,
            weight_dropout=weight_dropout,
        )


class GRU(RNNBase):
    """Gated recurrent unit, torch gate order ``r, z, n``::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    (torch's convention: the reset gate multiplies ``W_hn h + b_hn``, not ``h``.)
    Args: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, impl='auto'``, keyword-only ``weight_dropout=0.0`` (DropConnect on ``weight_hh``, see :meth:`RNNBase.run_weights`). Attributes: ``weight_ih_l{k} (3H, H_in)``,
    ``weight_hh_l{k} (3H, H)``, biases ``(3H,)``; rows stacked r, z, n.

    Example:
        >>> gru = GRU(10, 20, bidirectional=True)
        >>> out, h_n = gru(torch.randn(5, 3, 10))     # (5, 3, 40), (2, 3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        impl: str = "auto",
        device=None,
        dtype=None,
        *,
        weight_dropout: float = 0.0,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            impl,
            device,
            dtype,
            weight_dropout=weight_dropout,
        )
