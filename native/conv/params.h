// The canonical problem every native algorithm receives: a 2-D NCHW convolution with explicit,
// possibly asymmetric padding (conv1d arrives as H = R = 1). The fields are those of PARAM_FIELDS
// in native/interface.mjs; parse_params fills each by name from its index there.
#pragma once

#include <cstdint>
#include <string>

#include "conv/interface.generated.h"

namespace fastconv {

struct ConvParams {
  int N, C, H, W;
  int K, R, S;
  int groups;
  int strideH, strideW;
  int dilationH, dilationW;
  int padTop, padBottom, padLeft, padRight;
  int OH, OW;
  bool relu;
  bool relu6;  // with relu: clamp to [0, 6] (ReLU6); parse_params rejects it without relu

  int64_t input_size() const { return int64_t(N) * C * H * W; }
  int64_t weight_size() const { return int64_t(K) * (C / groups) * R * S; }
  int64_t output_size() const { return int64_t(N) * K * OH * OW; }
  int64_t flops() const { return 2 * output_size() * (C / groups) * R * S; }
  // The code the kernels' epilogues take: 0 none, 1 ReLU, 2 ReLU6.
  int activation() const { return relu6 ? 2 : relu ? 1 : 0; }
  bool depthwise() const { return C / groups == 1; }
};

constexpr int64_t kMaxElements = 2147483647;  // typed-array lengths and all indexing stay in int32

// Fills *p from the packed Int32Array and checks every invariant the kernels rely on. Returns ""
// when valid, else a message naming the field with the expected and actual values.
std::string parse_params(const int32_t* raw, int64_t count, ConvParams* p);

}  // namespace fastconv
