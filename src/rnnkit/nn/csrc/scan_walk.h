// The packed-walk bookkeeping both C++ kernels share (lstm_scan.cpp, gru_scan.cpp): the order a
// direction visits the time steps, where each step's rows start, and joining final states.
#pragma once

#include <torch/extension.h>

#include <vector>

namespace rnnkit_scan {

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

}  // namespace rnnkit_scan
