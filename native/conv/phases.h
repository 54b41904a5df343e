// Phase planes: a zero-padded copy of an input channel split by stride phase, so that every tap of
// a strided, dilated convolution reads a contiguous, shifted window (stride 1 in phase space):
//   phase[a][b][i][j] = xpad[i*strideH + a][j*strideW + b]   (a < strideH, b < strideW)
// Tap (r, s) of output (oh, ow) is phase plane (r*dh % sh, s*dw % sw) at row oh + r*dh/sh, column
// ow + s*dw/sw. Stride 1 has a single phase: the padded plane itself.
#pragma once

#include <cstdint>

#include "conv/params.h"

namespace fastconv {

struct PhaseLayout {
  int64_t Hq, Wq;   // rows and columns of one phase plane (Wq >= OW, Hq >= OH + (R-1)*dh/sh)
  int64_t plane;    // Hq * Wq
  int64_t channel;  // strideH * strideW * plane: floats per input channel
  double total;     // N * C * channel, in double because absurd padding/strides overflow int64
};

// Valid only when total is small enough to allocate (callers check it before using the ints).
PhaseLayout phase_layout(const ConvParams& p);

// Offset of tap (r, s) inside one channel's phase planes.
int64_t phase_tap_offset(const ConvParams& p, const PhaseLayout& l, int64_t r, int64_t s);

// Writes all phase planes of one input channel x [H][W] to dst (l.channel floats).
void fill_phases(const ConvParams& p, const PhaseLayout& l, const float* x, float* dst);

}  // namespace fastconv
