"""Multi-layer RNN, LSTM and GRU with ``torch.nn``'s interface.

Legend: L sequence length, N batch, H_in input size, H hidden size,
H_out = proj_size if proj_size > 0 else H, D = 2 if bidirectional else 1.

Two implementations share the same parameters:

* ``impl="auto"`` (default) / ``"fused"``: torch's own fused recurrent ops
  (oneDNN or native on CPU, cuDNN on GPU), the same kernels ``torch.nn`` uses.
* ``impl="reference"``: rnnkit's first-principles recurrence
  (:mod:`rnnkit.nn.reference`, :mod:`rnnkit.nn.kernels`): the input projection
  of all steps in one matmul, then a step loop with a hand-written backward.
  Gate introspection (:meth:`RNNBase.trace`) always uses it.

Parameters are named and shaped exactly as in ``torch.nn``
(``weight_ih_l{k}{_reverse}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``, ``weight_hr_l{k}``), so state dicts load both ways.

This module holds the public classes; how a call runs (layouts, initial
state, which kernel) is :mod:`rnnkit.nn.dispatch`, and what differs between
the recurrences is their :class:`~rnnkit.nn.specs.CellSpec`.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from . import dispatch
from .checks import IMPLS, check_layer_config  # noqa: F401  (IMPLS: kept importable from here)
from .specs import CELLS, CellSpec, elman_mode

_WEIGHT_BASES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


class RNNBase(nn.Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU`."""

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
        self._flat_weights_names: list[str] = []
        kw = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            for direction in range(self.num_directions):
                for base, shape in self._weight_shapes(layer):
                    name = base + _suffix(layer, direction)
                    setattr(self, name, nn.Parameter(torch.empty(shape, **kw)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    # ----------------------------------------------------------------- set-up
    @property
    def spec(self) -> CellSpec:
        """The description of this layer's recurrence (:data:`rnnkit.nn.specs.CELLS`)."""
        return CELLS[self.mode]

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features per direction of the output (``H_out``)."""
        return self.proj_size or self.hidden_size

    def _weight_shapes(self, layer: int) -> list[tuple[str, tuple[int, ...]]]:
        """``(base name, shape)`` of one direction of ``layer``, in torch's flat order.

        ``weight_ih (G*H, H_in)`` (``H_in = D*H_out`` above the first layer), ``weight_hh (G*H, H_out)``,
        ``bias_ih, bias_hh (G*H,)`` if bias, ``weight_hr (proj_size, H)`` if proj_size.
        """
        gate_rows = self.spec.gates * self.hidden_size
        layer_in = self.input_size if layer == 0 else self.output_size * self.num_directions
        shapes = [("weight_ih", (gate_rows, layer_in)), ("weight_hh", (gate_rows, self.output_size))]
        if self.bias:
            shapes += [("bias_ih", (gate_rows,)), ("bias_hh", (gate_rows,))]
        if self.proj_size:
            shapes.append(("weight_hr", (self.proj_size, self.hidden_size)))
        return shapes

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flat_weights(self) -> list[Tensor]:
        """Parameters in torch's flat order: per layer, per direction ``w_ih, w_hh, b_ih, b_hh, w_hr``."""
        return [getattr(self, n) for n in self._flat_weights_names]

    def layer_weights(
        self, layer: int, direction: int, weights: Optional[dict[str, Tensor]] = None
    ) -> dict[str, Optional[Tensor]]:
        """One layer's parameters by base name (from ``weights`` when given)."""
        sfx = _suffix(layer, direction)
        source = weights if weights is not None else {n: getattr(self, n) for n in self._flat_weights_names}
        return {base: source.get(base + sfx) for base in _WEIGHT_BASES}

    def run_weights(self) -> dict[str, Tensor]:
        """The weights one forward call uses, in flat order.

        With ``weight_dropout`` in training mode, every ``weight_hh`` is
        DropConnect-ed (Wan et al., 2013; AWD-LSTM's weight-drop, Merity et
        al., 2018): one mask per call, so every time step of the batch uses
        the same dropped recurrent matrix. The dropped weights go to the same
        fused kernel, so the layer stays on the fast path.
        """
        named = {n: getattr(self, n) for n in self._flat_weights_names}
        if self.weight_dropout and self.training:
            for n in named:
                if n.startswith("weight_hh"):
                    named[n] = F.dropout(named[n], self.weight_dropout, training=True)
        return named

    def flatten_parameters(self) -> None:
        """On CUDA with cuDNN, put the weights in one contiguous chunk (as torch does) so
        cuDNN needs no copy; elsewhere nothing to do. (GPU path not yet measured.)"""
        weights = self.flat_weights()
        first = weights[0]
        if not (first.is_cuda and torch.backends.cudnn.is_acceptable(first)):
            return
        if len({(w.dtype, w.device) for w in weights}) != 1:
            return
        with torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                per_layer = (4 if self.bias else 2) + (1 if self.proj_size else 0)
                torch._cudnn_rnn_flatten_weight(
                    weights,
                    per_layer,
                    self.input_size,
                    self.spec.cudnn_mode,
                    self.hidden_size,
                    self.proj_size,
                    self.num_layers,
                    self.batch_first,
                    self.bidirectional,
                )

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

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


def _suffix(layer: int, direction: int) -> str:
    """torch's parameter name suffix: ``_l{layer}``, plus ``_reverse`` for the second direction."""
    return f"_l{layer}" + ("_reverse" if direction else "")
