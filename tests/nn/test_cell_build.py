"""Cells by the names configs use: every name builds its layer, a wrong name is one error listing
the names, and the facts code above rnnkit.nn asks for agree with the layers and torch.nn."""

import pytest
import torch

from rnnkit.nn import (
    CELL_NAMES,
    GATED_CELLS,
    GRU,
    LAYER_CLASSES,
    LSTM,
    RNN,
    build_rnn,
    cell_name,
    cell_spec,
    check_cell,
)
from rnnkit.nn.specs import CELLS

EXPECTED = {"lstm": (LSTM, None, 2), "gru": (GRU, None, 1), "rnn_tanh": (RNN, "tanh", 1), "rnn_relu": (RNN, "relu", 1)}


def test_the_names_are_the_modes_in_lower_case():
    assert CELL_NAMES == ("lstm", "gru", "rnn_tanh", "rnn_relu")
    assert [cell_spec(name).mode for name in CELL_NAMES] == list(CELLS)
    assert GATED_CELLS == ("lstm", "gru")


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_each_cell_builds_its_batch_first_layer(cell, bidirectional):
    torch.manual_seed(0)
    layer = build_rnn(cell, 3, 5, num_layers=2, dropout=0.25, bidirectional=bidirectional)
    cls, nonlinearity, arity = EXPECTED[cell]
    assert type(layer) is cls and LAYER_CLASSES[layer.spec.name] is cls
    assert layer.batch_first and layer.dropout == 0.25 and layer.bidirectional == bidirectional
    assert layer.spec.nonlinearity == nonlinearity and layer.spec.state_arity == arity
    assert cell_name(layer) == cell and layer.spec is cell_spec(cell)
    directions = 2 if bidirectional else 1
    out, state = layer(torch.randn(4, 6, 3))
    assert out.shape == (4, 6, directions * 5)
    states = state if isinstance(state, tuple) else (state,)
    assert len(states) == arity and all(s.shape == (2 * directions, 4, 5) for s in states)
    # the same initial values as the class built by hand after the same seed
    torch.manual_seed(0)
    extra = {"nonlinearity": nonlinearity} if nonlinearity else {}
    by_hand = cls(3, 5, 2, dropout=0.25, batch_first=True, bidirectional=bidirectional, **extra)
    for (name, mine), (_, theirs) in zip(layer.named_parameters(), by_hand.named_parameters()):
        assert torch.equal(mine, theirs), name


def test_one_layer_drops_nothing_and_options_reach_the_layer():
    layer = build_rnn("lstm", 3, 5, 1, 0.5, weight_dropout=0.3, impl="reference")
    assert layer.dropout == 0.0 and layer.weight_dropout == 0.3 and layer.impl == "reference"


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_a_torch_layer_has_the_same_name_and_parameters(cell):
    spec = cell_spec(cell)
    ours = build_rnn(cell, 3, 4, 1, 0.0)
    extra = {"nonlinearity": spec.nonlinearity} if spec.nonlinearity else {}
    theirs = spec.torch_layer(3, 4, batch_first=True, **extra)
    assert cell_name(theirs) == cell
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(theirs(x)[0], ours(x)[0])


@pytest.mark.parametrize("bad", ["LSTM", "rnn", "tcn", ""])
def test_a_wrong_name_is_one_error_listing_the_names(bad):
    message = f"cell: expected one of lstm, gru, rnn_tanh, rnn_relu, got {bad!r}"
    for call in (lambda: build_rnn(bad, 3, 4, 1, 0.0), lambda: cell_spec(bad), lambda: check_cell(bad)):
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
    with pytest.raises(ValueError, match=r"^--cells: expected one of lstm, gru, got 'rnn_tanh'$"):
        check_cell("rnn_tanh", among=GATED_CELLS, what="--cells")


def test_the_gate_facts():
    lstm, gru, tanh = cell_spec("lstm"), cell_spec("gru"), cell_spec("rnn_tanh")
    assert lstm.gate_names == ("i", "f", "g", "o") and lstm.sigmoid_gates == ("i", "f", "o")
    assert gru.gate_names == ("r", "z", "n") and gru.sigmoid_gates == ("r", "z")
    assert tanh.gate_names == () and tanh.sigmoid_gates == ()
    assert [s.gated for s in (lstm, gru, tanh)] == [True, True, False]
    assert [s.has_forget_gate for s in (lstm, gru, tanh)] == [True, False, False]
    # ONNX orders: LSTM i, o, f, c and GRU z, r, h, as indices of torch's blocks
    assert [lstm.gate_names[i] for i in lstm.onnx_gates] == ["i", "o", "f", "g"]
    assert [gru.gate_names[i] for i in gru.onnx_gates] == ["z", "r", "n"]


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_the_hidden_state_read_off_a_trace_is_the_layers_output(cell):
    torch.manual_seed(0)
    layer = build_rnn(cell, 3, 4, 2, 0.0).double()
    x = torch.randn(1, 7, 3, dtype=torch.float64)
    out, _, traced = layer.trace(x)
    record = {k: v[:, 0] for k, v in traced.items()}  # (K, 1, L, H) -> (K, L, H)
    h = layer.spec.hidden_of(record)
    torch.testing.assert_close(h[-1], out[0])
