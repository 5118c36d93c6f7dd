// First-principles LSTM over one direction of a packed batch: the same algorithm as
// LSTMScan in rnnkit/nn/kernels.py (read that first), moved to C++ so each time step
// costs a few ATen calls instead of a few Python calls. Gate order i, f, g, o (torch's).
// Shapes: xg (S, 4H); h0 (N, H_out); c0 (N, H); w_hh (4H, H_out); w_hr (H_out, H) or empty.
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "scan_walk.h"

using rnnkit_scan::check_walk;
using rnnkit_scan::join_rows;
using rnnkit_scan::offsets_of;
using rnnkit_scan::rows_back;
using rnnkit_scan::step_order;
using torch::Tensor;

namespace {

// One step's pointwise forward, in place: g (b, 4H) holds i, f, g, o pre-activations and
// leaves holding the activations; writes c' = f*c + i*g, tanh(c') and m = o*tanh(c').
template <typename T>
void lstm_pointwise_forward(T* g, const T* c_prev, T* c_new, T* tanh_c, T* m, int64_t b, int64_t H) {
  for (int64_t r = 0; r < b; ++r) {
    T* gr = g + r * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      const T i = T(1) / (T(1) + std::exp(-gr[j]));
      const T f = T(1) / (T(1) + std::exp(-gr[H + j]));
      const T gg = std::tanh(gr[2 * H + j]);
      const T o = T(1) / (T(1) + std::exp(-gr[3 * H + j]));
      gr[j] = i, gr[H + j] = f, gr[2 * H + j] = gg, gr[3 * H + j] = o;
      const int64_t k = r * H + j;
      const T c = f * c_prev[k] + i * gg;
      const T tc = std::tanh(c);
      c_new[k] = c, tanh_c[k] = tc, m[k] = o * tc;
    }
  }
}

// One step's pointwise backward: from dm = dL/d(o*tanh(c')) (plus dm_extra if given) and
// dc = dL/dc', writes dL/d(pre-activations) into dg (b, 4H) and dL/dc into dc_prev.
template <typename T>
void lstm_pointwise_backward(const T* dm_in, const T* dm_extra, const T* dc, const T* g, const T* tanh_c,
                             const T* c_prev, T* dg, T* dc_prev, int64_t b, int64_t H) {
  for (int64_t r = 0; r < b; ++r) {
    const T* gr = g + r * 4 * H;
    T* dr = dg + r * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = r * H + j;
      const T i = gr[j], f = gr[H + j], gg = gr[2 * H + j], o = gr[3 * H + j], tc = tanh_c[k];
      const T dm = dm_extra ? dm_in[k] + dm_extra[k] : dm_in[k];
      const T dcv = dc[k] + dm * o * (T(1) - tc * tc);
      dr[j] = dcv * gg * i * (T(1) - i);
      dr[H + j] = dcv * c_prev[k] * f * (T(1) - f);
      dr[2 * H + j] = dcv * i * (T(1) - gg * gg);
      dr[3 * H + j] = dm * tc * o * (T(1) - o);
      dc_prev[k] = dcv * f;
    }
  }
}

// out (b, G) = rows (b, G) + h (b, K) @ w^T, w (G, K) row-major: for steps too small for BLAS.
template <typename T>
void small_addmm(T* out, const T* rows, const T* h, const T* w, int64_t b, int64_t G, int64_t K) {
  for (int64_t r = 0; r < b; ++r)
    for (int64_t gi = 0; gi < G; ++gi) {
      T acc = rows[r * G + gi];
      for (int64_t k = 0; k < K; ++k) acc += h[r * K + k] * w[gi * K + k];
      out[r * G + gi] = acc;
    }
}

