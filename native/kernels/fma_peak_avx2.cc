// FMA peak probe: AVX2+FMA ymm, 12 independent accumulators (see fma_peak.inc).
#include <immintrin.h>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx2.inc"
#include "kernels/fma_peak.inc"
}  // namespace

FASTCONV_DECLARE_FMA_PEAK(fma_peak_avx2) { return fma_peak_loop<12>(iters); }

}  // namespace fastconv
