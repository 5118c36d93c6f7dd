// GRU over one direction of a packed batch with its recurrent matrix products in bfloat16 (the
// walk of gru_scan.cpp, the precision split of lstm_bf16.cpp; read those first): each step is one
// bf16 product h @ W_hh^T and one fused, vectorised pointwise pass in float32; the state, the
// gates and every sum stay float32. Backward: one bf16 product per step for dL/dh, one large
// bf16 product for dL/dW_hh at the end, dL/db_hh summed in float32.
// Shapes: xg (S, 3H) input projection with b_ih; h0 (N, H); w_hh (3H, H); b_hh (3H) or empty.
// Gate order r, z, n (torch's); n = tanh(x_n + r * (W_hn h + b_hn)); h' = n + z * (h - n).
#include <torch/extension.h>

#include <algorithm>
#include <vector>

#include "fast_math.h"
#include "scan_walk.h"

using namespace rnnkit_fast;  // NOLINT: the helpers of fast_math.h
using namespace rnnkit_scan;  // NOLINT: the walk of scan_walk.h
using torch::Tensor;

namespace {

// One step forward for b rows: g (b, 3H) = activated r, z, n; hn (b, H) = W_hn h + b_hn;
// h_new = n + z * (h - n). hw (b, 3H) = h @ W_hh^T in bf16, bias (3H) float.
void forward_step(const uint16_t* xg, const uint16_t* hw, const float* bias, const float* h, float* g, float* hn,
                  float* h_new, int64_t b, int64_t H) {
  for (int64_t r = 0; r < b; ++r) {
    const uint16_t *x = xg + r * 3 * H, *m = hw + r * 3 * H;
    float *gr = g + r * 3 * H, *hnr = hn + r * H, *out = h_new + r * H;
    const float* hr = h + r * H;
    for (int64_t j = 0; j < 2 * H; ++j) gr[j] = sigmoid_fast(bf16_to_float(x[j]) + bf16_to_float(m[j]) + bias[j]);
    for (int64_t j = 0; j < H; ++j) {
      hnr[j] = bf16_to_float(m[2 * H + j]) + bias[2 * H + j];
      const float n = tanh_fast(bf16_to_float(x[2 * H + j]) + gr[j] * hnr[j]);
      gr[2 * H + j] = n;
      out[j] = n + gr[H + j] * (hr[j] - n);
    }
  }
}

// One step backward for b rows: from dh = dL/dh' (+ dout) writes dL/dxg (bf16) and dL/d(h W_hh^T
// + b_hh) (bf16, and summed into dbias), and the part of dL/dh that skips the product (dh * z).
template <bool HasOut>
void backward_step(const float* dh, const float* dout, const float* g, const float* hn, const float* h,
                   uint16_t* dx_b, uint16_t* dhg_b, float* dbias, float* dh_skip, int64_t b, int64_t H) {
  for (int64_t r = 0; r < b; ++r) {
    const float *gr = g + r * 3 * H, *hnr = hn + r * H, *hr = h + r * H, *dr = dh + r * H;
    uint16_t *dx = dx_b + r * 3 * H, *dhg = dhg_b + r * 3 * H;
    float* skip = dh_skip + r * H;
    for (int64_t j = 0; j < H; ++j) {
      const float rg = gr[j], z = gr[H + j], n = gr[2 * H + j];
      const float d = HasOut ? dr[j] + dout[r * H + j] : dr[j];
      const float dn = d * (1.0f - z) * (1.0f - n * n);
      const float dz = d * (hr[j] - n) * z * (1.0f - z);
      const float drg = dn * hnr[j] * rg * (1.0f - rg);
      skip[j] = d * z;
      dx[j] = float_to_bf16(drg), dx[H + j] = float_to_bf16(dz), dx[2 * H + j] = float_to_bf16(dn);
      dhg[j] = dx[j], dhg[H + j] = dx[H + j], dhg[2 * H + j] = float_to_bf16(dn * rg);
      dbias[j] += drg, dbias[H + j] += dz, dbias[2 * H + j] += dn * rg;
    }
  }
}

}  // namespace

