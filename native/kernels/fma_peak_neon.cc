// FMA peak probe: NEON, 16 independent q-register accumulators (see fma_peak.inc).
#include <arm_neon.h>
#include <cstdint>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_neon.inc"
#include "kernels/fma_peak.inc"
}  // namespace

FASTCONV_DECLARE_FMA_PEAK(fma_peak_neon) { return fma_peak_loop<16>(iters); }

}  // namespace fastconv
