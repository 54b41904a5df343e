#include "conv/phases.h"

#include <algorithm>

#include "conv/int_math.h"

namespace fastconv {

namespace {

// Every SW-th float of src into n consecutive floats. With SW a constant the compiler vectorizes the
// de-interleave (loads and shuffles); with a run-time stride it copied one float at a time, which
// took most of a stride-2 depthwise layer's time (bench/README.md, measurements).
template <int64_t SW>
void gather_columns(const float* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] = src[j * SW];
}
}  // namespace

PhaseLayout phase_layout(const ConvParams& p) {
  const int64_t sh = p.strideH, sw = p.strideW;
  const int64_t Hp = int64_t(p.H) + p.padTop + p.padBottom, Wp = int64_t(p.W) + p.padLeft + p.padRight;
  PhaseLayout l;
  l.Hq = ceil_div(Hp, sh);
  l.Wq = ceil_div(Wp, sw);
  l.total = double(p.N) * p.C * double(sh * l.Hq) * double(sw * l.Wq);
  const bool fits = double(sh * l.Hq) * double(sw * l.Wq) < 9e18;
  l.plane = fits ? l.Hq * l.Wq : 0;
  l.channel = fits ? sh * sw * l.plane : 0;
  return l;
}

int64_t phase_tap_offset(const ConvParams& p, const PhaseLayout& l, int64_t r, int64_t s) {
  const int64_t sh = p.strideH, sw = p.strideW;
  const int64_t dr = r * p.dilationH, ds = s * p.dilationW;
  return ((dr % sh) * sw + ds % sw) * l.plane + (dr / sh) * l.Wq + ds / sw;
}

void fill_phases(const ConvParams& p, const PhaseLayout& l, const float* x, float* dst) {
  const int64_t sh = p.strideH, sw = p.strideW, Hq = l.Hq, Wq = l.Wq;
  for (int64_t a = 0; a < sh; ++a) {
    for (int64_t b = 0; b < sw; ++b) {
      float* plane = dst + (a * sw + b) * l.plane;
      // Columns j whose input column j*sw + b - padLeft lies in [0, W).
      const int64_t off = b - p.padLeft;
      const int64_t j_lo = std::min(Wq, off >= 0 ? 0 : (-off + sw - 1) / sw);
      const int64_t j_hi =
          std::max(j_lo, std::min(Wq, (p.W - 1 - off) < 0 ? 0 : (p.W - 1 - off) / sw + 1));
      for (int64_t i = 0; i < Hq; ++i) {
        float* d = plane + i * Wq;
        const int64_t ih = i * sh + a - p.padTop;
        if (ih < 0 || ih >= p.H) {
          std::fill(d, d + Wq, 0.0f);
          continue;
        }
        const float* row = x + ih * p.W + off;
        std::fill(d, d + j_lo, 0.0f);
        if (sw == 1) {
          std::copy(row + j_lo, row + j_hi, d + j_lo);
        } else if (sw == 2) {
          gather_columns<2>(row + j_lo * 2, d + j_lo, j_hi - j_lo);
        } else {
          for (int64_t j = j_lo; j < j_hi; ++j) d[j] = row[j * sw];
        }
        std::fill(d + j_hi, d + Wq, 0.0f);
      }
    }
  }
}

}  // namespace fastconv
