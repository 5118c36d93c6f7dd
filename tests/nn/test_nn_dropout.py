"""Weight-drop, locked dropout and embedding dropout."""

import dataclasses

import pytest
import torch

from rnnkit.nn import GRU, LSTM, LockedDropout, embedding_dropout
from rnnkit.nn.specs import CELLS


def test_locked_dropout_mask_is_shared_over_time_and_eval_is_identity():
    torch.manual_seed(0)
    drop = LockedDropout(0.5, batch_first=True)
    x = torch.ones(3, 7, 10, requires_grad=True)
    y = drop(x)
    assert torch.equal(y, y[:, :1].expand_as(y))  # same mask at every step
    assert set(y.unique().tolist()) <= {0.0, 2.0}  # kept values scaled by 1/(1-p)
    assert not torch.equal(y[0], y[1])  # but a different mask per sequence
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient flows through the mask
    time_major = LockedDropout(0.5, batch_first=False)(torch.ones(7, 3, 10))
    assert torch.equal(time_major, time_major[:1].expand_as(time_major))
    drop.eval()
    assert torch.equal(drop(x), x)
    with pytest.raises(ValueError, match=r"LockedDropout: p must be a number in \[0, 1\), got 1.5"):
        LockedDropout(1.5)


def test_embedding_dropout_drops_whole_words():
    torch.manual_seed(1)
    emb = torch.nn.Embedding(50, 8)
    tokens = torch.randint(0, 50, (4, 30))
    out = embedding_dropout(emb, tokens, 0.5)
    zero_rows = (out == 0).all(-1)
    for word in tokens.unique():  # a word is dropped everywhere or nowhere
        where = zero_rows[tokens == word]
        assert where.all() or not where.any()
    assert 0 < zero_rows.float().mean() < 1
    kept = ~zero_rows
    torch.testing.assert_close(out[kept], 2 * emb(tokens)[kept])
    out.sum().backward()
    assert emb.weight.grad is not None and emb.weight.grad.abs().sum() > 0
    assert torch.equal(embedding_dropout(emb, tokens, 0.5, training=False), emb(tokens))


@pytest.mark.parametrize("layer_cls", [LSTM, GRU])
def test_weight_drop_masks_weight_hh_on_the_fused_path(layer_cls, monkeypatch):
    torch.manual_seed(2)
    layer = layer_cls(6, 8, num_layers=2, batch_first=True, weight_dropout=0.5)
    x = torch.randn(3, 5, 6)
    calls = []
    spec = CELLS[layer.mode]

    def spy(*args, **kwargs):
        calls.append(args[2])
        return spec.fused(*args, **kwargs)

    monkeypatch.setitem(CELLS, layer.mode, dataclasses.replace(spec, fused=spy))
    layer.train()
    out, _ = layer(x)
    assert len(calls) == 1  # one call of the fused kernel: the fast path
    weights = dict(zip(layer._flat_weights_names, calls[0]))
    for name, w in weights.items():
        original = getattr(layer, name)
        if name.startswith("weight_hh"):
            dropped = w == 0
            assert 0.3 < dropped.float().mean() < 0.7
            torch.testing.assert_close(w[~dropped], 2 * original[~dropped])
        else:
            assert w is original
    out.sum().backward()
    assert layer.weight_hh_l1.grad is not None and layer.weight_hh_l1.grad.abs().sum() > 0
    layer.eval()
    a, _ = layer(x)
    b, _ = layer(x)
    assert torch.equal(a, b)  # deterministic in eval mode
    plain = layer_cls(6, 8, num_layers=2, batch_first=True)
    plain.load_state_dict(layer.state_dict())
    plain.eval()
    torch.testing.assert_close(plain(x)[0], a)  # eval mode = the undropped weights


def test_weight_drop_matches_reference_path_with_the_same_mask():
    layer = LSTM(4, 5, weight_dropout=0.3, batch_first=True).double()
    ref = LSTM(4, 5, weight_dropout=0.3, batch_first=True, impl="reference").double()
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(2, 6, 4, dtype=torch.float64)
    torch.manual_seed(5)
    a, _ = layer(x)
    torch.manual_seed(5)
    b, _ = ref(x)
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="weight_dropout must be a number in \\[0, 1\\)"):
        LSTM(4, 5, weight_dropout=1.0)