// out (b, K) = dg (b, G) @ w (G, K).
template <typename T>
void small_mm(T* out, const T* dg, const T* w, int64_t b, int64_t G, int64_t K) {
  std::fill(out, out + b * K, T(0));
  for (int64_t r = 0; r < b; ++r)
    for (int64_t gi = 0; gi < G; ++gi) {
      const T d = dg[r * G + gi];
      for (int64_t k = 0; k < K; ++k) out[r * K + k] += d * w[gi * K + k];
    }
}

// Steps with at most this many multiply-adds use the loops above instead of a BLAS call,
// whose fixed cost (about 4 us here) dominates tiny steps.
constexpr int64_t kSmallMatmulMax = 16384;

// Above this many elements per step the vectorised ATen ops beat the scalar loops above
// (measured: the loops win at batch 1 x hidden 3, lose at 64 x 512).
constexpr int64_t kScalarLoopMax = 2048;

void pointwise_forward_aten(Tensor& g, const Tensor& c, Tensor& c_new, Tensor& tc, Tensor& m, int64_t H) {
  g.narrow(1, 0, 2 * H).sigmoid_();
  g.narrow(1, 2 * H, H).tanh_();
  g.narrow(1, 3 * H, H).sigmoid_();
  at::mul_out(c_new, g.narrow(1, H, H), c);
  c_new.addcmul_(g.narrow(1, 0, H), g.narrow(1, 2 * H, H));
  at::tanh_out(tc, c_new);
  at::mul_out(m, g.narrow(1, 3 * H, H), tc);
}

void pointwise_backward_aten(const Tensor& dm_in, const Tensor& extra, const Tensor& dc, const Tensor& g,
                             const Tensor& tc, const Tensor& cp, Tensor& dg, Tensor& dc_prev, int64_t H) {
  const Tensor dm = extra.defined() ? dm_in + extra : dm_in;
  const Tensor dcv = dc + at::tanh_backward(dm * g.narrow(1, 3 * H, H), tc);
  auto d_i = dg.narrow(1, 0, H), d_f = dg.narrow(1, H, H), d_g = dg.narrow(1, 2 * H, H), d_o = dg.narrow(1, 3 * H, H);
  at::mul_out(d_i, dcv, g.narrow(1, 2 * H, H));
  at::mul_out(d_f, dcv, cp);
  at::mul_out(d_g, dcv, g.narrow(1, 0, H));
  at::mul_out(d_o, dm, tc);
  auto d_if = dg.narrow(1, 0, 2 * H);
  at::sigmoid_backward_out(d_if, d_if, g.narrow(1, 0, 2 * H));
  at::tanh_backward_out(d_g, d_g, g.narrow(1, 2 * H, H));
  at::sigmoid_backward_out(d_o, d_o, g.narrow(1, 3 * H, H));
  at::mul_out(dc_prev, dcv, g.narrow(1, H, H));
}

}  // namespace

