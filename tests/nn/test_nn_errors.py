"""Bad input gets a ValueError naming the argument, the expected and the received value."""

import pytest
import torch

import rnnkit.nn as rnn


@pytest.fixture
def lstm():
    return rnn.LSTM(7, 5, num_layers=2)


def test_wrong_rank(lstm):
    with pytest.raises(
        ValueError, match=r"LSTM: expected input with 2 or 3 dimensions .*got 4 dimensions with shape \(1, 2, 3, 7\)"
    ):
        lstm(torch.randn(1, 2, 3, 7))


def test_wrong_feature_size(lstm):
    with pytest.raises(
        ValueError, match=r"expected input with 7 features \(input_size\), got 6; input shape \(4, 2, 6\)"
    ):
        lstm(torch.randn(4, 2, 6))


def test_hidden_state_wrong_shape(lstm):
    h = torch.zeros(1, 2, 5)
    with pytest.raises(ValueError, match=r"expected hx\[0\] \(h_0\) of shape \(2, 2, 5\), got \(1, 2, 5\)"):
        lstm(torch.randn(4, 2, 7), (h, torch.zeros(2, 2, 5)))
    with pytest.raises(ValueError, match=r"expected hx\[1\] \(c_0\) of shape \(2, 2, 5\), got \(2, 3, 5\)"):
        lstm(torch.randn(4, 2, 7), (torch.zeros(2, 2, 5), torch.zeros(2, 3, 5)))
    gru = rnn.GRU(7, 5)
    with pytest.raises(ValueError, match=r"GRU: expected hx of shape \(1, 2, 5\), got \(1, 2, 4\)"):
        gru(torch.randn(4, 2, 7), torch.zeros(1, 2, 4))


def test_lstm_state_must_be_a_pair(lstm):
    with pytest.raises(ValueError, match=r"expected hx to be a tuple \(h_0, c_0\), got Tensor"):
        lstm(torch.randn(4, 2, 7), torch.zeros(2, 2, 5))


def test_dtype_mismatch(lstm):
    with pytest.raises(ValueError, match=r"input has dtype torch.float64 but the parameters have dtype torch.float32"):
        lstm(torch.randn(4, 2, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"hx\[0\] \(h_0\) has dtype torch.float64"):
        lstm(torch.randn(4, 2, 7), (torch.zeros(2, 2, 5, dtype=torch.float64), torch.zeros(2, 2, 5)))


def test_device_mismatch(lstm):
    meta = torch.empty(4, 2, 7, device="meta")
    with pytest.raises(ValueError, match=r"input is on device meta but the parameters are on cpu"):
        lstm(meta)


@pytest.mark.parametrize(
    "lengths,message",
    [
        ([4, 9], r"lengths\[1\] = 9 is longer than the sequence length 4"),
        ([4, 0], r"lengths\[1\] = 0; every sequence needs at least one step"),
        ([4, 2, 1], r"expected lengths of shape \(2,\) \(one per sequence\), got \(3,\)"),
        ([4.0, 2.0], r"expected integer lengths, got dtype torch.float32"),
    ],
)
def test_bad_lengths(lstm, lengths, message):
    with pytest.raises(ValueError, match=message):
        lstm(torch.randn(4, 2, 7), lengths=torch.tensor(lengths))


def test_bad_configuration():
    with pytest.raises(ValueError, match=r"RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        rnn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"proj_size must be 0 or in \[1, hidden_size=4\), got 4"):
        rnn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match=r"impl must be one of"):
        rnn.GRU(3, 4, impl="fast")
    with pytest.raises(ValueError, match=r"hidden_size must be a positive integer, got 0"):
        rnn.GRU(3, 0)


def test_cell_errors():
    cell = rnn.GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"GRUCell: expected input with 3 features \(input_size\), got 2"):
        cell(torch.randn(5, 2))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(5, 4\), got \(5, 3\)"):
        cell(torch.randn(5, 3), torch.zeros(5, 3))
