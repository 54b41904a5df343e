// Outputs whose every tap falls in the zero padding are exactly relu(bias) in PyTorch, and their
// S = |bias| leaves no room for the rounding noise a Winograd or FFT tile spreads over its outputs
// from neighbours that see data. Only whole rows or columns at the edges can qualify (padding wider
// than the dilated kernel).
#pragma once

#include "conv/params.h"

namespace fastconv {

// Rewrites those outputs of every plane of out [N, K, OH, OW] with relu(bias[k]) (0 without bias).
void fill_padding_only_outputs(const ConvParams& p, const float* bias, float* out);

}  // namespace fastconv
