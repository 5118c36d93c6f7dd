// LSTM over one direction of a packed batch with its recurrent matrix products in bfloat16 (the
// walk of lstm_scan.cpp; read that first). Used under a CPU bf16 autocast, where torch's own
// LSTM also multiplies in bf16: here each step is one bf16 product h @ W_hh^T (oneDNN; AMX or
// AVX512-BF16 where the CPU has them) and one fused, vectorised pointwise pass in float32; the
// cell state, the gates and every sum stay float32. Backward: one bf16 product per step for
// dL/dh, one large bf16 product for dL/dW_hh at the end. No projection (proj_size 0).
// Shapes: xg (S, 4H) any float dtype; h0, c0 (N, H); w_hh (4H, H). Gate order i, f, g, o.
#include <torch/extension.h>

#include <algorithm>
#include <vector>

#include "fast_math.h"
#include "scan_walk.h"

using namespace rnnkit_fast;  // NOLINT: the helpers of fast_math.h
using namespace rnnkit_scan;  // NOLINT: the walk of scan_walk.h
using torch::Tensor;

namespace {

// One step forward for b rows: g (b, 4H) = activations of xg + hw (both bf16; hw = h @ W_hh^T);
// c_new = f*c + i*g, h = o*tanh(c_new).
void forward_step(const uint16_t* xg, const uint16_t* hw, const float* c, float* g, float* c_new, float* h,
                  int64_t b, int64_t H) {
  for (int64_t r = 0; r < b; ++r) {
    const uint16_t* x = xg + r * 4 * H;
    const uint16_t* m = hw + r * 4 * H;
    float* gr = g + r * 4 * H;
    for (int64_t j = 0; j < 4 * H; ++j) gr[j] = bf16_to_float(x[j]) + bf16_to_float(m[j]);
    for (int64_t j = 0; j < 2 * H; ++j) gr[j] = sigmoid_fast(gr[j]);
    for (int64_t j = 2 * H; j < 3 * H; ++j) gr[j] = tanh_fast(gr[j]);
    for (int64_t j = 3 * H; j < 4 * H; ++j) gr[j] = sigmoid_fast(gr[j]);
    const float* cr = c + r * H;
    float *cn = c_new + r * H, *hr = h + r * H;
    for (int64_t j = 0; j < H; ++j) {
      cn[j] = gr[H + j] * cr[j] + gr[j] * gr[2 * H + j];
      hr[j] = gr[3 * H + j] * tanh_fast(cn[j]);
    }
  }
}

// One step backward for b rows: from dm = dL/dh (+ dout), dc = dL/dc' and the step's cells c',
// writes dL/d(pre-activations) into dg_b (bf16; dr (5H) is scratch) and dL/dc into dc_prev.
template <bool HasOut>
void backward_step(const float* dh, const float* dout, const float* dc, const float* g, const float* cells,
                   const float* c_prev, float* dr, uint16_t* dg_b, float* dc_prev, int64_t b, int64_t H) {
  for (int64_t r = 0; r < b; ++r) {
    const float* gr = g + r * 4 * H;
    const int64_t k0 = r * H;
    for (int64_t j = 0; j < H; ++j) dr[4 * H + j] = tanh_fast(cells[k0 + j]);
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = k0 + j;
      const float i = gr[j], f = gr[H + j], gg = gr[2 * H + j], o = gr[3 * H + j], tc = dr[4 * H + j];
      const float dm = HasOut ? dh[k] + dout[k] : dh[k];
      const float dcv = dc[k] + dm * o * (1.0f - tc * tc);
      dr[j] = dcv * gg * i * (1.0f - i);
      dr[H + j] = dcv * c_prev[k] * f * (1.0f - f);
      dr[2 * H + j] = dcv * i * (1.0f - gg * gg);
      dr[3 * H + j] = dm * tc * o * (1.0f - o);
      dc_prev[k] = dcv * f;
    }
    uint16_t* br = dg_b + r * 4 * H;
    for (int64_t j = 0; j < 4 * H; ++j) br[j] = float_to_bf16(dr[j]);
  }
}

}  // namespace