// Returns {out, h_n, c_n, gates, cells, tanh_c, h_prev, c_prev, pre_proj}.
std::vector<Tensor> lstm_forward(const Tensor& xg, const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                                 const Tensor& w_hr, const std::vector<int64_t>& sizes, bool reverse) {
  const bool proj = w_hr.defined() && w_hr.numel() > 0;
  const int64_t S = xg.size(0), H = c0.size(1), H_out = h0.size(1);
  check_walk("lstm_forward", sizes, S, std::min(h0.size(0), c0.size(0)), w_hh, 4 * H, H_out);
  TORCH_CHECK(xg.dim() == 2 && xg.size(1) == 4 * H, "lstm_forward: xg must be (S, 4H)");
  auto gates = torch::empty_like(xg);
  auto cells = xg.new_empty({S, H});
  auto tanh_c = xg.new_empty({S, H});
  auto out = xg.new_empty({S, H_out});
  auto pre_proj = proj ? xg.new_empty({S, H}) : out;
  auto h_prev = xg.new_empty({S, H_out});
  auto c_prev = xg.new_empty({S, H});
  const auto order = step_order(sizes, reverse);
  const auto off = offsets_of(sizes);
  const auto whh_t = w_hh.t();
  const auto w_hh_c = w_hh.contiguous(), xg_c = xg.contiguous();
  const auto whr_t = proj ? w_hr.t() : w_hr;
  const auto h0c = h0.contiguous(), c0c = c0.contiguous();
  int64_t rows = sizes[order[0]];
  Tensor h = h0c.narrow(0, 0, rows), c = c0c.narrow(0, 0, rows);
  std::vector<Tensor> done_h, done_c;
  for (int64_t t : order) {
    const int64_t b = sizes[t], o = off[t];
    if (b < rows) {  // sequences b..rows-1 ended at the previous step
      done_h.push_back(h.narrow(0, b, rows - b));
      done_c.push_back(c.narrow(0, b, rows - b));
      h = h.narrow(0, 0, b);
      c = c.narrow(0, 0, b);
    } else if (b > rows) {  // sequences rows..b-1 start here, from the initial state
      h = torch::cat({h, h0c.narrow(0, rows, b - rows)});
      c = torch::cat({c, c0c.narrow(0, rows, b - rows)});
    }
    rows = b;
    const bool tiny = !proj && b * 4 * H * H_out <= kSmallMatmulMax;
    if (tiny) {
      AT_DISPATCH_FLOATING_TYPES(xg.scalar_type(), "lstm_tiny_step", [&] {
        const scalar_t *hp = h.data_ptr<scalar_t>(), *cp = c.data_ptr<scalar_t>();
        std::copy(hp, hp + b * H_out, h_prev.data_ptr<scalar_t>() + o * H_out);
        std::copy(cp, cp + b * H, c_prev.data_ptr<scalar_t>() + o * H);
        scalar_t* g = gates.data_ptr<scalar_t>() + o * 4 * H;
        small_addmm<scalar_t>(g, xg_c.data_ptr<scalar_t>() + o * 4 * H, hp, w_hh_c.data_ptr<scalar_t>(), b, 4 * H, H_out);
        lstm_pointwise_forward<scalar_t>(g, cp, cells.data_ptr<scalar_t>() + o * H, tanh_c.data_ptr<scalar_t>() + o * H,
                                         pre_proj.data_ptr<scalar_t>() + o * H, b, H);
      });
      h = out.narrow(0, o, b);
      c = cells.narrow(0, o, b);
      continue;
    }
    h_prev.narrow(0, o, b).copy_(h);
    c_prev.narrow(0, o, b).copy_(c);
    auto g = gates.narrow(0, o, b);
    at::addmm_out(g, xg.narrow(0, o, b), h, whh_t);
    auto c_new = cells.narrow(0, o, b);
    auto tc = tanh_c.narrow(0, o, b);
    auto m = pre_proj.narrow(0, o, b);
    if (b * H > kScalarLoopMax) {
      pointwise_forward_aten(g, c, c_new, tc, m, H);
    } else {
      AT_DISPATCH_FLOATING_TYPES(xg.scalar_type(), "lstm_pointwise_forward", [&] {
        lstm_pointwise_forward<scalar_t>(g.data_ptr<scalar_t>(), c.data_ptr<scalar_t>(), c_new.data_ptr<scalar_t>(),
                                         tc.data_ptr<scalar_t>(), m.data_ptr<scalar_t>(), b, H);
      });
    }
    if (proj) {
      auto h_new = out.narrow(0, o, b);
      at::mm_out(h_new, m, whr_t);
    }
    h = out.narrow(0, o, b);
    c = c_new;
  }
  auto h_n = join_rows(h, done_h), c_n = join_rows(c, done_c);
  return {out, h_n, c_n, gates, cells, tanh_c, h_prev, c_prev, pre_proj};
}

