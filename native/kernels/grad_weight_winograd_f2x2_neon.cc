// Grad-weight Winograd F(3x3, 2x2) transforms on neon: grad_weight_winograd_f2x2.inc built with
// NEON (the arm64 baseline).
#include <cstdint>

#include "kernels/grad_weight_kernels.h"

namespace fastconv {
namespace {
#include "kernels/grad_weight_winograd_f2x2.inc"

constexpr GradWeightWinogradKernels kKernels{"grad_weight_winograd_f2x2_neon", gw_data_step, gw_grad_out,
                                             gw_output};
}  // namespace

const GradWeightWinogradKernels* grad_weight_winograd_neon() { return &kKernels; }

}  // namespace fastconv
