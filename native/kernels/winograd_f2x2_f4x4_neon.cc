// Winograd F(2x2,3x3) and F(4x4,3x3) (1-D: F(2,3), F(4,3)) transforms and tuple-GEMM register tiles
// 8x12 and 16x4 floats (8x3, 16x1 vectors) on NEON. The forward driver is conv/winograd.cc.
#include <arm_neon.h>
#include <cstdint>

#include "kernels/winograd_kernels.h"
#include "kernels/winograd_matrices.h"

namespace fastconv {
namespace {
#include "kernels/vec_neon.inc"
#include "kernels/winograd_transform_io_generic.inc"
#include "kernels/winograd_f2x2_f4x4.inc"

constexpr WinogradKernels kKernels = make_winograd_kernels(
    "winograd_neon", make_winograd_gemm<8, 3>(256), make_winograd_gemm<16, 1>(256));
}  // namespace

const WinogradKernels* winograd_kernels_neon() { return &kKernels; }

}  // namespace fastconv
