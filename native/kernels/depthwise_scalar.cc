// Depthwise convolution output-plane kernel: scalar.
#include <cstdint>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_scalar.inc"
#include "kernels/depthwise_plane.inc"
}  // namespace

FASTCONV_DECLARE_DEPTHWISE(depthwise_scalar) {
  depthwise_plane_impl(in, row_step, tap_off, w, taps, out, OH, OW, bias, relu);
}

}  // namespace fastconv
