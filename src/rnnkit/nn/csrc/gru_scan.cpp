// First-principles GRU over one direction of a packed batch: the same algorithm as GRUScan in
// rnnkit/nn/kernels_gru_rnn.py (read that first), moved to C++ so each time step costs a few ATen calls
// instead of a few Python calls. Gate order r, z, n (torch's); h' = n + z * (h - n).
// Shapes: xg (S, 3H) input projection with b_ih; h0 (N, H); w_hh (3H, H); b_hh (3H) or empty.
#include <torch/extension.h>

#include <vector>

#include "scan_walk.h"

using rnnkit_scan::check_walk;
using rnnkit_scan::join_rows;
using rnnkit_scan::offsets_of;
using rnnkit_scan::rows_back;
using rnnkit_scan::step_order;
using torch::Tensor;

// Returns {out, h_n, gates (activated r, z, n), hidden_proj (h @ w_hh^T + b_hh), h_prev}.
std::vector<Tensor> gru_forward(const Tensor& xg, const Tensor& h0, const Tensor& w_hh, const Tensor& b_hh,
                                const std::vector<int64_t>& sizes, bool reverse) {
  const bool bias = b_hh.defined() && b_hh.numel() > 0;
  const int64_t S = xg.size(0), H = h0.size(1);
  check_walk("gru_forward", sizes, S, h0.size(0), w_hh, 3 * H, H);
  TORCH_CHECK(xg.dim() == 2 && xg.size(1) == 3 * H, "gru_forward: xg must be (S, 3H)");
  auto gates = torch::empty_like(xg);
  auto hidden_proj = torch::empty_like(xg);
  auto out = xg.new_empty({S, H});
  auto h_prev = xg.new_empty({S, H});
  const auto order = step_order(sizes, reverse);
  const auto off = offsets_of(sizes);
  const auto whh_t = w_hh.t();
  const auto h0c = h0.contiguous();
  int64_t rows = sizes[order[0]];
  Tensor h = h0c.narrow(0, 0, rows);
  std::vector<Tensor> done;
  for (int64_t t : order) {
    const int64_t b = sizes[t], o = off[t];
    if (b < rows) {  // sequences b..rows-1 ended at the previous step
      done.push_back(h.narrow(0, b, rows - b));
      h = h.narrow(0, 0, b);
    } else if (b > rows) {  // sequences rows..b-1 start here, from the initial state
      h = torch::cat({h, h0c.narrow(0, rows, b - rows)});
    }
    rows = b;
    h_prev.narrow(0, o, b).copy_(h);
    auto hg = hidden_proj.narrow(0, o, b);
    if (bias) {
      at::addmm_out(hg, b_hh, h, whh_t);
    } else {
      at::mm_out(hg, h, whh_t);
    }
    auto x = xg.narrow(0, o, b), g = gates.narrow(0, o, b);
    auto g_rz = g.narrow(1, 0, 2 * H), g_r = g.narrow(1, 0, H), g_z = g.narrow(1, H, H), g_n = g.narrow(1, 2 * H, H);
    at::add_out(g_rz, x.narrow(1, 0, 2 * H), hg.narrow(1, 0, 2 * H));
    g_rz.sigmoid_();
    at::addcmul_out(g_n, x.narrow(1, 2 * H, H), g_r, hg.narrow(1, 2 * H, H));
    g_n.tanh_();
    auto h_new = out.narrow(0, o, b);
    at::sub_out(h_new, h, g_n);
    h_new.mul_(g_z).add_(g_n);
    h = h_new;
  }
  return {out, join_rows(h, done), gates, hidden_proj, h_prev};
}

// Returns {d_xg, d_h0, d_whh, d_bhh (empty without bias)}.
std::vector<Tensor> gru_backward(const Tensor& d_out, const Tensor& d_hn, const Tensor& gates,
                                 const Tensor& hidden_proj, const Tensor& h_prev, const Tensor& w_hh, bool bias,
                                 const std::vector<int64_t>& sizes, bool reverse) {
  TORCH_CHECK(!sizes.empty(), "gru_backward: a sequence of at least one step is needed");
  const bool has_dout = d_out.defined() && d_out.numel() > 0;
  const int64_t H = h_prev.size(1), T = sizes.size();
  auto d_xg = torch::empty_like(gates), d_hg = torch::empty_like(gates);
  const auto order = step_order(sizes, reverse);
  const auto off = offsets_of(sizes);
  const auto dout = has_dout ? d_out.contiguous() : d_out;
  const auto d_hn_c = d_hn.contiguous();
  int64_t rows = sizes[order[T - 1]];
  Tensor dh = d_hn_c.narrow(0, 0, rows);
  std::vector<Tensor> init;  // gradients of rows that came from the initial state
  for (int64_t p = T - 1; p >= 0; --p) {
    const int64_t t = order[p], b = sizes[t], o = off[t];
    const int64_t before = p > 0 ? sizes[order[p - 1]] : sizes[order[0]];
    if (has_dout) dh = dh + dout.narrow(0, o, b);
    auto g = gates.narrow(0, o, b), dx = d_xg.narrow(0, o, b), dhg = d_hg.narrow(0, o, b);
    auto g_r = g.narrow(1, 0, H), g_z = g.narrow(1, H, H), g_n = g.narrow(1, 2 * H, H);
    auto dx_rz = dx.narrow(1, 0, 2 * H), dx_r = dx.narrow(1, 0, H), dx_z = dx.narrow(1, H, H);
    auto dx_n = dx.narrow(1, 2 * H, H);
    auto dh_z = dh * g_z;
    at::sub_out(dx_n, dh, dh_z);  // dn = dh * (1 - z)
    at::tanh_backward_out(dx_n, dx_n, g_n);
    at::mul_out(dx_r, dx_n, hidden_proj.narrow(0, o, b).narrow(1, 2 * H, H));
    at::sub_out(dx_z, h_prev.narrow(0, o, b), g_n);
    dx_z.mul_(dh);
    at::sigmoid_backward_out(dx_rz, dx_rz, g.narrow(1, 0, 2 * H));
    dhg.narrow(1, 0, 2 * H).copy_(dx_rz);
    auto dhg_n = dhg.narrow(1, 2 * H, H);
    at::mul_out(dhg_n, dx_n, g_r);
    dh = at::addmm(dh_z, dhg, w_hh);
    dh = rows_back(dh, d_hn_c, init, b, before);
  }
  auto d_whh = d_hg.t().mm(h_prev);
  auto d_bhh = bias ? d_hg.sum(0) : Tensor();
  return {d_xg, join_rows(dh, init), d_whh, d_bhh};
}
