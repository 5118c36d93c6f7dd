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
            bias[hidden : 2 * hidden] = value
        elif name.startswith("bias_hh"):
            bias[hidden : 2 * hidden] = 0.0


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


@torch.no_grad()
def chrono_init_(rnn: nn.Module, t_max: int, generator: torch.Generator = None) -> None:
    """Chrono initialisation (Tallec & Ollivier, 2018) for dependencies up to ``t_max`` steps.

    LSTM: forget-gate bias log(u), u ~ U(1, t_max - 1), input-gate bias -log(u), so unit j
    keeps its memory for about u_j steps at the start. GRU (torch's h = (1 - z) n + z h): the
    update gate z plays the forget gate's part, bias log(u). Totals over ``bias_ih`` +
    ``bias_hh`` (``bias_hh`` set to 0 for those gates)."""
    if t_max < 3:
        raise ValueError(f"chrono init: expected t_max >= 3, got {t_max}")
    hidden = rnn.hidden_size
    gru = type(rnn).__name__ == "GRU"
    if not gru and type(rnn).__name__ != "LSTM":
        raise ValueError(f"chrono init is for LSTM and GRU layers, got {type(rnn).__name__}")
    for name, bias in rnn.named_parameters():
        if not name.startswith("bias_"):
            continue
        u = 1 + (t_max - 2) * torch.rand(hidden, generator=generator, dtype=torch.float64)
        keep = u.log().to(bias.dtype)
        if name.startswith("bias_hh"):
            bias[hidden : 2 * hidden] = 0.0  # i,f,g,o: f block; r,z,n: z block
            if not gru:
                bias[:hidden] = 0.0
        elif gru:
            bias[hidden : 2 * hidden] = keep
        else:
            bias[hidden : 2 * hidden] = keep
            bias[:hidden] = -keep
