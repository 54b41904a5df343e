#include "conv/im2col.h"

#include <algorithm>
#include <cstring>

namespace fastconv {

bool im2col_is_identity(const ConvParams& p) {
  return p.R == 1 && p.S == 1 && p.strideH == 1 && p.strideW == 1 && p.padTop == 0 && p.padBottom == 0 &&
         p.padLeft == 0 && p.padRight == 0;
}

namespace {

// Fills d[0, count) with row pixels of output row `oh`, starting at output column `ow`, for tap
// (r, s) of channel plane xc.
void fill_segment(const ConvParams& p, const float* xc, int64_t r, int64_t s, int64_t oh, int64_t ow,
                  int64_t count, float* d) {
  const int64_t ih = oh * p.strideH - p.padTop + r * p.dilationH;
  if (ih < 0 || ih >= p.H) {
    std::memset(d, 0, size_t(count) * sizeof(float));
    return;
  }
  const float* row = xc + ih * p.W;
  const int64_t iw0 = ow * p.strideW - p.padLeft + s * p.dilationW;
  if (p.strideW == 1) {
    const int64_t lo = std::min(count, std::max<int64_t>(0, -iw0));
    const int64_t hi = std::max(lo, std::min(count, p.W - iw0));
    std::memset(d, 0, size_t(lo) * sizeof(float));
    if (hi > lo) std::memcpy(d + lo, row + iw0 + lo, size_t(hi - lo) * sizeof(float));
    std::memset(d + hi, 0, size_t(count - hi) * sizeof(float));
    return;
  }
  for (int64_t t = 0; t < count; ++t) {
    const int64_t iw = iw0 + t * p.strideW;
    d[t] = (iw >= 0 && iw < p.W) ? row[iw] : 0.0f;
  }
}

}  // namespace

void pack_im2col_panels(const ConvParams& p, const float* x, int64_t k0, int64_t kc, int64_t j0,
                        int64_t ncols, int nr, float* dst) {
  const int64_t RS = int64_t(p.R) * p.S, HW = int64_t(p.H) * p.W;
  const int64_t panels = (ncols + nr - 1) / nr;
  for (int64_t jp = 0; jp < panels; ++jp) {
    const int64_t jbase = j0 + jp * nr;
    const int64_t cols = std::min<int64_t>(nr, ncols - jp * nr);
    const int64_t oh0 = jbase / p.OW, ow0 = jbase % p.OW;
    float* panel = dst + jp * kc * nr;
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t kk = k0 + k;
      const int64_t c = kk / RS, r = (kk % RS) / p.S, s = kk % p.S;
      const float* xc = x + c * HW;
      float* d = panel + k * nr;
      int64_t done = 0, oh = oh0, ow = ow0;
      while (done < cols) {
        const int64_t seg = std::min(cols - done, p.OW - ow);
        fill_segment(p, xc, r, s, oh, ow, seg, d + done);
        done += seg;
        ow = 0;
        ++oh;
      }
      std::memset(d + cols, 0, size_t(nr - cols) * sizeof(float));
    }
  }
}

}  // namespace fastconv
