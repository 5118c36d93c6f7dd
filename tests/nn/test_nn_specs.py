"""The CellSpec table agrees with what the layers and cells build and return, and with torch.nn."""

import pytest
import torch
from helpers import OURS, as_tuple, layer_pair

import rnnkit.nn as rnn
import rnnkit.nn.functional as RF
from rnnkit.nn.specs import CELLS

CELL_CLASSES = {
    "LSTM": (rnn.LSTMCell, torch.nn.LSTMCell, {}),
    "GRU": (rnn.GRUCell, torch.nn.GRUCell, {}),
    "RNN_TANH": (rnn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "RNN_RELU": (rnn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
}


def test_every_mode_has_a_layer_and_a_cell():
    assert set(CELLS) == set(OURS) == set(CELL_CLASSES)


@pytest.mark.parametrize("mode", sorted(CELLS))
def test_spec_matches_the_layer_and_torch(mode):
    spec = CELLS[mode]
    hidden, layers = 5, 2
    ref, ours = layer_pair(mode, input_size=3, hidden_size=hidden, num_layers=layers, bidirectional=True)
    assert ours.spec is spec and spec.mode == ours.mode == ref.mode and spec.name == type(ours).__name__
    assert len(spec.gate_names) == (spec.gates if spec.nonlinearity is None else 0)
    for name, p in ours.named_parameters():
        assert p.shape == getattr(ref, name).shape
        if not name.startswith("weight_hr"):
            assert p.shape[0] == spec.gates * hidden, name
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    for impl in ("fused", "reference"):
        ours.impl = impl
        state, ref_state = as_tuple(ours(x)[1]), as_tuple(ref(x)[1])
        assert len(state) == len(ref_state) == spec.state_arity
        for s, r in zip(state, ref_state):
            assert s.shape == r.shape
    _, _, gates = ours.trace(x)
    assert tuple(gates) == spec.trace_names
    assert all(g.shape == (2 * layers, 4, 2, hidden) for g in gates.values())


def _first_step_values(mode, x, w):
    """Every named value of the first step from zeros, by the equations of ``rnnkit.nn.functional``."""
    h = x.new_zeros(x.shape[0], w["weight_hh"].shape[1])
    args = (w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"])
    if mode == "LSTM":
        return RF.lstm_gates(x, h, h, *args)
    if mode == "GRU":
        return RF.gru_gates(x, h, *args)
    return {"h": RF.rnn_cell(x, h, *args, nonlinearity=CELLS[mode].nonlinearity)}


@pytest.mark.parametrize("mode", sorted(CELLS))
def test_gate_names_follow_the_row_order_of_the_weights(mode):
    _, ours = layer_pair(mode, input_size=3, hidden_size=4)
    x = torch.randn(1, 2, 3, dtype=torch.float64)
    _, _, gates = ours.trace(x)
    values = _first_step_values(mode, x[0], ours.layer_weights(0, 0))
    for name in CELLS[mode].trace_names:
        torch.testing.assert_close(gates[name][0, 0], values[name], rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", sorted(CELLS))
def test_scan_returns_what_the_spec_names(mode):
    spec = CELLS[mode]
    _, ours = layer_pair(mode, input_size=3, hidden_size=4)
    state = [torch.zeros(2, 4, dtype=torch.float64) for _ in spec.state_names]
    out, final, gates, traced = spec.scan(
        torch.randn(6, 3, dtype=torch.float64), state, ours.layer_weights(0, 0), (2, 2, 2), False
    )
    assert out.shape == (6, 4) and len(final) == spec.state_arity
    assert (gates is None) == (not spec.gate_names)
    assert gates is None or gates.shape == (6, spec.gates * 4)
    assert len(traced) == len(spec.traced_states) and all(t.shape == (6, 4) for t in traced)


@pytest.mark.parametrize("mode", sorted(CELLS))
def test_spec_matches_the_cell_and_torch(mode):
    spec = CELLS[mode]
    ours_cls, ref_cls, kw = CELL_CLASSES[mode]
    ours, ref = ours_cls(3, 4, dtype=torch.float64, **kw), ref_cls(3, 4, dtype=torch.float64, **kw)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert ours.spec is spec and ours.gates == spec.gates
    assert ours.weight_ih.shape == (spec.gates * 4, 3) and ours.weight_hh.shape == (spec.gates * 4, 4)
    x = torch.randn(2, 3, dtype=torch.float64)
    state, ref_state = as_tuple(ours(x)), as_tuple(ref(x))
    assert len(state) == len(ref_state) == spec.state_arity
    for s, r in zip(state, ref_state):
        torch.testing.assert_close(s, r, rtol=0, atol=1e-12)


def test_only_specs_with_projection_accept_proj_size():
    for mode, spec in CELLS.items():
        kw = {"nonlinearity": spec.nonlinearity} if spec.nonlinearity else {}
        if spec.projection:
            assert OURS[mode](3, 4, proj_size=2, **kw).weight_hr_l0.shape == (2, 4)
        else:
            with pytest.raises(ValueError, match="proj_size is only supported by LSTM"):
                rnn.RNNBase(mode, 3, 4, proj_size=2)
