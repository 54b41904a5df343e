// GEMM microkernel: NEON, 8 rows x 12 columns (3 q-registers) per register tile, 24 accumulators of
// the 32 vector registers, leaving room for the B row and a broadcast.
#include <arm_neon.h>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_neon.inc"
#include "kernels/gemm_tile.inc"
}  // namespace

FASTCONV_DECLARE_GEMM(gemm_neon_8x12) {
  gemm_tile<8, 3>(kc, a, b, boff, c, ldc, m, n, bias, flags, map);
}

}  // namespace fastconv
