// Winograd F(2x2,3x3) and F(4x4,3x3) (1-D: F(2,3), F(4,3)) transforms and tuple-GEMM register tiles
// 4x8 and 8x4 floats on scalar. The forward driver is conv/winograd.cc.
#include <cstdint>

#include "kernels/winograd_kernels.h"
#include "kernels/winograd_matrices.h"

namespace fastconv {
namespace {
#include "kernels/vec_scalar.inc"
#include "kernels/winograd_transform_io_generic.inc"
#include "kernels/winograd_f2x2_f4x4.inc"

constexpr WinogradKernels kKernels = make_winograd_kernels(
    "winograd_scalar", make_winograd_gemm<4, 8>(256), make_winograd_gemm<8, 4>(256));
}  // namespace

const WinogradKernels* winograd_kernels_scalar() { return &kKernels; }

}  // namespace fastconv
