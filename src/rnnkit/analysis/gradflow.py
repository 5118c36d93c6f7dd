"""How far back a gradient reaches: the norm of d h_T / d x_t for every step t.

For a layer run on x (N, T, F) from a zero state, ``J_t = d h_T / d x_t`` is an
(H, F) matrix per sequence (h_T: the top layer's final hidden state, forward
direction). Backpropagation multiplies one recurrent Jacobian per step:

    d h_T / d x_t = (prod_{s=t+1..T} d h_s / d h_{s-1}) d h_t / d x_t

so its norm shrinks (or grows) roughly geometrically with the distance T - t.
:func:`step_factor` predicts the rate from the parameters and the states seen:

* plain RNN, ``d h_s / d h_{s-1} = diag(phi'(a_s)) W_hh``: the spectral radius
  of W_hh times the mean of phi' (tanh' = 1 - h^2; ReLU' = share of active units);
* LSTM: the memory path ``d c_s / d c_{s-1} = diag(f_s)`` plus the path through the
  candidate, ``o_s tanh'(c_s) i_s g'_s W_hg``: mean(f) + mean(o tanh'(c) i g') rho(W_hg);
* GRU (torch's ``h_s = (1 - z_s) * n_s + z_s * h_{s-1}``): the carry path z plus the
  candidate path: mean(z) + mean((1 - z) n' r) rho(W_hn).

(Each is the spectral radius of the recurrent Jacobian with every diagonal factor replaced by
its mean: a first-order estimate that ignores the paths through the other gates.)

The predicted distance at which the norm falls to ``level`` of its value at
t = T is ``log(level) / log(factor)``.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from rnnkit.nn import build_rnn, cell_spec, check_cell
from rnnkit.nn.init import forget_bias_, recurrent_init_

INITS = ("default", "orthogonal", "identity")


def make_layer(
    cell: str,
    input_size: int,
    hidden: int,
    num_layers: int = 1,
    init: str = "default",
    forget_bias: Optional[float] = None,
    scale: float = 1.0,
) -> torch.nn.Module:
    """A float64, batch_first rnnkit layer, initialised as asked (call after seeding).

    ``init``: torch's default uniform, ``orthogonal`` or ``identity`` recurrent weights (each
    gate's block); ``forget_bias``: the LSTM forget gate's total bias; ``scale``: W_hh is
    multiplied by it (spectral radius times ``scale``: below 1 vanishing, above 1 exploding).
    """
    spec = check_cell(cell, what="--cells")
    if forget_bias is not None and not spec.has_forget_gate:
        raise ValueError(f"--forget-bias is the LSTM forget gate's; it does not apply to {cell}")
    if init not in INITS:
        raise ValueError(f"--init: expected one of {', '.join(INITS)}, got {init!r}")
    layer = build_rnn(cell, input_size, hidden, num_layers, 0.0).double()
    recurrent_init_(layer, init, scale)
    if forget_bias is not None:
        forget_bias_(layer, forget_bias)
    return layer.eval()


def _batch_first(layer, x: Tensor):
    """Run ``layer`` on batch-first x (N, T, F) whatever its own layout; (output (N, T, .), state)."""
    if getattr(layer, "batch_first", False):
        return layer(x)
    output, state = layer(x.transpose(0, 1))
    return output.transpose(0, 1), state


def final_hidden(layer, state) -> Tensor:
    """The top layer's forward-direction final hidden state (N, H) from a layer's returned state."""
    h = state[0] if isinstance(state, tuple) else state  # (D * layers, N, H)
    directions = 2 if getattr(layer, "bidirectional", False) else 1
    return h[-directions]


def input_jacobian_norms(layer, x: Tensor) -> Tensor:
    """Frobenius norms (N, T) of d h_T / d x_t for inputs x (N, T, F), in one backward pass.

    Each sequence is repeated once per hidden unit j (batch H * N) and copy j backpropagates
    only h_T[j], so the input gradients of the copies are the rows of the Jacobian.
    """
    n, steps, features = x.shape
    probe = final_hidden(layer, _batch_first(layer, x[:1])[1])
    units = probe.shape[-1]
    copies = x.detach().unsqueeze(0).expand(units, n, steps, features).reshape(units * n, steps, features)
    copies = copies.clone().requires_grad_(True)
    h = final_hidden(layer, _batch_first(layer, copies)[1]).reshape(units, n, units)  # (copy, N, unit)
    picked = h.diagonal(dim1=0, dim2=2)  # (N, H): copy j's unit j
    (grad,) = torch.autograd.grad(picked.sum(), copies)
    rows = grad.reshape(units, n, steps, features)
    return rows.pow(2).sum(dim=(0, 3)).sqrt()  # (N, T)


def _spectral_radius(weight: Tensor) -> float:
    return float(torch.linalg.eigvals(weight.detach().double()).abs().max())


def step_factor(layer, cell: str, x: Tensor) -> float:
    """The per-step factor predicted from the recurrent Jacobian (see the module docstring), over
    the states a one-layer ``layer`` visits on x (N, T, F); NaN for a stack of layers."""
    if getattr(layer, "num_layers", 1) > 1:
        return math.nan  # the rule is one layer's; a stack multiplies several Jacobians per step
    with torch.no_grad():
        inputs = x if getattr(layer, "batch_first", False) else x.transpose(0, 1)
        _, _, gates = layer.trace(inputs)
    first = {name: value[0] for name, value in gates.items()}  # layer 0, forward direction
    hidden = layer.hidden_size
    carry, candidate, block = cell_spec(cell).jacobian_paths(first)
    through = float(candidate.mean()) * _spectral_radius(layer.weight_hh_l0[block * hidden : (block + 1) * hidden])
    return through if carry is None else float(carry.mean()) + through


def decay_distance(ratios: Tensor, level: float) -> float:
    """The distance k (interpolated in log space) at which ``ratios`` (K,), the norm at distance
    k over the norm at distance 0, first falls below ``level``; inf if it never does."""
    logs = ratios.double().clamp(min=1e-300).log10()
    target = math.log10(level)
    below = (logs < target).nonzero()
    if not len(below):
        return math.inf
    k = int(below[0])
    if k == 0:
        return 0.0
    a, b = float(logs[k - 1]), float(logs[k])
    return k - 1 + (a - target) / (a - b)


def predicted_distance(factor: float, level: float) -> float:
    """``log(level) / log(factor)``; inf when the factor does not shrink (>= 1)."""
    if math.isnan(factor):
        return math.nan
    return math.log(level) / math.log(factor) if 0 < factor < 1 else math.inf


def flow_curves(layer, cell: str, x: Tensor) -> tuple[Tensor, float]:
    """(ratio (N, T) of each sequence's norm at distance k = 0..T-1 to its norm at distance 0,
    predicted step factor)."""
    norms = input_jacobian_norms(layer, x).flip(-1)  # (N, T): distance 0 first
    return norms / norms[:, :1], step_factor(layer, cell, x)
