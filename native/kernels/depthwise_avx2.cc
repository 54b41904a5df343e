// Depthwise convolution output-plane kernel: avx2.
#include <immintrin.h>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx2.inc"
#include "kernels/depthwise_plane.inc"
}  // namespace

FASTCONV_DECLARE_DEPTHWISE(depthwise_avx2) {
  depthwise_plane_impl(in, row_step, tap_off, w, taps, out, OH, OW, bias, relu);
}

}  // namespace fastconv
