// Direct convolution: the SIMD depthwise kernel when each group has one input channel, otherwise
// a straightforward loop nest (used only when 'direct' is forced on a dense shape).
#include <algorithm>
#include <cmath>

#include "conv/algorithms.h"
#include "threadpool.h"

namespace fastconv {

namespace {

// Output columns [lo, hi) whose input column ow*stride - pad + tap lies inside [0, W).
void valid_range(int64_t W, int64_t OW, int64_t stride, int64_t offset, int64_t* lo, int64_t* hi) {
  // offset = tap - pad; need 0 <= ow*stride + offset <= W - 1.
  *lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  *hi = (W - 1 - offset) < 0 ? 0 : (W - 1 - offset) / stride + 1;
  *lo = std::min(*lo, OW);
  *hi = std::min(*hi, OW);
}

// A padding tap contributes 0 * w, as in the reference (pad, then correlate) and PyTorch's padded
// GEMM: NaN for w = ±Inf/NaN. The skipping loop below cannot give that, so such a tap (rare: only
// non-finite weights) takes this loop over every output instead.
void add_nonfinite_tap(const ConvParams& p, const float* xc, float wv, int64_t r, int64_t col_off,
                       float* y) {
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const int64_t ih = oh * p.strideH - p.padTop + r * p.dilationH;
    const bool row_in = ih >= 0 && ih < p.H;
    float* yo = y + oh * p.OW;
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const int64_t iw = ow * p.strideW + col_off;
      yo[ow] += row_in && iw >= 0 && iw < p.W ? wv * xc[ih * p.W + iw] : 0.0f * wv;
    }
  }
}

}  // namespace

std::string conv_direct(const ConvParams& p, const float* input, const float* weight, const float* bias,
                        float* out, PackedWeights*) {
  if (p.depthwise()) return conv_depthwise(p, input, weight, bias, out);
  return conv_direct_generic(p, input, weight, bias, out);
}

int direct_threads(const ConvParams& p) {
  return p.depthwise() ? depthwise_threads(p) : dense_threads(p);
}

std::string conv_direct_generic(const ConvParams& p, const float* input, const float* weight,
                                const float* bias, float* out) {
  const int64_t Kg = p.K / p.groups, Cg = p.C / p.groups;
  const int64_t HW = int64_t(p.H) * p.W, P = int64_t(p.OH) * p.OW;
  // Padding taps are skipped (a finite weight times the zero padding adds exactly 0).
  auto task = [&](int64_t t, int) {
    const int64_t n = t / p.K, k = t % p.K, g = k / Kg;
    float* y = out + t * P;
    std::fill(y, y + P, bias ? bias[k] : 0.0f);
    for (int64_t c = 0; c < Cg; ++c) {
      const float* xc = input + (n * p.C + g * Cg + c) * HW;
      for (int64_t r = 0; r < p.R; ++r) {
        for (int64_t s = 0; s < p.S; ++s) {
          const float wv = weight[((k * Cg + c) * p.R + r) * p.S + s];
          const int64_t col_off = s * p.dilationW - p.padLeft;
          if (!std::isfinite(wv)) {
            add_nonfinite_tap(p, xc, wv, r, col_off, y);
            continue;
          }
          int64_t lo, hi;
          valid_range(p.W, p.OW, p.strideW, col_off, &lo, &hi);
          for (int64_t oh = 0; oh < p.OH; ++oh) {
            const int64_t ih = oh * p.strideH - p.padTop + r * p.dilationH;
            if (ih < 0 || ih >= p.H) continue;
            const float* row = xc + ih * p.W + col_off;
            float* yo = y + oh * p.OW;
            for (int64_t ow = lo; ow < hi; ++ow) yo[ow] += wv * row[ow * p.strideW];
          }
        }
      }
    }
    if (p.relu6)
      for (int64_t i = 0; i < P; ++i)
        y[i] = y[i] < 0.0f ? 0.0f : y[i] > 6.0f ? 6.0f : y[i];  // NaN stays NaN
    else if (p.relu)
      for (int64_t i = 0; i < P; ++i) y[i] = y[i] < 0.0f ? 0.0f : y[i];  // NaN stays NaN
  };
  ThreadPool::get().run(int64_t(p.N) * p.K, dense_threads(p), task);
  return "";
}

}  // namespace fastconv
