// Entry points of the stride-1 3x3 depthwise kernel that reads the input plane in place (no padded
// copy): zero padding comes from lane masks at the left/right edges and from a caller-provided row
// of zeros above/below. Declarations only (included by files built with different ISA flags).
#pragma once

namespace fastconv {

// out[oh][ow] = bias + sum_{r,s<3} w[r*3+s] * xpad[oh + r][ow + s], then activation relu (0/1/2: none/ReLU/ReLU6), where xpad
// is x[H][W] with padTop rows above and padLeft columns to the left (zeros beyond x on every side).
// zero_row: W readable zeros. Padding taps are multiplied (0 * Inf = NaN), like the phase kernel.
using Depthwise3x3DirectKernel = void (*)(const float* x, int H, int W, int padTop, int padLeft,
                                          const float* zero_row, const float* w, float* out, int OH,
                                          int OW, float bias, int relu);

#define FASTCONV_DECLARE_DEPTHWISE3X3_DIRECT(name)                                        \
  void name(const float* x, int H, int W, int padTop, int padLeft, const float* zero_row, \
            const float* w, float* out, int OH, int OW, float bias, int relu)

FASTCONV_DECLARE_DEPTHWISE3X3_DIRECT(depthwise3x3_direct_scalar);
#if defined(__x86_64__) || defined(__i386__)
FASTCONV_DECLARE_DEPTHWISE3X3_DIRECT(depthwise3x3_direct_avx512);
FASTCONV_DECLARE_DEPTHWISE3X3_DIRECT(depthwise3x3_direct_avx2);
#endif
#if defined(__aarch64__)
FASTCONV_DECLARE_DEPTHWISE3X3_DIRECT(depthwise3x3_direct_neon);
#endif

}  // namespace fastconv
