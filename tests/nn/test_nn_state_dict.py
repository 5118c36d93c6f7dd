"""State dicts load both ways with strict=True; a torch-trained model keeps its outputs."""

import pytest
import torch
from helpers import OURS, TORCH, as_tuple


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
@pytest.mark.parametrize("extra", [{}, {"bidirectional": True, "num_layers": 3}, {"bias": False}])
def test_state_dict_round_trip_both_ways(mode, extra):
    kw = dict(input_size=4, hidden_size=6, **extra)
    ref, ours = TORCH[mode](**kw), OURS[mode](**kw)
    assert list(ref.state_dict()) == list(ours.state_dict())
    assert {k: v.shape for k, v in ref.state_dict().items()} == {k: v.shape for k, v in ours.state_dict().items()}
    ours.load_state_dict(ref.state_dict(), strict=True)
    back = TORCH[mode](**kw)
    back.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(5, 2, 4)
    for a, b in zip((ref(x)[0],) + as_tuple(ref(x)[1]), (back(x)[0],) + as_tuple(back(x)[1])):
        assert torch.equal(a, b)


def test_lstm_projection_state_dict():
    ref, ours = TORCH["LSTM"](4, 6, proj_size=3, num_layers=2), OURS["LSTM"](4, 6, proj_size=3, num_layers=2)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert "weight_hr_l1" in ours.state_dict()


@pytest.mark.parametrize("impl", ["auto", "reference"])
def test_model_trained_with_torch_gives_identical_outputs(impl):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(3, 8, num_layers=2, batch_first=True)
    head = torch.nn.Linear(8, 1)
    opt = torch.optim.Adam(list(ref.parameters()) + list(head.parameters()), lr=1e-2)
    x = torch.randn(16, 12, 3)
    target = x.cumsum(1)[:, :, :1]
    for _ in range(30):
        opt.zero_grad()
        loss = (head(ref(x)[0]) - target).pow(2).mean()
        loss.backward()
        opt.step()
    ours = OURS["LSTM"](3, 8, num_layers=2, batch_first=True, impl=impl)
    ours.load_state_dict(ref.state_dict(), strict=True)
    with torch.no_grad():
        y_ref, (h_ref, c_ref) = ref(x)
        y, (h, c) = ours(x)
    if impl == "auto":  # the same fused kernel: bit-identical
        assert torch.equal(y, y_ref) and torch.equal(h, h_ref) and torch.equal(c, c_ref)
    else:  # same equations, different float32 summation order
        assert torch.allclose(y, y_ref, atol=1e-5) and torch.allclose(c, c_ref, atol=1e-5)
