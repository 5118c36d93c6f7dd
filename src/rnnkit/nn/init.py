"""Initialisations of recurrent layers that the gradient-flow literature recommends.

They work on any layer with ``torch.nn``'s parameter names (``weight_hh_l{k}``,
``bias_ih_l{k}`` ..., gate blocks stacked in the documented order), so on
rnnkit's and torch's layers alike.
"""
from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def forget_bias_(lstm: nn.Module, value: float) -> None:
    """Set every LSTM forget gate's total bias (``bias_ih + bias_hh``, block 1 of i, f, g, o) to
    ``value`` (Gers et al., 2000; Jozefowicz et al., 2015 recommend 1)."""
    hidden = lstm.hidden_size
    for name, bias in lstm.named_parameters():
        if name.startswith("bias_ih"):
            bias[hidden:2 * hidden] = value
        elif name.startswith("bias_hh"):
            bias[hidden:2 * hidden] = 0.0


@torch.no_grad()
def recurrent_init_(rnn: nn.Module, kind: str, scale: float = 1.0) -> None:
    """Each gate's block of every ``weight_hh`` set to the ``orthogonal`` or ``identity`` matrix
    (``default`` keeps torch's uniform one), then multiplied by ``scale``."""
    hidden = rnn.hidden_size
    for name, weight in rnn.named_parameters():
        if not name.startswith("weight_hh"):
            continue
        for block in weight.split(hidden):
            if kind == "orthogonal":
                nn.init.orthogonal_(block)
            elif kind == "identity":
                block.copy_(torch.eye(hidden, dtype=block.dtype))
            elif kind != "default":
                raise ValueError(f"recurrent init: expected default, orthogonal or identity, got {kind!r}")
        weight.mul_(scale)