// Returns {out, h_n, gates (activated r, z, n), hidden_n (W_hn h + b_hn), h_prev (bf16)}.
std::vector<Tensor> gru_forward_bf16(const Tensor& xg_in, const Tensor& h0, const Tensor& w_hh, const Tensor& b_hh,
                                     const std::vector<int64_t>& sizes, bool reverse) {
  const int64_t S = xg_in.size(0), H = h0.size(1);
  check_walk("gru_forward_bf16", sizes, S, h0.size(0), w_hh, 3 * H, H);
  TORCH_CHECK(xg_in.dim() == 2 && xg_in.size(1) == 3 * H, "gru_forward_bf16: xg must be (S, 3H)");
  TORCH_CHECK(!b_hh.defined() || b_hh.numel() == 0 || b_hh.numel() == 3 * H, "gru_forward_bf16: b_hh must be (3H)");
  const auto xg = xg_in.to(torch::kBFloat16).contiguous();
  const auto f32 = xg.options().dtype(torch::kFloat), b16 = xg.options();
  const bool has_bias = b_hh.defined() && b_hh.numel() > 0;
  const auto bias = has_bias ? b_hh.to(torch::kFloat).contiguous() : torch::zeros({3 * H}, f32);
  auto gates = torch::empty({S, 3 * H}, f32), hidden_n = torch::empty({S, H}, f32), out = torch::empty({S, H}, f32);
  auto h_prev = torch::empty({S, H}, b16);
  auto hw = torch::empty({*std::max_element(sizes.begin(), sizes.end()), 3 * H}, b16);
  const auto w_t = w_hh.to(torch::kBFloat16).t();
  const auto order = step_order(sizes, reverse);
  const auto off = offsets_of(sizes);
  const auto h0c = h0.to(torch::kFloat).contiguous();
  std::vector<Tensor> done;
  int64_t rows = sizes[order[0]];
  for (size_t p = 0; p < order.size(); ++p) {
    const int64_t t = order[p], b = sizes[t], o = off[t];
    if (b < rows) done.push_back(out.narrow(0, off[order[p - 1]] + b, rows - b));  // ended at the previous step
    rows = b;
    const Tensor h = rows_before(out, h0c, sizes, off, order, p).contiguous();
    auto hb = h_prev.narrow(0, o, b);
    hb.copy_(h);
    auto hw_b = hw.narrow(0, 0, b);
    at::mm_out(hw_b, hb, w_t);
    const uint16_t *x = bf16_ptr(xg) + o * 3 * H, *m = bf16_ptr(hw_b);
    const float *bp = bias.data_ptr<float>(), *hp = h.data_ptr<float>();
    float *g = gates.data_ptr<float>() + o * 3 * H, *hn = hidden_n.data_ptr<float>() + o * H;
    float* hnew = out.data_ptr<float>() + o * H;
    over_rows(b, 3 * H, [&](int64_t r0, int64_t r1) {
      forward_step(x + r0 * 3 * H, m + r0 * 3 * H, bp, hp + r0 * H, g + r0 * 3 * H, hn + r0 * H, hnew + r0 * H,
                   r1 - r0, H);
    });
  }
  return {out, join_rows(out.narrow(0, off[order.back()], rows), done), gates, hidden_n, h_prev};
}

// Returns {d_xg (bf16, as autocast made xg), d_h0, d_whh, d_bhh (empty without bias)}.
std::vector<Tensor> gru_backward_bf16(const Tensor& d_out, const Tensor& d_hn, const Tensor& gates,
                                      const Tensor& hidden_n, const Tensor& out, const Tensor& h_prev,
                                      const Tensor& h0, const Tensor& w_hh, bool bias,
                                      const std::vector<int64_t>& sizes, bool reverse) {
  check_walk("gru_backward_bf16", sizes, gates.size(0), d_hn.size(0), w_hh, gates.size(1), out.size(1));
  TORCH_CHECK(gates.is_contiguous() && hidden_n.is_contiguous() && out.is_contiguous() &&
                  gates.scalar_type() == torch::kFloat && hidden_n.scalar_type() == torch::kFloat &&
                  out.scalar_type() == torch::kFloat,
              "gru_backward_bf16: gates, hidden_n and out must be contiguous float32 (as the forward made them)");
  const bool has_dout = d_out.defined() && d_out.numel() > 0;
  const int64_t H = out.size(1), T = sizes.size();
  const auto b16 = gates.options().dtype(torch::kBFloat16);
  auto d_xg = torch::empty(gates.sizes(), b16), d_hg = torch::empty(gates.sizes(), b16);
  auto dbias = torch::zeros({3 * H}, out.options());
  const auto w_b = w_hh.to(torch::kBFloat16).contiguous();
  const auto order = step_order(sizes, reverse);
  const auto off = offsets_of(sizes);
  const auto dout = has_dout ? d_out.to(torch::kFloat).contiguous() : d_out;
  const auto d_hn_c = d_hn.to(torch::kFloat).contiguous(), h0c = h0.to(torch::kFloat).contiguous();
  int64_t rows = sizes[order[T - 1]];
  Tensor dh = d_hn_c.narrow(0, 0, rows);
  std::vector<Tensor> init;  // gradients of rows that came from the initial state
  for (int64_t p = T - 1; p >= 0; --p) {
    const int64_t t = order[p], b = sizes[t], o = off[t];
    const int64_t before = p > 0 ? sizes[order[p - 1]] : sizes[order[0]];
    const Tensor h = rows_before(out, h0c, sizes, off, order, p).contiguous();
    auto skip = torch::empty({b, H}, out.options());
    auto dhg = d_hg.narrow(0, o, b);
    const float *g = gates.data_ptr<float>() + o * 3 * H, *hn = hidden_n.data_ptr<float>() + o * H;
    if (has_dout)
      backward_step<true>(dh.data_ptr<float>(), dout.data_ptr<float>() + o * H, g, hn, h.data_ptr<float>(),
                          bf16_ptr(d_xg) + o * 3 * H, bf16_ptr(dhg), dbias.data_ptr<float>(), skip.data_ptr<float>(),
                          b, H);
    else
      backward_step<false>(dh.data_ptr<float>(), nullptr, g, hn, h.data_ptr<float>(), bf16_ptr(d_xg) + o * 3 * H,
                           bf16_ptr(dhg), dbias.data_ptr<float>(), skip.data_ptr<float>(), b, H);
    dh = dhg.mm(w_b).to(torch::kFloat).add_(skip);
    dh = rows_back(dh, d_hn_c, init, b, before);
  }
  auto d_whh = d_hg.t().mm(h_prev).to(torch::kFloat);
  return {d_xg, join_rows(dh, init), d_whh, bias ? dbias : Tensor()};
}
