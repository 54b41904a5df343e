// Winograd transforms and tuple-GEMM tiles: avx512 (14x2 and 28x1 vectors).
#include <immintrin.h>
#include <cstdint>

#include "kernels/winograd_kernels.h"
#include "kernels/winograd_matrices.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx512.inc"
#include "kernels/winograd_tile_io_avx512.inc"
#include "kernels/winograd_tiles.inc"

constexpr WinogradKernels kKernels = make_winograd_kernels(
    "winograd_avx512", make_winograd_gemm<14, 2>(256), make_winograd_gemm<28, 1>(256));
}  // namespace

const WinogradKernels* winograd_kernels_avx512() { return &kKernels; }

}  // namespace fastconv
