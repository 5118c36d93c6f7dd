"""rnnkit recurrent layers in a form the exporters follow at any batch size and sequence length.

Tracing records the ops a call runs. rnnkit's layers check shapes and build states in
Python (fine for eager use, but a trace would freeze those sizes), so :func:`for_export`
swaps each :class:`~rnnkit.nn.rnn.RNNBase` in a copy of the model for a :class:`ExportRNN`
holding the equivalent ``torch.nn`` layer with the same weights (rnnkit's parameters are
torch's, by design). Dense calls run torch's fused op, which both exporters know. Calls with
``lengths`` pack the batch for TorchScript; for ONNX they become one ONNX ``LSTM``/``GRU``/
``RNN`` node per layer with ``sequence_lens`` (ONNX's own way to skip padding), because
torch's ONNX exporter does not handle every packed layer (it fails on single-layer ones).

Legend: L sequence length, N batch, H hidden size, D directions, G gates.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.nn.rnn import RNNBase
from rnnkit.nn.specs import CELLS


class ExportRNN(nn.Module):
    """A ``torch.nn`` RNN/LSTM/GRU behind rnnkit's call ``(input, hx=None, lengths=None)``."""

    def __init__(self, layer: RNNBase) -> None:
        super().__init__()
        spec = layer.spec
        if layer.proj_size:
            raise ValueError("export: LSTM with proj_size has no ONNX form; export needs proj_size 0")
        options = {"nonlinearity": spec.nonlinearity} if spec.nonlinearity is not None else {}
        self.mode, self.batch_first = spec.mode, layer.batch_first
        self.rnn = spec.torch_layer(
            layer.input_size,
            layer.hidden_size,
            num_layers=layer.num_layers,
            bias=layer.bias,
            batch_first=layer.batch_first,
            bidirectional=layer.bidirectional,
            **options,
        )
        self.rnn.load_state_dict(layer.state_dict())

    def forward(self, x: Tensor, hx=None, lengths=None):
        if lengths is None:
            return self.rnn(x, hx)
        if torch.onnx.is_in_onnx_export():
            return self._onnx(x, hx, lengths)
        packed = pack_padded_sequence(x, lengths, self.batch_first, enforce_sorted=False)
        out, state = self.rnn(packed, hx)
        out, _ = pad_packed_sequence(out, self.batch_first, total_length=x.shape[1 if self.batch_first else 0])
        return out, state

    def _onnx(self, x: Tensor, hx, lengths: Tensor):
        rnn, spec = self.rnn, CELLS[self.mode]
        weights = []
        for layer in range(rnn.num_layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                per_direction = [
                    _reorder(getattr(rnn, f"{name}_l{layer}{suffix}", None), spec.onnx_gates, rnn.hidden_size)
                    for suffix in ([""] + (["_reverse"] if rnn.bidirectional else []))
                ]
                weights.append(torch.stack(per_direction))
        states = () if hx is None else (hx if isinstance(hx, tuple) else (hx,))
        options = (
            self.mode,
            rnn.hidden_size,
            rnn.num_layers,
            2 if rnn.bidirectional else 1,
            int(self.batch_first),
            len(states),
        )
        _RUNNING[:] = [self]  # the eager side of the node (Function arguments must be plain values)
        outputs = _PaddedRNN.apply(*options, x, lengths, *states, *weights)
        out, finals = outputs[0], outputs[1:]
        return out, (tuple(finals) if spec.state_arity > 1 else finals[0])


def _reorder(weight, gates: tuple[int, ...], hidden: int) -> Tensor:
    """torch's gate blocks (G*H, ...) in ONNX's order; a missing bias is zeros."""
    if weight is None:
        raise ValueError("export: layers without biases are not supported for ONNX padded input")
    return torch.cat([weight[g * hidden : (g + 1) * hidden] for g in gates])


_RUNNING: list = []


class _PaddedRNN(torch.autograd.Function):
    """Eager: the torch layer on the packed batch. ONNX: one node per layer with sequence_lens."""

    @staticmethod
    def forward(ctx, mode, hidden, layers, directions, batch_first, n_states, x, lengths, *rest):
        module, batch_first, arity = _RUNNING[0], bool(batch_first), CELLS[mode].state_arity
        states = rest[:n_states]
        hx = None if not states else (tuple(states) if arity > 1 else states[0])
        tracing = torch._C._get_tracing_state()
        torch._C._set_tracing_state(None)  # the node is the symbolic below, not these ops
        try:
            packed = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)
            out, state = module.rnn(packed, hx)
            out, _ = pad_packed_sequence(out, batch_first, total_length=x.shape[1 if batch_first else 0])
        finally:
            torch._C._set_tracing_state(tracing)
        return tuple(t.clone() for t in ((out, *state) if arity > 1 else (out, state)))

    @staticmethod
    def symbolic(g, mode, hidden, layers, directions, batch_first, n_states, x, lengths, *rest):
        states, weights, spec = rest[:n_states], rest[n_states:], CELLS[mode]
        attributes = dict(spec.onnx_attributes)
        if spec.nonlinearity is not None:  # an Elman RNN: ONNX's activation names
            attributes["activations_s"] = [spec.nonlinearity.capitalize()] * directions
        seq = g.op("Cast", lengths, to_i=6)  # int32
        if batch_first:
            x = g.op("Transpose", x, perm_i=[1, 0, 2])  # (N, L, H_in) -> (L, N, H_in)
        finals: list[list] = [[] for _ in range(spec.state_arity)]
        step = directions
        for layer in range(layers):
            w_ih, w_hh, b_ih, b_hh = weights[4 * layer : 4 * layer + 4]
            bias = g.op("Concat", b_ih, b_hh, axis_i=1)  # (D, 2*G*H)
            initial = [_rows(g, s, layer * step, (layer + 1) * step) for s in states]
            inputs = [x, w_ih, w_hh, bias, seq] + initial
            outs = g.op(
                spec.name,
                *inputs,
                hidden_size_i=hidden,
                outputs=1 + len(finals),
                direction_s="bidirectional" if directions == 2 else "forward",
                **attributes,
            )
            y, *ends = outs
            for store, end in zip(finals, ends):
                store.append(end)
            # (L, D, N, H) -> (L, N, D, H) -> (L, N, D*H)
            y = g.op("Transpose", y, perm_i=[0, 2, 1, 3])
            x = g.op("Reshape", y, g.op("Constant", value_t=torch.tensor([0, 0, -1])))
        out = g.op("Transpose", x, perm_i=[1, 0, 2]) if batch_first else x
        joined = [g.op("Concat", *store, axis_i=0) if len(store) > 1 else store[0] for store in finals]
        return (out, *joined)


def _rows(g, state, start: int, end: int):
    """Rows ``start:end`` of a ``(D*layers, N, H)`` state (ONNX Slice on axis 0)."""
    const = lambda v: g.op("Constant", value_t=torch.tensor([v]))  # noqa: E731
    return g.op("Slice", state, const(start), const(end), const(0))


def for_export(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode whose rnnkit RNN layers are :class:`ExportRNN` s."""
    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, RNNBase):
                setattr(module, name, ExportRNN(child))
    return model
