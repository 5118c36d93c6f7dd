// Float activations and bfloat16 conversions written so the compiler vectorises the loops that
// call them (no libm calls, no branches): used by the bf16 LSTM walk (lstm_bf16.cpp), where a
// step's matrix product is fast enough that scalar libm exp/tanh would dominate.
// Accuracy: exp within about 2 float ulps of std::exp on [-87, 88] (clamped outside);
// sigmoid/tanh then within about 1e-7 absolute, far below bfloat16's 4e-3 step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace rnnkit_fast {

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// e^x as 2^n * e^r with n = round(x / ln 2), |r| <= ln2 / 2, e^r by its Taylor series to r^6.
inline float exp_fast(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  const float z = x * 1.44269504088896341f + shifter;
  const float n = z - shifter;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-06f;  // ln 2 in two parts
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t k = static_cast<int32_t>(float_to_bits(z) - float_to_bits(shifter));  // n as an integer
  return p * bits_to_float(static_cast<uint32_t>(k + 127) << 23);
}

inline float sigmoid_fast(float x) { return 1.0f / (1.0f + exp_fast(-x)); }

inline float tanh_fast(float x) { return 1.0f - 2.0f / (1.0f + exp_fast(2.0f * x)); }

// bfloat16 (kept as its 16 bits) to float: the bits are the float's upper half.
inline float bf16_to_float(uint16_t b) { return bits_to_float(static_cast<uint32_t>(b) << 16); }

// float to bfloat16, rounding to nearest even; NaN stays NaN.
inline uint16_t float_to_bf16(float f) {
  const uint32_t u = float_to_bits(f);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return (u & 0x7FFFFFFFu) > 0x7F800000u ? uint16_t(0x7FC0) : static_cast<uint16_t>(rounded);
}

}  // namespace rnnkit_fast
