// The packed-walk bookkeeping both C++ kernels share (lstm_scan.cpp, gru_scan.cpp): the order a
// direction visits the time steps, where each step's rows start, the rows a step starts from,
// and joining final states.
#pragma once

#include <torch/extension.h>

#include <algorithm>
#include <vector>

namespace rnnkit_scan {

// What a walk needs of its arguments, checked before any raw pointer is used: at least one step,
// positive batch sizes that never grow in time order (a packed batch's), summing to the `rows`
// of the input, an initial state of at least the first step's rows, and w_hh (gates, h_in).
inline void check_walk(const char* name, const std::vector<int64_t>& sizes, int64_t rows, int64_t state_rows,
                       const torch::Tensor& w_hh, int64_t gates, int64_t h_in) {
  TORCH_CHECK(!sizes.empty(), name, ": a sequence of at least one step is needed");
  int64_t total = 0;
  for (size_t t = 0; t < sizes.size(); ++t) {
    TORCH_CHECK(sizes[t] > 0 && (t == 0 || sizes[t] <= sizes[t - 1]), name,
                ": batch sizes must be positive and non-increasing in time");
    total += sizes[t];
  }
  TORCH_CHECK(total == rows, name, ": batch sizes sum to ", total, " but there are ", rows, " rows");
  TORCH_CHECK(state_rows >= sizes[0], name, ": the state has ", state_rows, " rows, the first step ", sizes[0]);
  TORCH_CHECK(w_hh.dim() == 2 && w_hh.size(0) == gates && w_hh.size(1) == h_in, name, ": w_hh must be (", gates,
              ", ", h_in, "), got ", w_hh.sizes());
}

// Time indices in the order a recurrence visits them.
inline std::vector<int64_t> step_order(const std::vector<int64_t>& sizes, bool reverse) {
  std::vector<int64_t> order(sizes.size());
  for (size_t k = 0; k < sizes.size(); ++k) order[k] = reverse ? sizes.size() - 1 - k : k;
  return order;
}

// The first packed row of each time step.
inline std::vector<int64_t> offsets_of(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> off(sizes.size(), 0);
  for (size_t t = 1; t < sizes.size(); ++t) off[t] = off[t - 1] + sizes[t - 1];
  return off;
}

// head, then the pieces in reverse push order: both walks push row ranges from the highest rows down.
inline torch::Tensor join_rows(const torch::Tensor& head, const std::vector<torch::Tensor>& pieces_last_first) {
  if (pieces_last_first.empty()) return head;
  std::vector<torch::Tensor> parts{head};
  parts.insert(parts.end(), pieces_last_first.rbegin(), pieces_last_first.rend());
  return torch::cat(parts);
}

// The rows a step of the walk starts from, (b, width): the first rows of the previous step's
// rows in `all` (S, width), then (a reversed packed walk gains rows) rows of `init`; `init`
// itself at the first step. `p` is the step's place in `order`.
inline torch::Tensor rows_before(const torch::Tensor& all, const torch::Tensor& init, const std::vector<int64_t>& sizes,
                                 const std::vector<int64_t>& off, const std::vector<int64_t>& order, int64_t p) {
  const int64_t b = sizes[order[p]];
  if (p == 0) return init.narrow(0, 0, b);
  const int64_t q = order[p - 1], before = sizes[q];
  const torch::Tensor kept = all.narrow(0, off[q], std::min(b, before));
  return b <= before ? kept : torch::cat({kept, init.narrow(0, before, b - before)});
}

// The backward walk between a step (b rows) and the one before it in the walk (`before` rows):
// rows b..before-1 had finished there, so their gradient is the final one, `last`; rows
// before..b-1 came from the initial state, so their gradient goes to `init`. Returns `g` for the
// rows of the step before, contiguous.
inline torch::Tensor rows_back(torch::Tensor g, const torch::Tensor& last, std::vector<torch::Tensor>& init, int64_t b,
                               int64_t before) {
  if (before > b) {
    g = torch::cat({g, last.narrow(0, b, before - b)});
  } else if (before < b) {
    init.push_back(g.narrow(0, before, b - before));
    g = g.narrow(0, 0, before);
  }
  return g.contiguous();
}

// The 16 bits of each value of a bfloat16 tensor.
inline uint16_t* bf16_ptr(const torch::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

// fn(begin, end) over the rows [0, b) of a step, in parallel chunks of at least `grain` rows
// (chosen so each chunk has some 16k values of `width` per row: smaller steps stay on one thread).
template <typename F>
inline void over_rows(int64_t b, int64_t width, const F& fn) {
  at::parallel_for(0, b, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)), fn);
}

}  // namespace rnnkit_scan
