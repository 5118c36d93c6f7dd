"""Cells match torch.nn cells in float64, values and gradients."""

import pytest
import torch

import rnnkit.nn as rnn

CASES = [
    (rnn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    (rnn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    (rnn.LSTMCell, torch.nn.LSTMCell, {}),
    (rnn.GRUCell, torch.nn.GRUCell, {}),
]


@pytest.mark.parametrize("ours_cls,ref_cls,kw", CASES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_torch(ours_cls, ref_cls, kw, bias, batched):
    torch.manual_seed(0)
    ref = ref_cls(5, 4, bias=bias, dtype=torch.float64, **kw)
    ours = ours_cls(5, 4, bias=bias, dtype=torch.float64, **kw)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(*((3, 5) if batched else (5,)), dtype=torch.float64, requires_grad=True)
    h = torch.randn(*((3, 4) if batched else (4,)), dtype=torch.float64, requires_grad=True)
    hx = (h, torch.randn_like(h)) if ours_cls is rnn.LSTMCell else h
    out_ref, out = ref(x, hx), ours(x, hx)
    outs_ref = out_ref if isinstance(out_ref, tuple) else (out_ref,)
    outs = out if isinstance(out, tuple) else (out,)
    for a, b in zip(outs, outs_ref):
        assert float((a - b).detach().pow(2).sum()) < 1e-20
    g_ref = torch.autograd.grad(sum(o.sum() for o in outs_ref), [x, h] + list(ref.parameters()))
    g = torch.autograd.grad(sum(o.sum() for o in outs), [x, h] + list(ours.parameters()))
    for a, b in zip(g, g_ref):
        assert float((a - b).detach().pow(2).sum()) < 1e-20


def test_cell_zero_state_default():
    cell = rnn.LSTMCell(2, 3, dtype=torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64)
    zeros = torch.zeros(4, 3, dtype=torch.float64)
    assert torch.equal(cell(x)[0], cell(x, (zeros, zeros))[0])
