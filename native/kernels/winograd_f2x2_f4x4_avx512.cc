// Winograd F(2x2,3x3) and F(4x4,3x3) (1-D: F(2,3), F(4,3)) transforms and tuple-GEMM register tiles
// 14x32 and 28x16 floats (14x2, 28x1 vectors) on avx512. The forward driver is conv/winograd.cc.
#include <immintrin.h>
#include <cstdint>

#include "kernels/winograd_kernels.h"
#include "kernels/winograd_matrices.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx512.inc"
#include "kernels/winograd_transform_io_avx512.inc"
#include "kernels/winograd_f2x2_f4x4.inc"

constexpr WinogradKernels kKernels = make_winograd_kernels(
    "winograd_avx512", make_winograd_gemm<14, 2>(256), make_winograd_gemm<28, 1>(256));
}  // namespace

const WinogradKernels* winograd_kernels_avx512() { return &kKernels; }

}  // namespace fastconv
