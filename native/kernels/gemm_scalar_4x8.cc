// GEMM microkernel: portable scalar, 4 rows x 8 columns per register tile.
#include <cstdint>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_scalar.inc"
#include "kernels/gemm_tile.inc"
}  // namespace

FASTCONV_DECLARE_GEMM(gemm_scalar_4x8) {
  gemm_tile<4, 8>(kc, a, b, boff, c, ldc, m, n, bias, flags, map);
}

}  // namespace fastconv
