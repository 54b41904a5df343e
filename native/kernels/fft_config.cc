#include "kernels/fft_config.h"

namespace fastconv {

namespace {

#define FASTCONV_FFT_CONFIG(isa, lanes) \
  FftConfig { "fft_tile_" #isa, lanes, fft_forward_##isa, fft_inverse_##isa, fft_cgemm_##isa, fft_all_finite_##isa }

constexpr FftConfig kFftScalar = FASTCONV_FFT_CONFIG(scalar, 1);
#if defined(__x86_64__) || defined(__i386__)
constexpr FftConfig kFftAvx512 = FASTCONV_FFT_CONFIG(avx512, 16);
constexpr FftConfig kFftAvx2 = FASTCONV_FFT_CONFIG(avx2, 8);
#endif

#undef FASTCONV_FFT_CONFIG

}  // namespace

// Isa::kNeon has no kernels yet and runs the scalar ones.
const FftConfig& fft_config(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::kAvx512) return kFftAvx512;
  if (isa == Isa::kAvx2) return kFftAvx2;
#endif
  (void)isa;
  return kFftScalar;
}

}  // namespace fastconv
