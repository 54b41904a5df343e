// GEMM microkernel: AVX2+FMA, 6 rows x 16 columns (2 ymm) per register tile, 12 accumulators.
#include <immintrin.h>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx2.inc"
#include "kernels/gemm_tile.inc"
}  // namespace

FASTCONV_DECLARE_GEMM(gemm_avx2_6x16) {
  gemm_tile<6, 2>(kc, a, b, boff, c, ldc, m, n, bias, flags, map);
}

}  // namespace fastconv
