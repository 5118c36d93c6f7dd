"""Property tests: rnnkit layers match torch.nn in float64, forward and all gradients."""

import torch
from helpers import as_tuple, layer_pair, sq
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOL = 1e-10


@st.composite
def configs(draw):
    mode = draw(st.sampled_from(["LSTM", "GRU", "RNN_TANH", "RNN_RELU"]))
    hidden = draw(st.integers(1, 6))
    cfg = dict(
        input_size=draw(st.integers(1, 5)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, 3)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
    )
    if mode == "LSTM" and hidden > 1 and draw(st.booleans()):
        cfg["proj_size"] = draw(st.integers(1, hidden - 1))
    batch, seq = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    lengths = draw(st.lists(st.integers(1, seq), min_size=batch, max_size=batch))
    return dict(
        mode=mode,
        cfg=cfg,
        batch=batch,
        seq=seq,
        lengths=lengths,
        kind=draw(st.sampled_from(["dense", "packed", "lengths"])),
        with_state=draw(st.booleans()),
        impl=draw(st.sampled_from(["reference", "reference", "auto"])),
        seed=draw(st.integers(0, 2**16)),
    )


def _inputs(case, ref):
    torch.manual_seed(case["seed"])
    cfg, n, length = case["cfg"], case["batch"], case["seq"]
    shape = (n, length, cfg["input_size"]) if cfg["batch_first"] else (length, n, cfg["input_size"])
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    state = None
    if case["with_state"]:
        rows = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
        out = cfg.get("proj_size") or cfg["hidden_size"]
        h0 = torch.randn(rows, n, out, dtype=torch.float64, requires_grad=True)
        c0 = torch.randn(rows, n, cfg["hidden_size"], dtype=torch.float64, requires_grad=True)
        state = (h0, c0) if case["mode"] == "LSTM" else h0
    return x, state


def _run(layer, x, state, case, ours):
    """Returns padded output and final states."""
    lengths = torch.tensor(case["lengths"])
    bf = case["cfg"]["batch_first"]
    if case["kind"] == "dense":
        return layer(x, state)
    if case["kind"] == "lengths" and ours:
        return layer(x, state, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
    out, final = layer(packed, state)
    return pad_packed_sequence(out, batch_first=bf, total_length=case["seq"])[0], final


@settings(max_examples=120, deadline=None)
@given(configs())
def test_forward_and_gradients_match_torch(case):
    ref, ours = layer_pair(case["mode"], case["impl"], **case["cfg"])
    x, state = _inputs(case, ref)
    y_ref, s_ref = _run(ref, x, state, case, ours=False)
    y, s = _run(ours, x, state, case, ours=True)
    s_ref, s = as_tuple(s_ref), as_tuple(s)
    assert y.shape == y_ref.shape and [t.shape for t in s] == [t.shape for t in s_ref]
    assert sq(y, y_ref) < TOL
    for a, b in zip(s, s_ref):
        assert sq(a, b) < TOL

    torch.manual_seed(1)
    w_out = torch.randn_like(y_ref)
    w_states = [torch.randn_like(t) for t in s_ref]
    leaves = [x] + ([t for t in as_tuple(state)] if state is not None else [])

    def grads(layer, out, states):
        loss = (out * w_out).sum() + sum((t * w).sum() for t, w in zip(states, w_states))
        return torch.autograd.grad(loss, leaves + list(layer.parameters()), allow_unused=False)

    for name, g, g_ref in zip(
        ["input", "h0", "c0"] + [n for n, _ in ours.named_parameters()], grads(ours, y, s), grads(ref, y_ref, s_ref)
    ):
        assert sq(g, g_ref) < TOL, name


def test_padding_does_not_leak():
    """Changing padded positions changes neither the valid outputs nor the final states."""
    _, ours = layer_pair("LSTM", num_layers=2, input_size=3, hidden_size=4, bidirectional=True)
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 3])
    y1, (h1, c1) = ours(x, lengths=lengths)
    x2 = x.clone()
    x2[2:, 1] = 100.0
    x2[3:, 2] = -7.0
    y2, (h2, c2) = ours(x2, lengths=lengths)
    assert torch.equal(y1, y2) and torch.equal(h1, h2) and torch.equal(c1, c2)
    assert torch.all(y1[2:, 1] == 0) and torch.all(y1[3:, 2] == 0)


def test_unbatched_input_matches_torch():
    ref, ours = layer_pair("GRU", input_size=3, hidden_size=4, num_layers=2)
    x = torch.randn(6, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    (y_ref, h_ref), (y, h) = ref(x, h0), ours(x, h0)
    assert y.shape == (6, 4) and h.shape == (2, 4)
    assert sq(y, y_ref) < TOL and sq(h, h_ref) < TOL


def test_dropout_between_layers_only_in_training():
    _, ours = layer_pair("LSTM", input_size=3, hidden_size=8, num_layers=2, dropout=0.5)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    ours.eval()
    assert torch.equal(ours(x)[0], ours(x)[0])
    ours.train()
    torch.manual_seed(0)
    a = ours(x)[0]
    torch.manual_seed(1)
    b = ours(x)[0]
    assert not torch.equal(a, b)
