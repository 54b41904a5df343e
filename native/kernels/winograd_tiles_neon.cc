// Winograd transforms and tuple-GEMM tiles: NEON (8x3 and 16x1 vectors).
#include <arm_neon.h>
#include <cstdint>

#include "kernels/winograd_kernels.h"
#include "kernels/winograd_matrices.h"

namespace fastconv {
namespace {
#include "kernels/vec_neon.inc"
#include "kernels/winograd_tile_io_generic.inc"
#include "kernels/winograd_tiles.inc"

constexpr WinogradKernels kKernels = make_winograd_kernels(
    "winograd_neon", make_winograd_gemm<8, 3>(256), make_winograd_gemm<16, 1>(256));
}  // namespace

const WinogradKernels* winograd_kernels_neon() { return &kKernels; }

}  // namespace fastconv
