// Winograd transforms and tuple-GEMM tiles: scalar (4x8 and 8x4 vectors).
#include <cstdint>

#include "kernels/winograd_kernels.h"
#include "kernels/winograd_matrices.h"

namespace fastconv {
namespace {
#include "kernels/vec_scalar.inc"
#include "kernels/winograd_tile_io_generic.inc"
#include "kernels/winograd_tiles.inc"

constexpr WinogradKernels kKernels = make_winograd_kernels(
    "winograd_scalar", make_winograd_gemm<4, 8>(256), make_winograd_gemm<8, 4>(256));
}  // namespace

const WinogradKernels* winograd_kernels_scalar() { return &kKernels; }

}  // namespace fastconv