// Returns {out, h_n, c_n, gates, cells, h_prev (bf16)}: float32 but h_prev.
std::vector<Tensor> lstm_forward_bf16(const Tensor& xg_in, const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                                      const std::vector<int64_t>& sizes, bool reverse) {
  const int64_t S = xg_in.size(0), H = c0.size(1);
  check_walk("lstm_forward_bf16", sizes, S, std::min(h0.size(0), c0.size(0)), w_hh, 4 * H, H);
  TORCH_CHECK(xg_in.dim() == 2 && xg_in.size(1) == 4 * H && h0.size(1) == H, "lstm_forward_bf16: xg (S, 4H), h0 (N, H)");
  const auto xg = xg_in.to(torch::kBFloat16).contiguous();
  const auto f32 = xg.options().dtype(torch::kFloat), b16 = xg.options();
  auto gates = torch::empty({S, 4 * H}, f32), cells = torch::empty({S, H}, f32), out = torch::empty({S, H}, f32);
  auto h_prev = torch::empty({S, H}, b16);
  auto hw = torch::empty({*std::max_element(sizes.begin(), sizes.end()), 4 * H}, b16);
  const auto w_t = w_hh.to(torch::kBFloat16).t();
  const auto order = step_order(sizes, reverse);
  const auto off = offsets_of(sizes);
  const auto h0c = h0.to(torch::kFloat).contiguous(), c0c = c0.to(torch::kFloat).contiguous();
  int64_t rows = sizes[order[0]];
  Tensor h = h0c.narrow(0, 0, rows);
  std::vector<Tensor> done_h, done_c;
  for (size_t p = 0; p < order.size(); ++p) {
    const int64_t t = order[p], b = sizes[t], o = off[t];
    if (b < rows) {  // sequences b..rows-1 ended at the previous step
      done_h.push_back(h.narrow(0, b, rows - b));
      done_c.push_back(cells.narrow(0, off[order[p - 1]] + b, rows - b));
      h = h.narrow(0, 0, b);
    } else if (b > rows) {  // sequences rows..b-1 start here, from the initial state
      h = torch::cat({h, h0c.narrow(0, rows, b - rows)});
    }
    rows = b;
    const Tensor c = rows_before(cells, c0c, sizes, off, order, p).contiguous();
    auto hb = h_prev.narrow(0, o, b);
    hb.copy_(h);
    auto hw_b = hw.narrow(0, 0, b);
    at::mm_out(hw_b, hb, w_t);
    const uint16_t *x = bf16_ptr(xg) + o * 4 * H, *m = bf16_ptr(hw_b);
    const float* cr = c.data_ptr<float>();
    float *g = gates.data_ptr<float>() + o * 4 * H, *cn = cells.data_ptr<float>() + o * H;
    float* hn = out.data_ptr<float>() + o * H;
    over_rows(b, 4 * H, [&](int64_t r0, int64_t r1) {
      forward_step(x + r0 * 4 * H, m + r0 * 4 * H, cr + r0 * H, g + r0 * 4 * H, cn + r0 * H, hn + r0 * H, r1 - r0, H);
    });
    h = out.narrow(0, o, b);
  }
  auto h_n = join_rows(h, done_h), c_n = join_rows(cells.narrow(0, off[order.back()], rows), done_c);
  return {out, h_n, c_n, gates, cells, h_prev};
}

// Returns {d_xg (bf16, as autocast made xg), d_h0, d_c0, d_whh (float32)}.
std::vector<Tensor> lstm_backward_bf16(const Tensor& d_out, const Tensor& d_hn, const Tensor& d_cn,
                                       const Tensor& gates, const Tensor& cells, const Tensor& h_prev,
                                       const Tensor& c0, const Tensor& w_hh, const std::vector<int64_t>& sizes,
                                       bool reverse) {
  check_walk("lstm_backward_bf16", sizes, gates.size(0), std::min(d_hn.size(0), d_cn.size(0)), w_hh, gates.size(1),
             cells.size(1));
  TORCH_CHECK(gates.is_contiguous() && cells.is_contiguous() && gates.scalar_type() == torch::kFloat &&
                  cells.scalar_type() == torch::kFloat,
              "lstm_backward_bf16: gates and cells must be contiguous float32 (as the forward made them)");
  const bool has_dout = d_out.defined() && d_out.numel() > 0;
  const int64_t H = cells.size(1), T = sizes.size();
  auto d_gates_b = torch::empty(gates.sizes(), gates.options().dtype(torch::kBFloat16));
  const auto w_b = w_hh.to(torch::kBFloat16).contiguous();
  const auto order = step_order(sizes, reverse);
  const auto off = offsets_of(sizes);
  int64_t rows = sizes[order[T - 1]];
  const auto dout = has_dout ? d_out.to(torch::kFloat).contiguous() : d_out;
  const auto d_hn_c = d_hn.to(torch::kFloat).contiguous(), d_cn_c = d_cn.to(torch::kFloat).contiguous();
  const auto c0c = c0.to(torch::kFloat).contiguous();
  Tensor dh = d_hn_c.narrow(0, 0, rows), dc = d_cn_c.narrow(0, 0, rows);
  std::vector<Tensor> init_h, init_c;  // gradients of rows that came from the initial state
  for (int64_t p = T - 1; p >= 0; --p) {
    const int64_t t = order[p], b = sizes[t], o = off[t];
    const int64_t before = p > 0 ? sizes[order[p - 1]] : sizes[order[0]];
    auto dc_prev = torch::empty_like(dc);
    auto dg_b = d_gates_b.narrow(0, o, b);
    const Tensor cp = rows_before(cells, c0c, sizes, off, order, p).contiguous();
    const float *g = gates.data_ptr<float>() + o * 4 * H, *cn = cells.data_ptr<float>() + o * H;
    const float *dhp = dh.data_ptr<float>(), *dcp = dc.data_ptr<float>(), *cpp = cp.data_ptr<float>();
    const float* dop = has_dout ? dout.data_ptr<float>() + o * H : nullptr;
    uint16_t* dgp = bf16_ptr(dg_b);
    float* dcn = dc_prev.data_ptr<float>();
    over_rows(b, 4 * H, [&](int64_t r0, int64_t r1) {
      std::vector<float> scratch(5 * H);  // per chunk: chunks may run on different threads
      const int64_t k = r0 * H, k4 = r0 * 4 * H, n = r1 - r0;
      if (dop)
        backward_step<true>(dhp + k, dop + k, dcp + k, g + k4, cn + k, cpp + k, scratch.data(), dgp + k4, dcn + k, n, H);
      else
        backward_step<false>(dhp + k, nullptr, dcp + k, g + k4, cn + k, cpp + k, scratch.data(), dgp + k4, dcn + k, n,
                             H);
    });
    dh = dg_b.mm(w_b).to(torch::kFloat);
    dc = dc_prev;
    dh = rows_back(dh, d_hn_c, init_h, b, before);
    dc = rows_back(dc, d_cn_c, init_c, b, before);
  }
  auto d_h0 = join_rows(dh, init_h), d_c0 = join_rows(dc, init_c);
  auto d_whh = d_gates_b.t().mm(h_prev).to(torch::kFloat);
  return {d_gates_b, d_h0, d_c0, d_whh};
}
