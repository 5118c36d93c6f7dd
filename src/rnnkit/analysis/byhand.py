"""The seeds' exercise, written out: a plain tanh RNN over three steps from h_0 = 0.

    h_t = tanh(W h_{t-1} + V x_{t-1}),   t = 1, 2, 3,   h_0 = 0

(W: H x H recurrent weights, V: H x F input weights; ``rnnkit.nn.RNN`` with
``weight_hh_l0 = W``, ``weight_ih_l0 = V``, zero biases and inputs x_0, x_1, x_2
computes the same h_3). With D_t = diag(1 - h_t^2) (tanh' at step t) and the
backward products M_3 = D_3, M_2 = D_3 W D_2, M_1 = D_3 W D_2 W D_1:

    d h_3 / d x_0        = D_3 W D_2 W D_1 V                       (H x F)
    d h_3[a] / d V[i, j] = sum_{s=1..3} M_s[a, i] x_{s-1}[j]        (H x H x F)
    d h_3[a] / d W[i, j] = sum_{s=1..3} M_s[a, i] h_{s-1}[j]        (H x H x H)
                         = M_3[a, i] h_2[j] + M_2[a, i] h_1[j]      (the s = 1 term has h_0 = 0)

Each factor W D_s is one step of the recurrent Jacobian: the product of such
factors is what makes d h_3 / d x_0 smaller than d h_3 / d x_2 = D_3 V.
"""

from __future__ import annotations

import torch
from torch import Tensor


def states(W: Tensor, V: Tensor, xs: Tensor) -> list[Tensor]:
    """[h_0, h_1, h_2, h_3] for inputs xs (3, F)."""
    h = [torch.zeros(W.shape[0], dtype=W.dtype)]
    for x in xs:
        h.append(torch.tanh(W @ h[-1] + V @ x))
    return h


def backward_products(W: Tensor, h: list[Tensor]) -> dict[int, Tensor]:
    """{s: M_s} with M_s = d h_3 / d a_s (H x H), a_s the pre-activation of step s."""
    D = {t: torch.diag(1 - h[t].pow(2)) for t in (1, 2, 3)}
    M = {3: D[3]}
    M[2] = M[3] @ W @ D[2]
    M[1] = M[2] @ W @ D[1]
    return M


def by_hand(W: Tensor, V: Tensor, xs: Tensor) -> dict[str, Tensor]:
    """``dh3_dx0`` (H, F), ``dh3_dV`` (H, H, F), ``dh3_dW`` (H, H, H) from the formulas above."""
    h = states(W, V, xs)
    M = backward_products(W, h)
    return {
        "h3": h[3],
        "dh3_dx0": M[1] @ V,
        "dh3_dV": sum(torch.einsum("ai,j->aij", M[s], xs[s - 1]) for s in (1, 2, 3)),
        "dh3_dW": sum(torch.einsum("ai,j->aij", M[s], h[s - 1]) for s in (1, 2, 3)),
    }


def by_autograd(W: Tensor, V: Tensor, xs: Tensor) -> dict[str, Tensor]:
    """The same three Jacobians from autograd through ``rnnkit.nn.RNN`` (float64)."""
    from torch.autograd.functional import jacobian

    from rnnkit.nn import RNN

    hidden, features = V.shape

    def h3(w, v, inputs):
        layer = RNN(features, hidden, bias=False).double()
        del layer.weight_hh_l0, layer.weight_ih_l0  # plain tensors in their place, so autograd sees w and v
        layer.weight_hh_l0, layer.weight_ih_l0 = w, v
        return layer(inputs.unsqueeze(1))[1][0, 0]  # (L, N=1, F) in, final state (H,)

    dW, dV, dx = jacobian(h3, (W, V, xs))
    return {"h3": h3(W, V, xs), "dh3_dx0": dx[:, 0], "dh3_dV": dV, "dh3_dW": dW}
