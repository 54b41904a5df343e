#include "kernels/kernel_config.h"

namespace fastconv {

namespace {

// Everything one instruction set runs. Isa::kNeon has its kernels on AArch64 only (32-bit ARM
// builds, where cpu.cc may report NEON too, run the scalar ones).
struct IsaKernels {
  GemmConfig gemm;
  DepthwiseConfig depthwise;
  FftConfig fft;
  const WinogradKernels* (*winograd)();
  const GradWeightWinogradKernels* (*grad_weight_winograd)();
  FmaPeakConfig fma_peak;
};

#define FASTCONV_FFT_CONFIG(isa, lanes)                                             \
  FftConfig {                                                                       \
    "fft_tile_" #isa, lanes, fft_forward_##isa, fft_inverse_##isa, fft_cgemm_##isa, \
        fft_all_finite_##isa                                                        \
  }

// GEMM blocking tuned on an Emerald Rapids Xeon (48 KiB L1d, 2 MiB L2 per core) and kept on a Zen 5
// EPYC (48 KiB L1d, 1 MiB L2), where the kc x nr panel and mc x kc block fit as well. On AVX-512,
// 8x48 beat 14x32 on bench layers L2/L4/L6 (64- and 256-channel layers fill 8-row tiles exactly; 14
// rows waste 9% on 64) and kc 192 beat 128 and 256 (numbers: bench/README.md, measurements); mc
// covers all rows of these layers so each B panel is read once per k-block.
constexpr IsaKernels kScalar{
    {"gemm_scalar_4x8", gemm_scalar_4x8, 4, 8, 256, 128, 256, 1},
    {"depthwise_scalar", depthwise_scalar},
    FASTCONV_FFT_CONFIG(scalar, 1),
    winograd_kernels_scalar,
    grad_weight_winograd_scalar,
    {"fma_peak_scalar", fma_peak_scalar, 8 * 1 * 2},
};
#if defined(__x86_64__) || defined(__i386__)
constexpr IsaKernels kAvx512{
    {"gemm_avx512_8x48", gemm_avx512_8x48, 8, 48, 192, 512, 576, 16},
    {"depthwise_avx512", depthwise_avx512},
    FASTCONV_FFT_CONFIG(avx512, 16),
    winograd_kernels_avx512,
    grad_weight_winograd_avx512,
    {"fma_peak_avx512", fma_peak_avx512, 24 * 16 * 2},
};
constexpr IsaKernels kAvx2{
    {"gemm_avx2_6x16", gemm_avx2_6x16, 6, 16, 256, 144, 256, 8},
    {"depthwise_avx2", depthwise_avx2},
    FASTCONV_FFT_CONFIG(avx2, 8),
    winograd_kernels_avx2,
    grad_weight_winograd_avx2,
    {"fma_peak_avx2", fma_peak_avx2, 12 * 8 * 2},
};
#endif
#if defined(__aarch64__)
// Blocking as for AVX2 (a 48 KiB-class L1 and a large L2 on current arm64 cores), not tuned on arm64
// hardware: none was at hand (the kernels are checked under qemu-aarch64, test/neon.qemu.test.ts).
constexpr IsaKernels kNeon{
    {"gemm_neon_8x12", gemm_neon_8x12, 8, 12, 256, 144, 264, 4},
    {"depthwise_neon", depthwise_neon},
    FASTCONV_FFT_CONFIG(neon, 4),
    winograd_kernels_neon,
    grad_weight_winograd_neon,
    {"fma_peak_neon", fma_peak_neon, 16 * 4 * 2},
};
#endif

#undef FASTCONV_FFT_CONFIG

const IsaKernels& kernels_for(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::kAvx512) return kAvx512;
  if (isa == Isa::kAvx2) return kAvx2;
#endif
#if defined(__aarch64__)
  if (isa == Isa::kNeon) return kNeon;
#endif
  (void)isa;
  return kScalar;
}

}  // namespace

const GemmConfig& gemm_config(Isa isa) { return kernels_for(isa).gemm; }
const FmaPeakConfig& fma_peak_config(Isa isa) { return kernels_for(isa).fma_peak; }
const DepthwiseConfig& depthwise_config(Isa isa) { return kernels_for(isa).depthwise; }
const FftConfig& fft_config(Isa isa) { return kernels_for(isa).fft; }
const WinogradKernels& winograd_kernels(Isa isa) { return *kernels_for(isa).winograd(); }
const GradWeightWinogradKernels& grad_weight_winograd_kernels(Isa isa) {
  return *kernels_for(isa).grad_weight_winograd();
}

}  // namespace fastconv
