#include "kernels/kernel_config.h"

namespace fastconv {

namespace {

// Blocking for Zen 5 (48 KiB L1d, 1 MiB L2 per core). AVX-512 measured on bench layers L2/L4/L6
// (1 thread, median GFLOP/s): 8x48 beat 14x32 by 5-20% (64- and 256-channel layers fill 8-row
// tiles exactly; 14 rows waste 9% on 64); kc 192 beat 128 and 256 (L4 129 vs 127/116, L6 144 vs
// 140/141); mc covers all rows of these layers so each B panel is read once per k-block.
constexpr GemmConfig kGemmScalar{"gemm_scalar_4x8", gemm_scalar_4x8, 4, 8, 256, 128, 256};
#if defined(__x86_64__) || defined(__i386__)
constexpr GemmConfig kGemmAvx512{"gemm_avx512_8x48", gemm_avx512_8x48, 8, 48, 192, 512, 576};
constexpr GemmConfig kGemmAvx2{"gemm_avx2_6x16", gemm_avx2_6x16, 6, 16, 256, 144, 256};
#endif

constexpr DepthwiseConfig kDepthwiseScalar{"depthwise_scalar", depthwise_scalar};
#if defined(__x86_64__) || defined(__i386__)
constexpr DepthwiseConfig kDepthwiseAvx512{"depthwise_avx512", depthwise_avx512};
constexpr DepthwiseConfig kDepthwiseAvx2{"depthwise_avx2", depthwise_avx2};
#endif

}  // namespace

// Isa::kNeon has no kernels yet and runs the scalar ones.
const GemmConfig& gemm_config(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::kAvx512) return kGemmAvx512;
  if (isa == Isa::kAvx2) return kGemmAvx2;
#endif
  (void)isa;
  return kGemmScalar;
}

const DepthwiseConfig& depthwise_config(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::kAvx512) return kDepthwiseAvx512;
  if (isa == Isa::kAvx2) return kDepthwiseAvx2;
#endif
  (void)isa;
  return kDepthwiseScalar;
}

}  // namespace fastconv
