// Depthwise convolution output-plane kernel: avx512.
#include <immintrin.h>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx512.inc"
#include "kernels/depthwise_plane.inc"
}  // namespace

FASTCONV_DECLARE_DEPTHWISE(depthwise_avx512) {
  depthwise_plane_impl(in, row_step, tap_off, w, taps, out, OH, OW, bias, relu);
}

}  // namespace fastconv
