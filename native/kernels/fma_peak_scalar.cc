// FMA peak probe: portable scalar float, 8 independent accumulators (see fma_peak.inc).
#include <cstdint>

#include "kernels/kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_scalar.inc"
#include "kernels/fma_peak.inc"
}  // namespace

FASTCONV_DECLARE_FMA_PEAK(fma_peak_scalar) { return fma_peak_loop<8>(iters); }

}  // namespace fastconv
