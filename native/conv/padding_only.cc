#include "conv/padding_only.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace fastconv {

namespace {

// Output index o reads taps o*stride - pad + t*dilation, t < taps: all outside [0, size)? Not only at
// the edges: a dilated window can straddle an input narrower than its dilation with every tap in
// the padding on either side of it.
bool all_padding(int64_t o, int stride, int pad, int taps, int dilation, int size) {
  const int64_t first = o * stride - pad;
  const int64_t t0 = first >= 0 ? 0 : (-first + dilation - 1) / dilation;  // first tap at index >= 0
  return t0 >= taps || first + t0 * dilation >= size;
}

}  // namespace

void fill_padding_only_outputs(const ConvParams& p, const float* bias, float* out) {
  std::vector<int> rows, cols;
  for (int oh = 0; oh < p.OH; ++oh)
    if (all_padding(oh, p.strideH, p.padTop, p.R, p.dilationH, p.H)) rows.push_back(oh);
  for (int ow = 0; ow < p.OW; ++ow)
    if (all_padding(ow, p.strideW, p.padLeft, p.S, p.dilationW, p.W)) cols.push_back(ow);
  if (rows.empty() && cols.empty()) return;
  for (int64_t plane = 0; plane < int64_t(p.N) * p.K; ++plane) {
    const float b = bias ? bias[plane % p.K] : 0.0f;
    const float v = p.relu && b < 0.0f ? 0.0f : p.relu6 && b > 6.0f ? 6.0f : b;
    float* y = out + plane * p.OH * p.OW;
    for (int oh : rows) std::fill(y + int64_t(oh) * p.OW, y + int64_t(oh + 1) * p.OW, v);
    if (cols.empty()) continue;
    for (int oh = 0; oh < p.OH; ++oh)
      for (int ow : cols) y[int64_t(oh) * p.OW + ow] = v;
  }
}

}  // namespace fastconv
