// FMA peak probe: AVX-512 zmm, 24 independent accumulators (see fma_peak.inc).
#include <immintrin.h>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx512.inc"
#include "kernels/fma_peak.inc"
}  // namespace

FASTCONV_DECLARE_FMA_PEAK(fma_peak_avx512) { return fma_peak_loop<24>(iters); }

}  // namespace fastconv
