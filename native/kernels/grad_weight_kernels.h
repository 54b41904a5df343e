// Signatures of the per-ISA grad-weight Winograd transforms, F(3x3, 2x2) (the driver, with the math,
// is conv/grad_weight_winograd.cc; its GEMMs run on the forward microkernels of gemm_config).
// Declarations only, as kernels.h: included by files compiled with different ISA flags.
#pragma once

#include <cstdint>

namespace fastconv {

// One 1-D step of B^T d (or of d B) on 4 rows of n channels each: o0..o3 from d0..d3.
using GradWinogradDataFn = void (*)(const float* d0, const float* d1, const float* d2, const float* d3,
                                    float* o0, float* o1, float* o2, float* o3, int64_t n);

// u = A y A^T of one 2x2 dY tile for mr <= 16 output channels at once (y00[i] .. y11[i], i < mr);
// transform point xi of channel i goes to out[xi * stride + i].
using GradWinogradGradOutFn = void (*)(const float* y00, const float* y01, const float* y10,
                                       const float* y11, float* out, int64_t stride, int mr);

// dw = G^T m G (3x3 from the 4x4 transform points) for `channels` input channels of one output
// channel: point xi of channel c at m[xi * xi_stride + c]; channel c's 3x3 goes to dw + 9 * c.
using GradWinogradOutputFn = void (*)(const float* m, int64_t xi_stride, int64_t channels, float* dw);

struct GradWeightWinogradKernels {
  const char* name;
  GradWinogradDataFn data;
  GradWinogradGradOutFn grad_out;
  GradWinogradOutputFn output;
};

const GradWeightWinogradKernels* grad_weight_winograd_scalar();
#if defined(__x86_64__) || defined(__i386__)
const GradWeightWinogradKernels* grad_weight_winograd_avx2();
const GradWeightWinogradKernels* grad_weight_winograd_avx512();
#endif
#if defined(__aarch64__)
const GradWeightWinogradKernels* grad_weight_winograd_neon();
#endif

}  // namespace fastconv
