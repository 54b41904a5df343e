// Grad-weight of a convolution (the weight gradient of backward), as a packed GEMM on the per-ISA
// microkernels: dW[k, c, r, s] = sum over n, oh, ow of dY[n, k, oh, ow] * x[n, c, tap (r, s) of (oh, ow)].
#pragma once

#include <cstdint>
#include <string>

#include "conv/params.h"

namespace fastconv {

// input [N, C, H, W], grad_out [N, K, OH, OW] -> grad_weight [K, C/groups, R, S] and, when
// grad_bias is not null, grad_bias [K] (sums of grad_out accumulated in double). Outputs are
// overwritten and must not overlap the inputs. p must be validated (parse_params); p.relu is
// ignored: the caller passes the gradient after any ReLU mask. Takes the pool's execution lock like
// run_conv. Returns "" on success, else an error message. Results do not depend on the thread count.
//   algo (GradWeightAlgo, conv/interface.generated.h): kGradWeightAuto picks per shape; kGradWeightGemm forces the GEMM (every shape, exact to
//   GEMM rounding); kGradWeightWinograd forces Winograd where grad_weight_winograd_unsupported(p) is "", and is an
//   error elsewhere. Non-finite inputs always take the GEMM (Winograd would spread them).
std::string run_grad_weight(const ConvParams& p, const float* input, const float* grad_out,
                            float* grad_weight, float* grad_bias, int algo = kGradWeightAuto);

// What a caller that prefers `requested` (GradWeightAlgo) should ask run_grad_weight for on p:
// kGradWeightAuto resolves to the kernel's own choice, kGradWeightWinograd to the GEMM where Winograd
// does not apply. kernel_pays is false where grad-weight built from forward convolutions is faster
// than any kernel here (src/backward.ts then builds it). Cheap, lock-free.
struct GradWeightChoice {
  GradWeightAlgo algo;  // kGradWeightGemm or kGradWeightWinograd
  bool kernel_pays;
  std::string reason;
};
GradWeightChoice grad_weight_choose(const ConvParams& p, int requested);

struct PhaseLayout;

// One row i of phase plane ph (conv/phases.h) of image n, group g of x, channels-last:
// dst[j*Cg + c] for j < l.Wq; rows and columns outside the image are 0.
void fill_channels_last_row(const ConvParams& p, const PhaseLayout& l, const float* x, int64_t n,
                            int64_t g, int64_t ph, int64_t i, float* dst);

// The drivers run_grad_weight chooses from (they expect the pool's lock to be held).
std::string grad_weight_gemm(const ConvParams& p, const float* x, const float* dy, float* dw, float* db);
// "" when grad_weight_winograd can run p, else why not.
std::string grad_weight_winograd_unsupported(const ConvParams& p);
std::string grad_weight_winograd(const ConvParams& p, const float* x, const float* dy, float* dw);

}  // namespace fastconv
