"""The C++ LSTM kernel and the Python kernel compute the same values and gradients."""

import pytest
import torch
from helpers import as_tuple, layer_pair, sq
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn.kernels as kernels
from rnnkit.nn.extension import lstm_extension

needs_extension = pytest.mark.skipif(lstm_extension() is None, reason="C++ extension could not be built here")


def _run(ours, x, lengths):
    out, state = ours(pack_padded_sequence(x, lengths, enforce_sorted=False)) if lengths is not None else ours(x)
    out = out.data if hasattr(out, "data") and not isinstance(out, torch.Tensor) else out
    loss = out.pow(2).sum() + sum(s.sin().sum() for s in as_tuple(state))
    return [out, *as_tuple(state)], torch.autograd.grad(loss, [x] + list(ours.parameters()))


@needs_extension
@pytest.mark.parametrize("hidden,batch", [(4, 3), (100, 3), (700, 3)])  # tiny, scalar-pointwise, ATen regimes
@pytest.mark.parametrize("proj", [0, 2])
@pytest.mark.parametrize("packed", [False, True])
def test_cpp_kernel_matches_python_kernel(monkeypatch, hidden, batch, proj, packed):
    torch.manual_seed(0)
    _, ours = layer_pair("LSTM", input_size=2, hidden_size=hidden, proj_size=proj, bidirectional=True)
    x = torch.randn(4, batch, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2, 3][:batch]) if packed else None
    values_cpp, grads_cpp = _run(ours, x, lengths)
    monkeypatch.setattr(kernels, "lstm_extension", lambda: None)
    values_py, grads_py = _run(ours, x, lengths)
    for a, b in zip(values_cpp + list(grads_cpp), values_py + list(grads_py)):
        assert sq(a, b) < 1e-20


def _final_only(ours, x, lengths):
    """A loss on the final state alone (a classifier's): the kernel gets no output gradient."""
    _, state = ours(pack_padded_sequence(x, lengths, enforce_sorted=False)) if lengths is not None else ours(x)
    loss = sum(s.sin().sum() for s in as_tuple(state))
    return list(as_tuple(state)), torch.autograd.grad(loss, [x] + list(ours.parameters()))


@needs_extension
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("hidden", [3, 40])
@pytest.mark.parametrize("final_only", [False, True])
def test_cpp_gru_kernel_matches_python_kernel(monkeypatch, bias, packed, hidden, final_only):
    torch.manual_seed(0)
    _, ours = layer_pair("GRU", input_size=2, hidden_size=hidden, bias=bias, bidirectional=True, num_layers=2)
    x = torch.randn(5, 3, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 2, 4]) if packed else None
    run = _final_only if final_only else _run
    values_cpp, grads_cpp = run(ours, x, lengths)
    monkeypatch.setattr(kernels, "lstm_extension", lambda: None)
    values_py, grads_py = run(ours, x, lengths)
    for a, b in zip(values_cpp + list(grads_cpp), values_py + list(grads_py)):
        assert sq(a, b) < 1e-20


def test_bfloat16_reference_lstm_uses_python_kernel_and_agrees_with_float32():
    torch.manual_seed(0)
    _, ours = layer_pair("LSTM", dtype=torch.float32, input_size=3, hidden_size=4)
    x = torch.randn(5, 2, 3)
    y32 = ours(x)[0]
    y16 = ours.to(torch.bfloat16)(x.to(torch.bfloat16))[0]
    assert y16.dtype == torch.bfloat16
    assert torch.allclose(y16.float(), y32, atol=3e-2)
