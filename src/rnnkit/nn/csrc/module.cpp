// The Python module of rnnkit's C++ kernels (lstm_scan.cpp, lstm_bf16.cpp, gru_scan.cpp, gru_bf16.cpp): their entry points.
#include <torch/extension.h>

#include <vector>

using torch::Tensor;

std::vector<Tensor> lstm_forward(const Tensor& xg, const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                                 const Tensor& w_hr, const std::vector<int64_t>& sizes, bool reverse);
std::vector<Tensor> lstm_backward(const Tensor& d_out, const Tensor& d_hn, const Tensor& d_cn, const Tensor& gates,
                                  const Tensor& tanh_c, const Tensor& h_prev, const Tensor& c_prev,
                                  const Tensor& w_hh, const Tensor& w_hr, const Tensor& pre_proj,
                                  const std::vector<int64_t>& sizes, bool reverse);
std::vector<Tensor> lstm_forward_bf16(const Tensor& xg, const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                                      const std::vector<int64_t>& sizes, bool reverse);
std::vector<Tensor> lstm_backward_bf16(const Tensor& d_out, const Tensor& d_hn, const Tensor& d_cn,
                                       const Tensor& gates, const Tensor& cells, const Tensor& h_prev,
                                       const Tensor& c0, const Tensor& w_hh, const std::vector<int64_t>& sizes,
                                       bool reverse);
std::vector<Tensor> gru_forward_bf16(const Tensor& xg, const Tensor& h0, const Tensor& w_hh, const Tensor& b_hh,
                                     const std::vector<int64_t>& sizes, bool reverse);
std::vector<Tensor> gru_backward_bf16(const Tensor& d_out, const Tensor& d_hn, const Tensor& gates,
                                      const Tensor& hidden_n, const Tensor& out, const Tensor& h_prev,
                                      const Tensor& h0, const Tensor& w_hh, bool bias,
                                      const std::vector<int64_t>& sizes, bool reverse);
std::vector<Tensor> gru_forward(const Tensor& xg, const Tensor& h0, const Tensor& w_hh, const Tensor& b_hh,
                                const std::vector<int64_t>& sizes, bool reverse);
std::vector<Tensor> gru_backward(const Tensor& d_out, const Tensor& d_hn, const Tensor& gates,
                                 const Tensor& hidden_proj, const Tensor& h_prev, const Tensor& w_hh, bool bias,
                                 const std::vector<int64_t>& sizes, bool reverse);

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("lstm_forward", &lstm_forward, "LSTM over one direction of a packed batch (forward)");
  m.def("lstm_backward", &lstm_backward, "LSTM over one direction of a packed batch (backward)");
  m.def("lstm_forward_bf16", &lstm_forward_bf16, "LSTM, recurrent products in bf16 (forward)");
  m.def("lstm_backward_bf16", &lstm_backward_bf16, "LSTM, recurrent products in bf16 (backward)");
  m.def("gru_forward_bf16", &gru_forward_bf16, "GRU, recurrent products in bf16 (forward)");
  m.def("gru_backward_bf16", &gru_backward_bf16, "GRU, recurrent products in bf16 (backward)");
  m.def("gru_forward", &gru_forward, "GRU over one direction of a packed batch (forward)");
  m.def("gru_backward", &gru_backward, "GRU over one direction of a packed batch (backward)");
}
