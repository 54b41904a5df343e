// Winograd convolution F(2x2,3x3) / F(4x4,3x3), and F(2,3) / F(4,3) along W for 1 x 3 kernels
// (conv1d); stride 1, any padding, groups, batch. Dilated kernels run as one dense problem per
// polyphase sub-grid (dh x dw of them), sharing the transformed filter.
//
// The filter transform is separate so that a layer can transform its weights once and keep them:
// winograd_transform_filter() + conv_winograd_transformed() == conv_winograd(). conv_winograd
// itself keeps the last transformed filter and reuses it when the weights are bitwise equal.
// All of these expect the pool's execution lock to be held (as run_conv does).
//
// Non-finite inputs: a NaN or Inf reaches every output of each tile whose input window holds it
// (up to 8x8 outputs with F(4x4)), not only the outputs whose taps see it as in a direct
// convolution; callers needing exact NaN/Inf placement must use another algorithm.
#pragma once

#include <cstdint>
#include <string>

#include "conv/params.h"

namespace fastconv {

// "" when Winograd can run p, else a sentence saying why not.
std::string winograd_unsupported(const ConvParams& p);

// Output tile size (2 or 4) the driver uses for p; the knob winogradTile = 2|4 forces it (conv/knobs.h).
// (The driver also picks a register tile; both fix the transformed filter's layout.)
int winograd_tile(const ConvParams& p);

// Floats of the transformed filter of p. Its layout depends on the current ISA, on K, C,
// groups and the kernel shape, and (through the tile choice) on OH x OW and the padding.
int64_t winograd_filter_floats(const ConvParams& p);
// Identifies the layout (ISA, tile size, register tile) winograd_transform_filter uses for p: a
// cached transformed filter stays valid while this, K, C, groups and R x S are unchanged.
int winograd_filter_layout(const ConvParams& p);
std::string winograd_transform_filter(const ConvParams& p, const float* weight, float* u);

// out = conv(input, weight) + bias (then ReLU if p.relu), from a transformed filter u. When the
// input holds a NaN or Inf, sets *nonfinite_input and leaves `out` unspecified (conv_winograd then
// runs im2col); the check rides along the input transform, on the pool's threads.
std::string conv_winograd_transformed(const ConvParams& p, const float* input, const float* u,
                                      const float* bias, float* out, bool* nonfinite_input);

}  // namespace fastconv
