"""First-principles recurrences over one layer and one direction.

Each kernel is a ``torch.autograd.Function`` with a hand-written backward
(back-propagation through time written out from the cell equations), because
letting autograd record every pointwise op of every time step costs several
times more than the arithmetic at small and medium sizes.

Common conventions (legend: S = total packed rows, N = batch, H = hidden size,
H_out = output size, G = number of gates):

* ``xg`` ``(S, G*H)``: the input projection of every step, computed by the
  caller in one matmul (``x @ W_ih^T + b``), packed as in
  :mod:`rnnkit.nn.walk`.
* ``batch_sizes``: rows per time step (a tuple of Python ints).
* ``reverse``: walk time backwards (the second direction of a bidirectional layer).
* Returned ``out`` ``(S, H_out)`` is packed the same way as ``xg``.

Gate order and equations follow ``torch.nn`` exactly; see the layer docstrings.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd import Function

from .extension import lstm_extension
from .packed_views import batch_rows, cols, split, stack_previous
from .walk import walk_backward, walk_forward

_sigmoid_backward_ = torch.ops.aten.sigmoid_backward.grad_input
_tanh_backward_ = torch.ops.aten.tanh_backward.grad_input
_tanh_backward = torch.ops.aten.tanh_backward
EXT_DTYPES = (torch.float32, torch.float64)  # what the C++ kernel's scalar loops are built for


class LSTMScan(Function):
    """LSTM over one direction. Forward returns ``(out, h_n, c_n, gates, cells)``.

    ``gates`` ``(S, 4H)`` holds the activated gates ``i, f, g, o`` and ``cells``
    ``(S, H)`` the cell states; they are what gate introspection reports.
    """

    @staticmethod
    def forward(ctx, xg, h0, c0, w_hh, w_hr, batch_sizes, reverse):
        ctx.low = w_hr is None and w_hh.dtype == torch.float32 and own_bf16(xg.device)
        ctx.batch_sizes, ctx.reverse = batch_sizes, reverse
        ctx.set_materialize_grads(False)
        if ctx.low:  # recurrent products in bf16, the rest in float32 (csrc/lstm_bf16.cpp)
            ctx.ext = lstm_extension()
            out, h_n, c_n, gates, cells, h_prev = ctx.ext.lstm_forward_bf16(
                xg, h0, c0, w_hh, list(batch_sizes), reverse
            )
            ctx.save_for_backward(gates, cells, h_prev, c0, w_hh)
        else:
            ctx.ext = lstm_extension() if xg.device.type == "cpu" and xg.dtype in EXT_DTYPES else None
            if ctx.ext is not None:
                result = ctx.ext.lstm_forward(xg, h0, c0, w_hh, or_empty(w_hr, xg), list(batch_sizes), reverse)
            else:
                result = _lstm_forward(xg, h0, c0, w_hh, w_hr, batch_sizes, reverse)
            out, h_n, c_n, gates, cells, tanh_c, h_prev, c_prev, pre_proj = result
            ctx.save_for_backward(gates, tanh_c, h_prev, c_prev, w_hh, w_hr, pre_proj if w_hr is not None else None)
        ctx.mark_non_differentiable(gates, cells)
        return out, h_n, c_n, gates, cells

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn, _d_gates, _d_cells):
        if ctx.low:
            return (*_lstm_backward_bf16(ctx, d_out, d_hn, d_cn), None, None, None)
        gates, tanh_c, h_prev, c_prev, w_hh, w_hr, pre_proj = ctx.saved_tensors
        bs, n = ctx.batch_sizes, batch_rows(ctx.batch_sizes)
        d_hn = d_hn if d_hn is not None else h_prev.new_zeros(n, h_prev.shape[1])
        d_cn = d_cn if d_cn is not None else tanh_c.new_zeros(n, tanh_c.shape[1])
        if ctx.ext is not None:
            d_xg, d_h0, d_c0, d_whh, d_whr = ctx.ext.lstm_backward(
                or_empty(d_out, gates),
                d_hn,
                d_cn,
                gates,
                tanh_c,
                h_prev,
                c_prev,
                w_hh,
                or_empty(w_hr, gates),
                or_empty(pre_proj, gates),
                list(bs),
                ctx.reverse,
            )
            d_whr = d_whr if w_hr is not None else None
        else:
            d_xg, d_h0, d_c0, d_whh, d_whr = _lstm_backward(
                d_out, d_hn, d_cn, gates, tanh_c, h_prev, c_prev, w_hh, w_hr, pre_proj, bs, ctx.reverse
            )
        return d_xg, d_h0, d_c0, d_whh, d_whr, None, None


def _lstm_backward_bf16(ctx, d_out, d_hn, d_cn):
    """``(d_xg, d_h0, d_c0, d_whh)`` of the bf16 walk (``csrc/lstm_bf16.cpp``)."""
    gates, cells, h_prev, c0, w_hh = ctx.saved_tensors
    n = batch_rows(ctx.batch_sizes)
    d_hn = d_hn if d_hn is not None else cells.new_zeros(n, cells.shape[1])
    d_cn = d_cn if d_cn is not None else cells.new_zeros(n, cells.shape[1])
    return ctx.ext.lstm_backward_bf16(
        or_empty(d_out, cells), d_hn, d_cn, gates, cells, h_prev, c0, w_hh, list(ctx.batch_sizes), ctx.reverse
    )


def _lstm_forward(xg, h0, c0, w_hh, w_hr, batch_sizes, reverse):
    """Python LSTM walk; returns ``(out, h_n, c_n, gates, cells, tanh_c, h_prev, c_prev, pre_proj)``."""
    hid = c0.shape[1]
    rows = xg.shape[0]
    gates = torch.empty_like(xg)
    cells = xg.new_empty(rows, hid)
    tanh_c = xg.new_empty(rows, hid)
    out = xg.new_empty(rows, h0.shape[1])
    pre_proj = xg.new_empty(rows, hid) if w_hr is not None else out
    xs, gs = split(xg, batch_sizes), split(gates, batch_sizes)
    g_if, g_g, g_o = (cols(gates, a, b, batch_sizes) for a, b in ((0, 2 * hid), (2 * hid, 3 * hid), (3 * hid, 4 * hid)))
    g_i, g_f = cols(gates, 0, hid, batch_sizes), cols(gates, hid, 2 * hid, batch_sizes)
    cs, tcs, outs, ms = (
        split(cells, batch_sizes),
        split(tanh_c, batch_sizes),
        split(out, batch_sizes),
        split(pre_proj, batch_sizes),
    )
    whh_t = w_hh.t()
    whr_t = w_hr.t() if w_hr is not None else None

    def step(t, state):
        h, c = state
        torch.addmm(xs[t], h, whh_t, out=gs[t])
        g_if[t].sigmoid_()
        g_g[t].tanh_()
        g_o[t].sigmoid_()
        c_new = cs[t]
        torch.mul(g_f[t], c, out=c_new)
        c_new.addcmul_(g_i[t], g_g[t])
        torch.tanh(c_new, out=tcs[t])
        torch.mul(g_o[t], tcs[t], out=ms[t])
        if whr_t is not None:
            torch.mm(ms[t], whr_t, out=outs[t])
        return outs[t], c_new

    (h_n, c_n), previous = walk_forward(step, (h0, c0), batch_sizes, reverse)
    h_prev, c_prev = stack_previous(previous, 0), stack_previous(previous, 1)
    return out, h_n, c_n, gates, cells, tanh_c, h_prev, c_prev, pre_proj


def _lstm_backward(d_out, d_hn, d_cn, gates, tanh_c, h_prev, c_prev, w_hh, w_hr, pre_proj, bs, reverse):
    """BPTT through :func:`_lstm_forward`; returns ``(d_xg, d_h0, d_c0, d_whh, d_whr)``."""
    hid = tanh_c.shape[1]
    d_gates = torch.empty_like(gates)
    d_h_all = torch.empty_like(h_prev) if w_hr is not None else None
    dgs = split(d_gates, bs)
    d_i, d_f, d_g, d_o = (cols(d_gates, k * hid, (k + 1) * hid, bs) for k in range(4))
    d_if, d_gg, d_oo = (cols(d_gates, a, b, bs) for a, b in ((0, 2 * hid), (2 * hid, 3 * hid), (3 * hid, 4 * hid)))
    g_i, g_f, g_g, g_o = (cols(gates, k * hid, (k + 1) * hid, bs) for k in range(4))
    s_if, s_gg, s_oo = (cols(gates, a, b, bs) for a, b in ((0, 2 * hid), (2 * hid, 3 * hid), (3 * hid, 4 * hid)))
    tcs, cps = split(tanh_c, bs), split(c_prev, bs)
    douts = split(d_out, bs) if d_out is not None else None
    dhs = split(d_h_all, bs) if d_h_all is not None else None

    def step_back(t, grad):
        dh, dc = grad
        if douts is not None:
            dh = dh + douts[t]
        if dhs is not None:
            dhs[t].copy_(dh)
            dh = dh @ w_hr  # gradient w.r.t. o * tanh(c), before the projection
        dc = dc + _tanh_backward(dh * g_o[t], tcs[t])
        torch.mul(dc, g_g[t], out=d_i[t])
        torch.mul(dc, cps[t], out=d_f[t])
        torch.mul(dc, g_i[t], out=d_g[t])
        torch.mul(dh, tcs[t], out=d_o[t])
        _sigmoid_backward_(d_if[t], s_if[t], grad_input=d_if[t])
        _tanh_backward_(d_gg[t], s_gg[t], grad_input=d_gg[t])
        _sigmoid_backward_(d_oo[t], s_oo[t], grad_input=d_oo[t])
        return dgs[t] @ w_hh, dc * g_f[t]

    d_h0, d_c0 = walk_backward(step_back, (d_hn, d_cn), bs, reverse)
    d_whr = d_h_all.t() @ pre_proj if w_hr is not None else None
    return d_gates, d_h0, d_c0, d_gates.t() @ h_prev, d_whr


def own_bf16(device: torch.device) -> bool:
    """Whether rnnkit's bf16 kernels (LSTM without projection, GRU) run here: under a CPU
    bfloat16 autocast, with the C++ extension built (elsewhere they compute in float32)."""
    return (
        device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and lstm_extension() is not None
    )


def or_empty(t, like: Tensor) -> Tensor:
    """The C++ kernel takes an empty tensor where Python has None."""
    return t if t is not None else like.new_empty(0)
