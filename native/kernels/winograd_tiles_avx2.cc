// Winograd transforms and tuple-GEMM tiles: avx2 (6x2 and 12x1 vectors).
#include <immintrin.h>
#include <cstdint>

#include "kernels/winograd_kernels.h"
#include "kernels/winograd_matrices.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx2.inc"
#include "kernels/winograd_tile_io_generic.inc"
#include "kernels/winograd_tiles.inc"

constexpr WinogradKernels kKernels = make_winograd_kernels(
    "winograd_avx2", make_winograd_gemm<6, 2>(256), make_winograd_gemm<12, 1>(256));
}  // namespace

const WinogradKernels* winograd_kernels_avx2() { return &kKernels; }

}  // namespace fastconv
