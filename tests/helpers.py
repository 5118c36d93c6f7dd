"""Shared test helpers: build a torch.nn layer and its rnnkit twin with the same weights."""
import torch

import rnnkit.nn as rnn

TORCH = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN_TANH": torch.nn.RNN, "RNN_RELU": torch.nn.RNN}
OURS = {"LSTM": rnn.LSTM, "GRU": rnn.GRU, "RNN_TANH": rnn.RNN, "RNN_RELU": rnn.RNN}


def layer_pair(mode, impl="reference", dtype=torch.float64, **kw):
    """(torch layer, rnnkit layer) with identical parameters, loaded strictly from torch."""
    if mode.startswith("RNN"):
        kw["nonlinearity"] = mode[4:].lower()
    ref = TORCH[mode](dtype=dtype, **kw)
    ours = OURS[mode](impl=impl, dtype=dtype, **kw)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def sq(a, b):
    """Summed squared difference."""
    return float((a - b).detach().pow(2).sum())
