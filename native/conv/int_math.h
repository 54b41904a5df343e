// Integer helpers of the algorithm drivers (native/conv/). Main-target code only: a per-ISA kernel
// library must not include inline functions shared with the generic code (the linker may keep the
// AVX-512 copy for every caller).
#pragma once

#include <cstdint>

namespace fastconv {

// ceil(a / b) for a >= 0 (or a > -b) and b > 0: tile, block and panel counts.
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// floor(a / b) for any sign of a, b > 0 (C++ division truncates toward zero).
constexpr int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// The smallest power of two >= n (1 for n <= 1).
constexpr int pow2_at_least(int n) {
  int v = 1;
  while (v < n) v *= 2;
  return v;
}

// ceil(log2(n)) for n >= 1: the exponent of pow2_at_least(n).
constexpr int log2_ceil(int n) {
  int l = 0;
  while ((1 << l) < n) ++l;
  return l;
}

}  // namespace fastconv
