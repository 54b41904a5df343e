// GEMM microkernel: AVX-512, 8 rows x 48 columns (3 zmm) per register tile, 24 accumulators.
#include <immintrin.h>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx512.inc"
#include "kernels/gemm_tile.inc"
}  // namespace

FASTCONV_DECLARE_GEMM(gemm_avx512_8x48) {
  gemm_tile<8, 3>(kc, a, b, boff, c, ldc, m, n, bias, flags, map);
}

}  // namespace fastconv