// Returns {d_xg, d_h0, d_c0, d_whh, d_whr (empty without projection)}.
std::vector<Tensor> lstm_backward(const Tensor& d_out, const Tensor& d_hn, const Tensor& d_cn, const Tensor& gates,
                                  const Tensor& tanh_c, const Tensor& h_prev, const Tensor& c_prev,
                                  const Tensor& w_hh, const Tensor& w_hr, const Tensor& pre_proj,
                                  const std::vector<int64_t>& sizes, bool reverse) {
  TORCH_CHECK(!sizes.empty(), "lstm_backward: a sequence of at least one step is needed");
  const bool proj = w_hr.defined() && w_hr.numel() > 0;
  const bool has_dout = d_out.defined() && d_out.numel() > 0;
  const int64_t H = tanh_c.size(1), T = sizes.size();
  auto d_gates = torch::empty_like(gates);
  auto d_h_all = proj ? torch::empty_like(h_prev) : Tensor();
  const auto w_hh_c = w_hh.contiguous();
  const auto order = step_order(sizes, reverse);
  const auto off = offsets_of(sizes);
  int64_t rows = sizes[order[T - 1]];
  const auto dout = has_dout ? d_out.contiguous() : d_out;
  const auto d_hn_c = d_hn.contiguous(), d_cn_c = d_cn.contiguous();
  Tensor dh = d_hn_c.narrow(0, 0, rows), dc = d_cn_c.narrow(0, 0, rows).contiguous();
  std::vector<Tensor> init_h, init_c;  // gradients of rows that came from the initial state
  for (int64_t p = T - 1; p >= 0; --p) {
    const int64_t t = order[p], b = sizes[t], o = off[t];
    const int64_t before = p > 0 ? sizes[order[p - 1]] : sizes[order[0]];
    Tensor dm = dh, extra;
    if (proj) {
      if (has_dout) dh = dh + dout.narrow(0, o, b);
      d_h_all.narrow(0, o, b).copy_(dh);
      dm = dh.mm(w_hr);
    } else if (has_dout) {
      extra = dout.narrow(0, o, b);
    }
    auto dg = d_gates.narrow(0, o, b);
    auto dc_prev = torch::empty_like(dc);
    if (b * H > kScalarLoopMax) {
      pointwise_backward_aten(dm, extra, dc, gates.narrow(0, o, b), tanh_c.narrow(0, o, b), c_prev.narrow(0, o, b),
                              dg, dc_prev, H);
    } else AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_pointwise_backward", [&] {
      lstm_pointwise_backward<scalar_t>(
          dm.data_ptr<scalar_t>(), extra.defined() ? extra.data_ptr<scalar_t>() : nullptr, dc.data_ptr<scalar_t>(),
          gates.narrow(0, o, b).data_ptr<scalar_t>(), tanh_c.narrow(0, o, b).data_ptr<scalar_t>(),
          c_prev.narrow(0, o, b).data_ptr<scalar_t>(), dg.data_ptr<scalar_t>(), dc_prev.data_ptr<scalar_t>(), b, H);
    });
    if (!proj && b * 4 * H * w_hh.size(1) <= kSmallMatmulMax) {
      dh = torch::empty({b, w_hh.size(1)}, dc.options());
      AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_tiny_dh", [&] {
        small_mm<scalar_t>(dh.data_ptr<scalar_t>(), d_gates.data_ptr<scalar_t>() + o * 4 * H, w_hh_c.data_ptr<scalar_t>(),
                           b, 4 * H, w_hh.size(1));
      });
    } else {
      dh = dg.mm(w_hh);
    }
    dc = dc_prev;
    dh = rows_back(dh, d_hn_c, init_h, b, before);
    dc = rows_back(dc, d_cn_c, init_c, b, before);
  }
  auto d_h0 = join_rows(dh, init_h), d_c0 = join_rows(dc, init_c);
  auto d_whh = d_gates.t().mm(h_prev);
  auto d_whr = proj ? d_h_all.t().mm(pre_proj) : Tensor();
  return {d_gates, d_h0, d_c0, d_whh, d_whr};
}
