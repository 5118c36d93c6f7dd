"""rnnkit's first-principles recurrence: a whole multi-layer stack over packed rows.

Each cell kind has a *scan* (one layer, one direction): the input projection
of every step in one matmul, then the step loop of its kernel in
:mod:`rnnkit.nn.kernels` (hand-written backward). :func:`run_stack` chains
the scans of a layer's :class:`~rnnkit.nn.specs.CellSpec` over layers and
directions, with dropout between layers, and collects the gate record that
``trace`` reports.

Legend: S total packed rows (see :mod:`rnnkit.nn.walk`), N batch, H_in input
size, H hidden size, H_out output size, D directions.
"""

from __future__ import annotations

import warnings
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .kernels import LSTMScan, own_bf16
from .kernels_gru_rnn import GRUScan, RNNScan

Weights = dict[str, Optional[Tensor]]


def lstm_scan(x: Tensor, state, w: Weights, batch_sizes: tuple[int, ...], reverse: bool):
    """LSTM over one direction.

    Args:
        x: ``(S, H_in)`` packed input rows. state: ``(h_0 (N, H_out), c_0 (N, H))``.
        w: the layer's weights by base name (``weight_ih``, ..., ``weight_hr`` or None).
    Returns:
        ``(out (S, H_out), (h_n, c_n), gates (S, 4H) as i, f, g, o, (cells (S, H),))``.
    """
    xg = F.linear(x, w["weight_ih"], _summed_bias(w))
    out, h, c, gates, cells = LSTMScan.apply(
        xg, state[0], state[1], w["weight_hh"], w["weight_hr"], batch_sizes, reverse
    )
    return out, (h, c), gates, (cells,)


def gru_scan(x: Tensor, state, w: Weights, batch_sizes: tuple[int, ...], reverse: bool):
    """GRU over one direction; ``b_hh`` stays inside the reset product, as in torch.

    Args: as :func:`lstm_scan`, with ``state = (h_0 (N, H),)``.
    Returns: ``(out (S, H), (h_n,), gates (S, 3H) as r, z, n, ())``.
    """
    xg = F.linear(x, w["weight_ih"], w["bias_ih"])
    out, h, gates = GRUScan.apply(xg, state[0], w["weight_hh"], w["bias_hh"], batch_sizes, reverse)
    return out, (h,), gates, ()


def rnn_scan(x: Tensor, state, w: Weights, batch_sizes: tuple[int, ...], reverse: bool, nonlinearity: str = "tanh"):
    """Elman RNN (``nonlinearity`` tanh or relu) over one direction.

    Args: as :func:`lstm_scan`, with ``state = (h_0 (N, H),)``.
    Returns: ``(out (S, H), (h_n,), None, (out,))``: the hidden states are what it traces.
    """
    xg = F.linear(x, w["weight_ih"], _summed_bias(w))
    out, h = RNNScan.apply(xg, state[0], w["weight_hh"], nonlinearity == "relu", batch_sizes, reverse)
    return out, (h,), None, (out,)


def _summed_bias(w: Weights) -> Optional[Tensor]:
    """``b_ih + b_hh`` ``(G*H,)``, folded into the input projection; None without biases."""
    return w["bias_ih"] + w["bias_hh"] if w["bias_ih"] is not None else None


def own_bf16_layer(layer, device: torch.device) -> bool:
    """Whether ``layer`` has a bf16 kernel of rnnkit's here (an LSTM without projection or a GRU,
    under a CPU bf16 autocast, :func:`~rnnkit.nn.kernels.own_bf16`); the Elman RNN and a projected
    LSTM run in float32 under autocast."""
    return (
        layer.spec.name in ("LSTM", "GRU")
        and not getattr(layer, "proj_size", 0)
        and layer.weight_ih_l0.dtype == torch.float32
        and own_bf16(device)
    )


def run_direction(spec, x: Tensor, state, w: Weights, batch_sizes: tuple[int, ...], reverse: bool):
    """One layer, one direction with ``spec.scan``.

    Returns:
        ``(out (S, H_out), final states, record)``; ``record`` maps each of
        ``spec.trace_names`` to a packed ``(S, H)`` tensor.
    """
    out, final, gates, traced = spec.scan(x, state, w, batch_sizes, reverse)
    record = {}
    if gates is not None:
        hid = gates.shape[1] // spec.gates
        record = {n: gates[:, j * hid : (j + 1) * hid] for j, n in enumerate(spec.gate_names)}
    record.update(zip(spec.traced_states, traced))
    return out, final, record


def run_stack(
    layer, data: Tensor, batch_sizes: tuple[int, ...], state: tuple[Tensor, ...], trace: bool, weights: Weights
):
    """Every layer and direction of ``layer`` (an :class:`~rnnkit.nn.rnn.RNNBase`) over packed rows.

    Args:
        data: ``(S, H_in)`` packed input rows; batch_sizes: rows per step.
        state: initial ``(D*num_layers, N, *)`` tensors, as many as the state arity.
        weights: the run's weights by full name (:meth:`~rnnkit.nn.rnn.RNNBase.run_weights`).
    Returns:
        ``(out (S, D*H_out), [h_n, (c_n)], gates)`` where gates maps a name to a packed
        ``(D*num_layers, S, H)`` tensor (empty unless ``trace``).
    """
    kind = data.device.type
    if torch.is_autocast_enabled(kind) and not own_bf16_layer(layer, data.device):  # no bf16 kernel: fp32
        warnings.warn(f"{layer.spec.name}: rnnkit's reference kernel runs in float32 under autocast", stacklevel=2)
        dtype = layer.weight_ih_l0.dtype
        with torch.autocast(kind, enabled=False):
            return run_stack(layer, data.to(dtype), batch_sizes, tuple(s.to(dtype) for s in state), trace, weights)
    layer_input, finals, records = data, [[] for _ in state], []
    for k in range(layer.num_layers):
        outputs = []
        for direction in range(layer.num_directions):
            row = k * layer.num_directions + direction
            out, final, record = run_direction(
                layer.spec,
                layer_input,
                [s[row] for s in state],
                layer.layer_weights(k, direction, weights),
                batch_sizes,
                reverse=direction == 1,
            )
            outputs.append(out)
            for store, f in zip(finals, final):
                store.append(f)
            records.append(record)
        layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
        if layer.dropout and layer.training and k < layer.num_layers - 1:
            layer_input = F.dropout(layer_input, layer.dropout, training=True)
    finals = [torch.stack(f) for f in finals]
    gates = {}
    if trace:
        gates = {key: torch.stack([r[key] for r in records]) for key in records[0]}
    return layer_input, finals, gates
