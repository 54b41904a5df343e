// Depthwise convolution kernels: NEON.
#include <arm_neon.h>
#include <cstdint>

#include "kernels/depthwise_direct.h"
#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_neon.inc"
#include "kernels/depthwise_plane.inc"
#include "kernels/depthwise_direct.inc"
}  // namespace

FASTCONV_DECLARE_DEPTHWISE(depthwise_neon) {
  depthwise_plane_impl(in, row_step, tap_off, w, taps, out, OH, OW, bias, relu);
}

FASTCONV_DECLARE_DEPTHWISE3X3_DIRECT(depthwise3x3_direct_neon) {
  depthwise3x3_direct_impl(x, H, W, padTop, padLeft, zero_row, w, out, OH, OW, bias, relu);
}

}  // namespace fastconv
