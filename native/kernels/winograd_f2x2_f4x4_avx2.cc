// Winograd F(2x2,3x3) and F(4x4,3x3) (1-D: F(2,3), F(4,3)) transforms and tuple-GEMM register tiles
// 6x16 and 12x8 floats (6x2, 12x1 vectors) on avx2. The forward driver is conv/winograd.cc.
#include <immintrin.h>
#include <cstdint>

#include "kernels/winograd_kernels.h"
#include "kernels/winograd_matrices.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx2.inc"
#include "kernels/winograd_transform_io_generic.inc"
#include "kernels/winograd_f2x2_f4x4.inc"

constexpr WinogradKernels kKernels = make_winograd_kernels(
    "winograd_avx2", make_winograd_gemm<6, 2>(256), make_winograd_gemm<12, 1>(256));
}  // namespace

const WinogradKernels* winograd_kernels_avx2() { return &kKernels; }

}  // namespace fastconv
