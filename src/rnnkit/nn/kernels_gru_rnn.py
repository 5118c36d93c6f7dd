"""The GRU and Elman RNN kernels over one layer and one direction (the LSTM's, and the
conventions all three share, are in :mod:`rnnkit.nn.kernels`).

Each is a ``torch.autograd.Function`` with a hand-written backward; ``xg`` ``(S, G*H)`` is the
input projection of every packed row, ``batch_sizes`` the rows per step, ``reverse`` walks time
backwards. The GRU runs its C++ kernel (``csrc/gru_scan.cpp``) where it is built.
"""

from __future__ import annotations

import torch
from torch.autograd import Function

from .extension import lstm_extension
from .kernels import EXT_DTYPES, or_empty, own_bf16
from .packed_views import batch_rows, cols, split, stack_previous
from .walk import walk_backward, walk_forward

_sigmoid_backward_ = torch.ops.aten.sigmoid_backward.grad_input
_tanh_backward_ = torch.ops.aten.tanh_backward.grad_input
_threshold_backward_ = torch.ops.aten.threshold_backward.grad_input


class GRUScan(Function):
    """GRU over one direction. Forward returns ``(out, h_n, gates)``.

    ``gates`` ``(S, 3H)`` holds the activated ``r, z, n``. ``xg`` must carry
    ``b_ih`` only: ``b_hh`` enters inside the reset product, as in torch.
    """

    @staticmethod
    def forward(ctx, xg, h0, w_hh, b_hh, batch_sizes, reverse):
        ctx.low, ctx.has_bias = w_hh.dtype == torch.float32 and own_bf16(xg.device), b_hh is not None
        ctx.batch_sizes, ctx.reverse = batch_sizes, reverse
        ctx.set_materialize_grads(False)
        if ctx.low:  # recurrent products in bf16, the rest in float32 (csrc/gru_bf16.cpp)
            ctx.ext = lstm_extension()
            out, h_n, gates, hidden_n, h_prev = ctx.ext.gru_forward_bf16(
                xg, h0, w_hh, or_empty(b_hh, h0), list(batch_sizes), reverse
            )
            ctx.save_for_backward(gates, hidden_n, out, h_prev, h0, w_hh)
            ctx.mark_non_differentiable(gates)
            return out, h_n, gates
        ext = lstm_extension() if xg.device.type == "cpu" and xg.dtype in EXT_DTYPES else None
        if ext is not None:
            out, h_n, gates, hidden_proj, h_prev = ext.gru_forward(
                xg, h0, w_hh, or_empty(b_hh, xg), list(batch_sizes), reverse
            )
        else:
            out, h_n, gates, hidden_proj, h_prev = _gru_forward(xg, h0, w_hh, b_hh, batch_sizes, reverse)
        ctx.save_for_backward(gates, hidden_proj, h_prev, w_hh)
        ctx.ext = ext
        ctx.mark_non_differentiable(gates)
        return out, h_n, gates

    @staticmethod
    def backward(ctx, d_out, d_hn, _d_gates):
        bs = ctx.batch_sizes
        if ctx.low:
            gates, hidden_n, out, h_prev, h0, w_hh = ctx.saved_tensors
            d_hn = d_hn if d_hn is not None else out.new_zeros(batch_rows(bs), out.shape[1])
            d_xg, d_h0, d_whh, d_bhh = ctx.ext.gru_backward_bf16(
                or_empty(d_out, out), d_hn, gates, hidden_n, out, h_prev, h0, w_hh, ctx.has_bias, list(bs), ctx.reverse
            )
            return d_xg, d_h0, d_whh, d_bhh if ctx.has_bias else None, None, None
        gates, hidden_proj, h_prev, w_hh = ctx.saved_tensors
        d_hn = d_hn if d_hn is not None else h_prev.new_zeros(batch_rows(bs), h_prev.shape[1])
        if ctx.ext is not None:
            d_xg, d_h0, d_whh, d_bhh = ctx.ext.gru_backward(
                or_empty(d_out, gates), d_hn, gates, hidden_proj, h_prev, w_hh, ctx.has_bias, list(bs), ctx.reverse
            )
        else:
            d_xg, d_h0, d_whh, d_bhh = _gru_backward(
                d_out, d_hn, gates, hidden_proj, h_prev, w_hh, ctx.has_bias, bs, ctx.reverse
            )
        d_whh = d_whh if ctx.needs_input_grad[2] else None
        d_bhh = d_bhh if ctx.has_bias and ctx.needs_input_grad[3] else None
        return d_xg, d_h0, d_whh, d_bhh, None, None


