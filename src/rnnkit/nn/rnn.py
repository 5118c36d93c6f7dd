"""Multi-layer RNN, LSTM and GRU with ``torch.nn``'s interface.

Legend: L sequence length, N batch, H_in input size, H hidden size,
H_out = proj_size if proj_size > 0 else H, D = 2 if bidirectional else 1.

Two implementations share the same parameters:

* ``impl="auto"`` (default) / ``"fused"``: torch's own fused recurrent ops
  (oneDNN or native on CPU, cuDNN on GPU), the same kernels ``torch.nn`` uses.
* ``impl="reference"``: rnnkit's first-principles recurrence
  (:mod:`rnnkit.nn.kernels`): the input projection of all steps in one matmul,
  then a step loop with a hand-written backward. Gate introspection
  (:meth:`RNNBase.trace`) always uses it.

Parameters are named and shaped exactly as in ``torch.nn``
(``weight_ih_l{k}{_reverse}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``, ``weight_hr_l{k}``), so state dicts load both ways.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .checks import check_input, check_lengths, check_like, check_state
from .kernels import GRUScan, LSTMScan, RNNScan

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
_FUSED = {"LSTM": torch._VF.lstm, "GRU": torch._VF.gru,
          "RNN_TANH": torch._VF.rnn_tanh, "RNN_RELU": torch._VF.rnn_relu}
_CUDNN_MODE = {"RNN_RELU": 0, "RNN_TANH": 1, "LSTM": 2, "GRU": 3}
_GATE_NAMES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n"), "RNN_TANH": (), "RNN_RELU": ()}
IMPLS = ("auto", "fused", "reference")


class RNNBase(nn.Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU`."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, impl: str = "auto",
                 device=None, dtype=None, *, weight_dropout: float = 0.0) -> None:
        super().__init__()
        name = _display_name(mode)
        _check_config(name, input_size, hidden_size, num_layers, dropout, proj_size, impl)
        if not 0 <= weight_dropout < 1:
            raise ValueError(f"{name}: weight_dropout must be a number in [0, 1), got {weight_dropout!r}")
        self.weight_dropout = float(weight_dropout)
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size is only supported by LSTM")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} has no effect with num_layers=1 "
                          "(it is applied between layers)", stacklevel=3)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        self.impl = impl
        self._flat_weights_names: list[str] = []
        kw = {"device": device, "dtype": dtype}
        gate_rows = _GATES[mode] * hidden_size
        out_size = proj_size or hidden_size
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else out_size * self.num_directions
            for direction in range(self.num_directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_rows, layer_in)), ("weight_hh", (gate_rows, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_rows,)), ("bias_hh", (gate_rows,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for base, shape in shapes:
                    setattr(self, base + sfx, nn.Parameter(torch.empty(shape, **kw)))
                    self._flat_weights_names.append(base + sfx)
        self.reset_parameters()

    # ----------------------------------------------------------------- set-up
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features per direction of the output (``H_out``)."""
        return self.proj_size or self.hidden_size

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flat_weights(self) -> list[Tensor]:
        """Parameters in torch's flat order: per layer, per direction ``w_ih, w_hh, b_ih, b_hh, w_hr``."""
        return [getattr(self, n) for n in self._flat_weights_names]

    def layer_weights(self, layer: int, direction: int,
                      weights: Optional[dict[str, Tensor]] = None) -> dict[str, Optional[Tensor]]:
        """One layer's parameters by base name (from ``weights`` when given)."""
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        source = weights if weights is not None else {n: getattr(self, n) for n in self._flat_weights_names}
        return {base: source.get(base + sfx)
                for base in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}

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
                    weights, per_layer, self.input_size, _CUDNN_MODE[self.mode], self.hidden_size,
                    self.proj_size, self.num_layers, self.batch_first, self.bidirectional)

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for key, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                             ("bidirectional", False), ("proj_size", 0), ("impl", "auto"),
                             ("weight_dropout", 0.0)):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)!r}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
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
        output, state, _ = self._run(input, hx, lengths, trace=False)
        return output, state

    def trace(self, input: Union[Tensor, PackedSequence], hx=None, lengths=None):
        """Forward pass that also returns every step's gate activations.

        Runs the first-principles path (which computes the gates anyway) and returns
        ``(output, state, gates)``; ``gates`` maps a name to a tensor of shape
        ``(D*num_layers, L, N, H)`` (``(D*num_layers, N, L, H)`` if batch_first; without N for
        unbatched input), zero at padded steps. Names: LSTM ``i, f, g, o`` and the cell
        state ``c``; GRU ``r, z, n``; RNN ``h`` (the hidden state itself).
        """
        return self._run(input, hx, lengths, trace=True)

    def _run(self, input, hx, lengths, trace: bool):
        name = _display_name(self.mode)
        ref = self.weight_ih_l0
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{name}: pass either a PackedSequence or lengths, not both")
            check_input(name, input.data, self.input_size, (2,), "(packed rows, H_in)")
            check_like(name, "input", input.data, ref)
            out, state, gates = self._run_packed(input, hx, trace)
            steps = len(input.batch_sizes)
            return out, state, {k: _pad_gate(v, input, self.batch_first, steps) for k, v in gates.items()}
        check_input(name, input, self.input_size, (2, 3),
                    "(N, L, H_in) or (L, H_in)" if self.batch_first else "(L, N, H_in) or (L, H_in)")
        check_like(name, "input", input, ref)
        if lengths is not None:
            if input.dim() != 3:
                raise ValueError(f"{name}: lengths needs a batched 3-D input, got shape {tuple(input.shape)}")
            seq_len = input.shape[1] if self.batch_first else input.shape[0]
            batch = input.shape[0] if self.batch_first else input.shape[1]
            lengths = check_lengths(name, lengths, batch, seq_len)
            packed = pack_padded_sequence(input, lengths, self.batch_first, enforce_sorted=False)
            out, state, gates = self._run_packed(packed, hx, trace)
            out, _ = pad_packed_sequence(out, self.batch_first, total_length=seq_len)
            gates = {k: _pad_gate(v, packed, self.batch_first, seq_len) for k, v in gates.items()}
            return out, state, gates
        return self._run_dense(input, hx, trace)

    def _run_dense(self, x: Tensor, hx, trace: bool):
        weights = self.run_weights()
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1 if not self.batch_first else 0)
        batch = x.shape[0] if self.batch_first else x.shape[1]
        state = self._initial_state(hx, x, batch, batched)
        if not trace and self.impl != "reference":
            out, *final = _FUSED[self.mode](x, self._fused_state(state), list(weights.values()), self.bias, self.num_layers,
                                            self.dropout, self.training, self.bidirectional, self.batch_first)
            gates = {}
        else:
            time_major = x.transpose(0, 1) if self.batch_first else x
            seq_len = time_major.shape[0]
            data = time_major.reshape(seq_len * batch, -1)  # (L, N, H_in) -> (L*N, H_in)
            out, final, packed_gates = self._reference(data, (batch,) * seq_len, state, trace, weights)
            out = out.view(seq_len, batch, -1)
            out = out.transpose(0, 1) if self.batch_first else out
            gates = {k: _dense_gate(v, seq_len, batch, self.batch_first) for k, v in packed_gates.items()}
        if not batched:
            out = out.squeeze(1 if not self.batch_first else 0)
            final = [f.squeeze(1) for f in final]
            gates = {k: v.squeeze(2 if not self.batch_first else 1) for k, v in gates.items()}
        return out, self._pack_state(final), gates

    def _run_packed(self, packed: PackedSequence, hx, trace: bool):
        weights = self.run_weights()
        batch = int(packed.batch_sizes[0])
        state = self._initial_state(hx, packed.data, batch, True)
        if packed.sorted_indices is not None:
            state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
        if not trace and self.impl != "reference":
            out, *final = _FUSED[self.mode](packed.data, packed.batch_sizes, self._fused_state(state),
                                            list(weights.values()),
                                            self.bias, self.num_layers, self.dropout, self.training,
                                            self.bidirectional)
            gates = {}
        else:
            sizes = tuple(packed.batch_sizes.tolist())
            out, final, gates = self._reference(packed.data, sizes, state, trace, weights)
        if packed.unsorted_indices is not None:
            final = [f.index_select(1, packed.unsorted_indices) for f in final]
        out = PackedSequence(out, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        return out, self._pack_state(final), gates

    def _fused_state(self, state: tuple[Tensor, ...]):
        """torch's fused ops take ``(h, c)`` for LSTM and a bare ``h`` otherwise."""
        return state if self.mode == "LSTM" else state[0]

    def _pack_state(self, final):
        return (final[0], final[1]) if self.mode == "LSTM" else final[0]

    def _initial_state(self, hx, like: Tensor, batch: int, batched: bool) -> tuple[Tensor, ...]:
        """Validated initial state(s) ``(D*num_layers, N, *)``; zeros where hx is None."""
        name = _display_name(self.mode)
        rows = self.num_layers * self.num_directions
        sizes = [self.output_size] + ([self.hidden_size] if self.mode == "LSTM" else [])
        if hx is None:
            return tuple(like.new_zeros(rows, batch, size) for size in sizes)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError(f"{name}: expected hx to be a tuple (h_0, c_0), got {type(hx).__name__}")
            states, args = list(hx), ["hx[0] (h_0)", "hx[1] (c_0)"]
        else:
            states, args = [hx], ["hx"]
        result = []
        for s, arg, size in zip(states, args, sizes):
            expected = (rows, batch, size) if batched else (rows, size)
            check_state(name, arg, s, expected, self.weight_ih_l0)
            result.append(s if batched else s.unsqueeze(1))
        return tuple(result)

    # ----------------------------------------------------- reference recurrence
    def _reference(self, data: Tensor, batch_sizes: tuple[int, ...], state: tuple[Tensor, ...], trace: bool,
                   weights: dict[str, Tensor]):
        """First-principles stack over packed rows.

        Args:
            data: ``(S, H_in)`` packed input rows; batch_sizes: rows per step.
            state: initial ``(D*num_layers, N, *)`` tensors.
        Returns:
            ``(out (S, D*H_out), [h_n, (c_n)], gates)`` where gates maps a name to a packed
            ``(D*num_layers, S, H)`` tensor (empty unless ``trace``).
        """
        layer_input, finals, records = data, [[] for _ in state], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                out, final, record = self._reference_direction(
                    layer_input, batch_sizes, [s[k] for s in state], self.layer_weights(layer, direction, weights),
                    reverse=direction == 1)
                outputs.append(out)
                for store, f in zip(finals, final):
                    store.append(f)
                records.append(record)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        finals = [torch.stack(f) for f in finals]
        gates = {}
        if trace:
            gates = {key: torch.stack([r[key] for r in records]) for key in records[0]}
        return layer_input, finals, gates

    def _reference_direction(self, x: Tensor, batch_sizes, state, w, reverse: bool):
        """One layer, one direction: ``(out (S, H_out), final states, gate record)``."""
        hid = self.hidden_size
        if self.mode == "LSTM":
            bias = w["bias_ih"] + w["bias_hh"] if self.bias else None
            xg = F.linear(x, w["weight_ih"], bias)
            out, h, c, gates, cells = LSTMScan.apply(xg, state[0], state[1], w["weight_hh"], w["weight_hr"],
                                                     batch_sizes, reverse)
            record = {n: gates[:, j * hid:(j + 1) * hid] for j, n in enumerate(_GATE_NAMES["LSTM"])}
            record["c"] = cells
            return out, (h, c), record
        if self.mode == "GRU":
            xg = F.linear(x, w["weight_ih"], w["bias_ih"])
            out, h, gates = GRUScan.apply(xg, state[0], w["weight_hh"], w["bias_hh"], batch_sizes, reverse)
            record = {n: gates[:, j * hid:(j + 1) * hid] for j, n in enumerate(_GATE_NAMES["GRU"])}
            return out, (h,), record
        bias = w["bias_ih"] + w["bias_hh"] if self.bias else None
        xg = F.linear(x, w["weight_ih"], bias)
        out, h = RNNScan.apply(xg, state[0], w["weight_hh"], self.mode == "RNN_RELU", batch_sizes, reverse)
        return out, (h,), {"h": out}


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

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, impl: str = "auto", device=None, dtype=None, *,
                 weight_dropout: float = 0.0) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, impl, device, dtype,
                         weight_dropout=weight_dropout)


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

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, impl: str = "auto", device=None, dtype=None, *,
                 weight_dropout: float = 0.0) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, impl, device, dtype, weight_dropout=weight_dropout)


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

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 impl: str = "auto", device=None, dtype=None, *, weight_dropout: float = 0.0) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, impl, device, dtype, weight_dropout=weight_dropout)


