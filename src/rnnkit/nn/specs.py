"""One description per recurrence: everything that tells an LSTM from a GRU or an Elman RNN.

The layers (:mod:`rnnkit.nn.rnn`), their execution (:mod:`rnnkit.nn.dispatch`,
:mod:`rnnkit.nn.reference`) and the cells (:mod:`rnnkit.nn.cells`) read the
:class:`CellSpec` of their mode from :data:`CELLS` instead of testing mode
strings. A new cell variant is one more entry here, plus its one-step function
(:mod:`rnnkit.nn.functional`) and its sequence kernel (:mod:`rnnkit.nn.reference`).

Legend: S total packed rows, N batch, H_in input size, H hidden size,
H_out output size (``proj_size`` or H), G gates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import torch
from torch import nn

from . import functional as RF
from . import traces as T
from .reference import gru_scan, lstm_scan, rnn_scan


@dataclass(frozen=True)
class CellSpec:
    """What one recurrence needs to be built, run, traced and checked.

    Attributes:
        mode: key in :data:`CELLS`, spelled as ``torch.nn.RNNBase.mode``.
        name: the class name errors start with (``"LSTM"``, ``"GRU"``, ``"RNN"``).
        gates: G, the row blocks of ``weight_ih (G*H, H_in)``, ``weight_hh (G*H, H_out)``
            and the biases ``(G*H,)``.
        gate_names: the order of those G blocks (torch's); ``trace`` reports each activated
            gate under its name. Empty when the blocks are not gates (Elman: the one block
            is the new state itself).
        state_names: the initial states, in the order ``hx`` holds them; their number is the
            state arity. The first state is ``(D*num_layers, N, H_out)``, any further one
            ``(D*num_layers, N, H)``.
        traced_states: the names ``trace`` gives the state tensors a kernel reports beside
            its gates (LSTM ``c``; Elman ``h``).
        nonlinearity: the Elman activation (``"tanh"`` or ``"relu"``); None for gated cells,
            whose activations are fixed by their equations.
        fused: torch's fused op for the fast path (``torch._VF.lstm``, ...).
        cudnn_mode: the mode number of ``torch._cudnn_rnn_flatten_weight``.
        step: one time step, ``step(x (N, H_in), state, w_ih, w_hh, b_ih, b_hh) -> state``,
            each state tensor ``(N, H)``; what the cells run.
        scan: one layer and direction over packed rows,
            ``scan(x (S, H_in), state, weights, batch_sizes, reverse)
            -> (out (S, H_out), final state, gates (S, G*H) or None, traced states)``.
        sigmoid_gates: the gates squashed into (0, 1) by a sigmoid (LSTM ``i, f, o``; GRU
            ``r, z``): those whose saturation means shut or open.
        torch_layer: the ``torch.nn`` class with the same parameters (``nn.LSTM``, ...).
        onnx_gates: torch's gate blocks in the order of ONNX's operator of the same name
            (``name``): LSTM ``i, o, f, c`` = ``(0, 3, 1, 2)``, GRU ``z, r, h`` = ``(1, 0, 2)``.
        onnx_attributes: what that operator needs to compute torch's recurrence, as
            ``(keyword, value)`` pairs for ``g.op`` (GRU ``linear_before_reset_i=1``); an Elman
            RNN's activation comes from ``nonlinearity``.
        hidden_of: ``hidden_of(record) -> h (K, L, H)``, the hidden state implied by a
            :meth:`~rnnkit.nn.RNNBase.trace` record of ``(K, L, H)`` tensors
            (:mod:`rnnkit.nn.traces`).
        jacobian_paths: ``jacobian_paths(record) -> (carry or None, candidate, block)``: the two
            paths of the recurrent Jacobian per unit and step, and the ``weight_hh`` gate block
            the candidate goes through (:mod:`rnnkit.nn.traces`).
        projection: whether the layer accepts ``proj_size > 0``.
    """

    mode: str
    name: str
    gates: int
    gate_names: tuple[str, ...]
    state_names: tuple[str, ...]
    traced_states: tuple[str, ...]
    nonlinearity: Optional[str]
    fused: Callable
    cudnn_mode: int
    step: Callable
    scan: Callable
    sigmoid_gates: tuple[str, ...]
    torch_layer: type
    onnx_gates: tuple[int, ...]
    onnx_attributes: tuple[tuple[str, int], ...]
    hidden_of: Callable
    jacobian_paths: Callable
    projection: bool = False

    @property
    def state_arity(self) -> int:
        """Number of state tensors: 2 for LSTM (``h, c``), 1 otherwise."""
        return len(self.state_names)

    @property
    def trace_names(self) -> tuple[str, ...]:
        """Keys of the gate record :meth:`rnnkit.nn.RNNBase.trace` returns, in order."""
        return self.gate_names + self.traced_states

    @property
    def gated(self) -> bool:
        """Whether the blocks are gates (LSTM, GRU): what chrono initialisation sets."""
        return self.gates > 1

    @property
    def has_forget_gate(self) -> bool:
        """Whether the cell has an LSTM forget gate ``f`` (what a forget-gate bias sets)."""
        return "f" in self.gate_names


def elman_mode(nonlinearity: str) -> str:
    """The mode of an Elman RNN with activation ``nonlinearity``: ``RNN_TANH`` or ``RNN_RELU``."""
    return "RNN_" + nonlinearity.upper()


def _elman(nonlinearity: str, fused: Callable, cudnn_mode: int) -> CellSpec:
    """The Elman RNN with activation ``nonlinearity`` (``"tanh"`` or ``"relu"``)."""
    return CellSpec(
        mode=elman_mode(nonlinearity),
        name="RNN",
        gates=1,
        gate_names=(),
        state_names=("h_0",),
        traced_states=("h",),
        nonlinearity=nonlinearity,
        fused=fused,
        cudnn_mode=cudnn_mode,
        step=partial(RF.rnn_step, nonlinearity=nonlinearity),
        scan=partial(rnn_scan, nonlinearity=nonlinearity),
        sigmoid_gates=(),
        torch_layer=nn.RNN,
        onnx_gates=(0,),
        onnx_attributes=(),
        hidden_of=T.elman_hidden,
        jacobian_paths=partial(T.elman_paths, nonlinearity=nonlinearity),
    )


_LSTM = CellSpec(
    mode="LSTM",
    name="LSTM",
    gates=4,
    gate_names=("i", "f", "g", "o"),
    state_names=("h_0", "c_0"),
    traced_states=("c",),
    nonlinearity=None,
    fused=torch._VF.lstm,
    cudnn_mode=2,
    step=RF.lstm_step,
    scan=lstm_scan,
    sigmoid_gates=("i", "f", "o"),
    torch_layer=nn.LSTM,
    onnx_gates=(0, 3, 1, 2),
    onnx_attributes=(),
    hidden_of=T.lstm_hidden,
    jacobian_paths=T.lstm_paths,
    projection=True,
)

_GRU = CellSpec(
    mode="GRU",
    name="GRU",
    gates=3,
    gate_names=("r", "z", "n"),
    state_names=("h_0",),
    traced_states=(),
    nonlinearity=None,
    fused=torch._VF.gru,
    cudnn_mode=3,
    step=RF.gru_step,
    scan=gru_scan,
    sigmoid_gates=("r", "z"),
    torch_layer=nn.GRU,
    onnx_gates=(1, 0, 2),
    onnx_attributes=(("linear_before_reset_i", 1),),
    hidden_of=T.gru_hidden,
    jacobian_paths=T.gru_paths,
)

_RNN_TANH = _elman("tanh", torch._VF.rnn_tanh, cudnn_mode=1)
_RNN_RELU = _elman("relu", torch._VF.rnn_relu, cudnn_mode=0)

CELLS: dict[str, CellSpec] = {spec.mode: spec for spec in (_LSTM, _GRU, _RNN_TANH, _RNN_RELU)}
"""Every recurrence rnnkit implements, by mode."""
