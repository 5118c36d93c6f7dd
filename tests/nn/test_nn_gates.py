"""Gate introspection, checked against values recomputed by hand from the weights."""

import torch

import rnnkit.nn as rnn


def _by_hand_lstm(x, w_ih, w_hh, b, hid):
    """Loop over time with the LSTM equations written out; returns dict of (L, N, H)."""
    h = x.new_zeros(x.shape[1], hid)
    c = x.new_zeros(x.shape[1], hid)
    rec = {k: [] for k in "ifgoc"}
    for t in range(x.shape[0]):
        pre = x[t] @ w_ih.T + h @ w_hh.T + b
        i = 1 / (1 + torch.exp(-pre[:, :hid]))
        f = 1 / (1 + torch.exp(-pre[:, hid : 2 * hid]))
        g = torch.tanh(pre[:, 2 * hid : 3 * hid])
        o = 1 / (1 + torch.exp(-pre[:, 3 * hid :]))
        c = f * c + i * g
        h = o * torch.tanh(c)
        for k, v in zip("ifgoc", (i, f, g, o, c)):
            rec[k].append(v)
    return {k: torch.stack(v) for k, v in rec.items()}


def test_lstm_gates_match_hand_computation():
    torch.manual_seed(0)
    lstm = rnn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    out, (h_n, c_n), gates = lstm.trace(x)
    assert set(gates) == {"i", "f", "g", "o", "c"} and gates["i"].shape == (2, 6, 2, 4)
    layer_in = x
    for layer in range(2):
        w = lstm.layer_weights(layer, 0)
        hand = _by_hand_lstm(layer_in, w["weight_ih"], w["weight_hh"], w["bias_ih"] + w["bias_hh"], 4)
        for k in "ifgoc":
            assert torch.allclose(gates[k][layer], hand[k], atol=1e-12), (layer, k)
        layer_in = hand["o"] * torch.tanh(hand["c"])
    assert torch.allclose(out, layer_in, atol=1e-12)
    # trace gives the same outputs as the normal forward pass
    y, (h, c) = lstm(x)
    assert torch.allclose(y, out, atol=1e-12) and torch.allclose(c, c_n, atol=1e-12)


def test_gru_gates_match_hand_computation():
    torch.manual_seed(1)
    gru = rnn.GRU(2, 3, batch_first=True, dtype=torch.float64)
    x = torch.randn(2, 5, 2, dtype=torch.float64)
    _, _, gates = gru.trace(x)
    assert gates["r"].shape == (1, 2, 5, 3)
    w = gru.layer_weights(0, 0)
    h = x.new_zeros(2, 3)
    for t in range(5):
        xr, xz, xn = (x[:, t] @ w["weight_ih"].T + w["bias_ih"]).split(3, dim=1)
        hr, hz, hn = (h @ w["weight_hh"].T + w["bias_hh"]).split(3, dim=1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        for k, v in zip("rzn", (r, z, n)):
            assert torch.allclose(gates[k][0, :, t], v, atol=1e-12), (t, k)


def test_gates_with_lengths_are_zero_at_padding_and_match_per_sequence():
    torch.manual_seed(2)
    lstm = rnn.LSTM(3, 4, bidirectional=True, dtype=torch.float64)
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([2, 5, 3])
    _, _, gates = lstm.trace(x, lengths=lengths)
    assert gates["f"].shape == (2, 5, 3, 4)
    assert torch.all(gates["f"][:, 2:, 0] == 0)
    _, _, alone = lstm.trace(x[:2, 0:1])  # first sequence on its own, no padding
    assert torch.allclose(gates["f"][:, :2, 0:1], alone["f"], atol=1e-12)


def test_trace_is_not_used_by_normal_forward():
    """The normal pass returns the plain torch.nn result types and no gate tensors."""
    lstm = rnn.LSTM(3, 4)
    result = lstm(torch.randn(2, 1, 3))
    assert len(result) == 2 and len(result[1]) == 2