def _display_name(mode: str) -> str:
    return "RNN" if mode.startswith("RNN") else mode


def _check_config(name, input_size, hidden_size, num_layers, dropout, proj_size, impl) -> None:
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
        raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
    if proj_size < 0 or proj_size >= hidden_size and proj_size != 0:
        raise ValueError(f"{name}: proj_size must be 0 or in [1, hidden_size={hidden_size}), got {proj_size}")
    if impl not in IMPLS:
        raise ValueError(f"{name}: impl must be one of {IMPLS}, got {impl!r}")


def _dense_gate(packed: Tensor, seq_len: int, batch: int, batch_first: bool) -> Tensor:
    """``(D*layers, L*N, H) -> (D*layers, L, N, H)`` (or ``(.., N, L, H)`` if batch_first)."""
    out = packed.reshape(packed.shape[0], seq_len, batch, -1)
    return out.transpose(1, 2) if batch_first else out


def _pad_gate(gate: Tensor, packed: PackedSequence, batch_first: bool, seq_len: int) -> Tensor:
    """Packed ``(D*layers, S, H)`` gate record -> padded ``(D*layers, L, N, H)``, zeros at padding."""
    layers = [pad_packed_sequence(PackedSequence(g, packed.batch_sizes, packed.sorted_indices,
                                                 packed.unsorted_indices), batch_first, total_length=seq_len)[0]
              for g in gate.unbind(0)]
    return torch.stack(layers)