def _gru_forward(xg, h0, w_hh, b_hh, batch_sizes, reverse):
    """Python GRU walk; returns ``(out, h_n, gates, hidden_proj, h_prev)``."""
    hid = h0.shape[1]
    gates, hidden_proj = torch.empty_like(xg), torch.empty_like(xg)
    out = xg.new_empty(xg.shape[0], hid)
    xs_rz, xs_n = cols(xg, 0, 2 * hid, batch_sizes), cols(xg, 2 * hid, 3 * hid, batch_sizes)
    hgs = split(hidden_proj, batch_sizes)
    hg_rz, hg_n = cols(hidden_proj, 0, 2 * hid, batch_sizes), cols(hidden_proj, 2 * hid, 3 * hid, batch_sizes)
    g_rz, g_r, g_z, g_n = (
        cols(gates, a, b, batch_sizes) for a, b in ((0, 2 * hid), (0, hid), (hid, 2 * hid), (2 * hid, 3 * hid))
    )
    outs = split(out, batch_sizes)
    whh_t = w_hh.t()

    def step(t, state):
        (h,) = state
        if b_hh is not None:
            torch.addmm(b_hh, h, whh_t, out=hgs[t])
        else:
            torch.mm(h, whh_t, out=hgs[t])
        torch.add(xs_rz[t], hg_rz[t], out=g_rz[t]).sigmoid_()
        torch.addcmul(xs_n[t], g_r[t], hg_n[t], out=g_n[t]).tanh_()
        h_new = outs[t]
        torch.sub(h, g_n[t], out=h_new)
        h_new.mul_(g_z[t]).add_(g_n[t])  # h' = n + z * (h - n) = (1 - z) * n + z * h
        return (h_new,)

    (h_n,), previous = walk_forward(step, (h0,), batch_sizes, reverse)
    return out, h_n, gates, hidden_proj, stack_previous(previous, 0)


def _gru_backward(d_out, d_hn, gates, hidden_proj, h_prev, w_hh, has_bias, bs, reverse):
    """BPTT through :func:`_gru_forward`; returns ``(d_xg, d_h0, d_whh, d_bhh)``."""
    hid = h_prev.shape[1]
    d_xg, d_hg = torch.empty_like(gates), torch.empty_like(gates)
    g_r, g_z, g_n = (cols(gates, k * hid, (k + 1) * hid, bs) for k in range(3))
    s_rz = cols(gates, 0, 2 * hid, bs)
    hg_n = cols(hidden_proj, 2 * hid, 3 * hid, bs)
    dx_rz, dx_r, dx_z, dx_n = (
        cols(d_xg, a, b, bs) for a, b in ((0, 2 * hid), (0, hid), (hid, 2 * hid), (2 * hid, 3 * hid))
    )
    dh_rz, dh_n = cols(d_hg, 0, 2 * hid, bs), cols(d_hg, 2 * hid, 3 * hid, bs)
    dhgs, hps = split(d_hg, bs), split(h_prev, bs)
    douts = split(d_out, bs) if d_out is not None else None

    def step_back(t, grad):
        (dh,) = grad
        if douts is not None:
            dh = dh + douts[t]
        dh_z = dh * g_z[t]
        torch.sub(dh, dh_z, out=dx_n[t])  # dn = dh * (1 - z)
        _tanh_backward_(dx_n[t], g_n[t], grad_input=dx_n[t])
        torch.mul(dx_n[t], hg_n[t], out=dx_r[t])
        torch.sub(hps[t], g_n[t], out=dx_z[t]).mul_(dh)
        _sigmoid_backward_(dx_rz[t], s_rz[t], grad_input=dx_rz[t])
        dh_rz[t].copy_(dx_rz[t])
        torch.mul(dx_n[t], g_r[t], out=dh_n[t])
        return (torch.addmm(dh_z, dhgs[t], w_hh),)

    (d_h0,) = walk_backward(step_back, (d_hn,), bs, reverse)
    return d_xg, d_h0, d_hg.t() @ h_prev, d_hg.sum(0) if has_bias else None


class RNNScan(Function):
    """Elman RNN (tanh or relu) over one direction. Forward returns ``(out, h_n)``.

    ``xg`` carries both biases.
    """

    @staticmethod
    def forward(ctx, xg, h0, w_hh, relu, batch_sizes, reverse):
        out = torch.empty_like(xg)
        xs, outs = split(xg, batch_sizes), split(out, batch_sizes)
        whh_t = w_hh.t()

        def step(t, state):
            h_new = torch.addmm(xs[t], state[0], whh_t, out=outs[t])
            return (h_new.relu_() if relu else h_new.tanh_(),)

        (h_n,), previous = walk_forward(step, (h0,), batch_sizes, reverse)
        ctx.save_for_backward(out, stack_previous(previous, 0), w_hh)
        ctx.batch_sizes, ctx.reverse, ctx.relu = batch_sizes, reverse, relu
        ctx.set_materialize_grads(False)
        return out, h_n

    @staticmethod
    def backward(ctx, d_out, d_hn):
        out, h_prev, w_hh = ctx.saved_tensors
        bs = ctx.batch_sizes
        d_pre = torch.empty_like(out)
        dps, outs = split(d_pre, bs), split(out, bs)
        douts = split(d_out, bs) if d_out is not None else None

        def step_back(t, grad):
            dh = grad[0] + douts[t] if douts is not None else grad[0]
            if ctx.relu:
                _threshold_backward_(dh, outs[t], 0, grad_input=dps[t])
            else:
                _tanh_backward_(dh, outs[t], grad_input=dps[t])
            return (dps[t] @ w_hh,)

        d_hn = d_hn if d_hn is not None else out.new_zeros(batch_rows(bs), out.shape[1])
        (d_h0,) = walk_backward(step_back, (d_hn,), bs, ctx.reverse)
        d_whh = d_pre.t() @ h_prev if ctx.needs_input_grad[2] else None
        return d_pre, d_h0, d_whh, None, None, None
