"""rnnkit's bf16 kernels (csrc/lstm_bf16.cpp, csrc/gru_bf16.cpp): under a CPU bf16 autocast an
LSTM without projection or a GRU multiplies in bf16 and keeps the rest in float32; against
torch.nn in float64 its values and gradients are as close as torch.nn's own bf16 autocast is, on
dense and packed batches in both directions."""

import dataclasses
import warnings

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnnkit.nn import GRU, LSTM, RNN, specs
from rnnkit.nn.extension import lstm_extension

needs_extension = pytest.mark.skipif(lstm_extension() is None, reason="C++ extension could not be built here")
OURS = {"LSTM": LSTM, "GRU": GRU}


def _layers(cell, layers, bidirectional, scale, bias=True, hidden=24, batch=4):
    """torch.nn in float64, rnnkit's kernel and torch.nn in float32 with the same weights; input."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, cell)(3, hidden, layers, bias=bias, bidirectional=bidirectional).double()
    ours = OURS[cell](3, hidden, layers, bias=bias, bidirectional=bidirectional, impl="reference")
    ours.load_state_dict({k: v.float() for k, v in ref.state_dict().items()})
    torch32 = getattr(torch.nn, cell)(3, hidden, layers, bias=bias, bidirectional=bidirectional)
    torch32.load_state_dict(ours.state_dict())
    x = torch.randn(9, batch, 3, dtype=torch.float64) * scale
    return ref, ours, torch32, x


def _loss_and_grads(layer, x, lengths, final_only, autocast):
    x = x.detach().clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        data = pack_padded_sequence(x, lengths, enforce_sorted=False) if lengths is not None else x
        out, state = layer(data)
    out = out.data if lengths is not None else out
    state = state if isinstance(state, tuple) else (state,)
    loss = state[0].double().sum() + sum(s.double().pow(2).sum() for s in state[1:])
    if not final_only:
        loss = loss + out.double().pow(2).sum()
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return [out.double(), *(s.double() for s in state)], [g.double() for g in grads]


def _worst(ours, ref):
    """Largest error relative to the reference's largest magnitude, over a list of tensors."""
    return max(((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item() for a, b in zip(ours, ref))


@needs_extension
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("final_only", [False, True])
@pytest.mark.parametrize("scale", [1.0, 30.0])  # 30: saturated gates
def test_bf16_kernel_is_as_close_to_float64_as_torch_bf16(cell, packed, layers, bidirectional, final_only, scale):
    ref, ours, torch32, x = _layers(cell, layers, bidirectional, scale)
    lengths = torch.tensor([9, 4, 7, 1]) if packed else None
    want, want_grads = _loss_and_grads(ref, x, lengths, final_only, autocast=False)
    theirs, their_grads = _loss_and_grads(torch32, x.float(), lengths, final_only, autocast=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "runs in float32 under autocast": the bf16 kernel ran
        got, got_grads = _loss_and_grads(ours, x.float(), lengths, final_only, autocast=True)
    assert all(torch.isfinite(g).all() for g in got + got_grads)
    assert _worst(got, want) <= 1.5 * _worst(theirs, want) + 2e-3
    assert _worst(got_grads, want_grads) <= 1.5 * _worst(their_grads, want_grads) + 2e-3
    assert _worst(got, want) > 1e-5  # bf16 somewhere (the warnings filter above shows rnnkit's kernel ran)


@needs_extension
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_steps_split_over_threads_agree(cell):
    """Hidden 256 and batch 40: a step's rows run as parallel chunks (grain 16 rows) on 2 threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ref, ours, torch32, x = _layers(cell, 1, True, 1.0, hidden=256, batch=40)
        want, want_grads = _loss_and_grads(ref, x, None, False, autocast=False)
        theirs, their_grads = _loss_and_grads(torch32, x.float(), None, False, autocast=True)
        got, got_grads = _loss_and_grads(ours, x.float(), None, False, autocast=True)
    finally:
        torch.set_num_threads(threads)
    assert _worst(got, want) <= 1.5 * _worst(theirs, want) + 2e-3
    assert _worst(got_grads, want_grads) <= 1.5 * _worst(their_grads, want_grads) + 2e-3


@needs_extension
def test_bf16_gru_without_bias():
    ref, ours, torch32, x = _layers("GRU", 1, False, 1.0, bias=False)
    want, want_grads = _loss_and_grads(ref, x, None, False, autocast=False)
    theirs, their_grads = _loss_and_grads(torch32, x.float(), None, False, autocast=True)
    got, got_grads = _loss_and_grads(ours, x.float(), None, False, autocast=True)
    assert _worst(got, want) <= 1.5 * _worst(theirs, want) + 2e-3
    assert _worst(got_grads, want_grads) <= 1.5 * _worst(their_grads, want_grads) + 2e-3


@needs_extension
def test_rnn_and_projected_lstm_compute_in_float32_under_autocast():
    torch.manual_seed(0)
    x = torch.randn(6, 2, 3)
    for layer in (RNN(3, 8, impl="reference"), LSTM(3, 8, proj_size=4, impl="reference")):
        with pytest.warns(UserWarning, match="runs in float32 under autocast"):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = layer(x)[0]
        assert out.dtype == torch.float32
        assert torch.allclose(out, layer(x)[0], atol=1e-6)  # the same float32 computation


def test_a_fused_op_failing_under_autocast_falls_back_to_float32_for_that_layer(monkeypatch):
    """As oneDNN did on a Zen 3 CPU: the layer warns once and runs in float32 from then on."""
    calls, real = [], specs.CELLS["LSTM"].fused

    def picky(*args):
        calls.append(torch.is_autocast_enabled("cpu"))
        if calls[-1]:
            raise RuntimeError("could not create a primitive descriptor for an LSTM forward propagation primitive")
        return real(*args)

    monkeypatch.setitem(specs.CELLS, "LSTM", dataclasses.replace(specs.CELLS["LSTM"], fused=picky))
    layer, x = LSTM(3, 5, impl="fused"), torch.randn(4, 2, 3)
    with pytest.warns(RuntimeWarning, match="fused op failed under torch.bfloat16 autocast .could not create"):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = layer(x)[0]
    assert torch.equal(out, layer(x)[0])  # the float32 result
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        with torch.autocast("cpu", dtype=torch.bfloat16):
            layer(x)
    assert calls == [True, False, False, False]  # failed once, then float32 without trying again


def test_other_failures_of_the_fused_op_are_not_swallowed(monkeypatch):
    def out_of_memory(*args):
        raise RuntimeError("DefaultCPUAllocator: not enough memory")

    monkeypatch.setitem(specs.CELLS, "LSTM", dataclasses.replace(specs.CELLS["LSTM"], fused=out_of_memory))
    with pytest.raises(RuntimeError, match="not enough memory"):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            LSTM(3, 5, impl="fused")(torch.randn(4, 2, 3))


@needs_extension
def test_a_float64_model_under_bf16_autocast_keeps_its_dtype():
    layer = LSTM(3, 5, impl="reference").double()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(torch.randn(4, 2, 3, dtype=torch.float64))[0]
    assert out.dtype == torch.float64


@needs_extension
@pytest.mark.parametrize(
    "sizes,match",
    [([3, 3], "sum to 6 but there are 5 rows"), ([2, 3], "non-increasing"), ([], "at least one step"), ([5], "state")],
)
def test_the_cpp_entry_points_check_their_walk(sizes, match):
    """Bad sizes are a RuntimeError, never a read past the tensors (the Python glue passes good ones)."""
    ext, h = lstm_extension(), 2
    xg, state, w = torch.randn(5, 4 * h), torch.zeros(3, h), torch.randn(4 * h, h)
    for call in (
        lambda: ext.lstm_forward_bf16(xg, state, state, w, sizes, False),
        lambda: ext.lstm_forward(xg, state, state, w, torch.empty(0), sizes, False),
        lambda: ext.gru_forward_bf16(xg[:, : 3 * h], state, w[: 3 * h], torch.empty(0), sizes, False),
        lambda: ext.gru_forward(xg[:, : 3 * h].contiguous(), state, w[: 3 * h], torch.empty(0), sizes, False),
    ):
        with pytest.raises(RuntimeError, match=match):
            call()
