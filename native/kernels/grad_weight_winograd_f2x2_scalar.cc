// Grad-weight Winograd F(3x3, 2x2) transforms on scalar: grad_weight_winograd_f2x2.inc built with
// no vector flags.
#include <cstdint>

#include "kernels/grad_weight_kernels.h"

namespace fastconv {
namespace {
#include "kernels/grad_weight_winograd_f2x2.inc"

constexpr GradWeightWinogradKernels kKernels{"grad_weight_winograd_f2x2_scalar", gw_data_step,
                                             gw_grad_out, gw_output};
}  // namespace

const GradWeightWinogradKernels* grad_weight_winograd_scalar() { return &kKernels; }

}  // namespace fastconv
