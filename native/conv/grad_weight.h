// Grad-weight of a convolution (the weight gradient of backward), as a packed GEMM on the per-ISA
// microkernels: dW[k, c, r, s] = sum over n, oh, ow of dY[n, k, oh, ow] * x[n, c, tap (r, s) of (oh, ow)].
#pragma once

#include <string>

#include "conv/params.h"

namespace fastconv {

// input [N, C, H, W], grad_out [N, K, OH, OW] -> grad_weight [K, C/groups, R, S] and, when
// grad_bias is not null, grad_bias [K] (sums of grad_out accumulated in double). Outputs are
// overwritten and must not overlap the inputs. p must be validated (parse_params); p.relu is
// ignored: the caller passes the gradient after any ReLU mask. Takes the pool's execution lock like
// run_conv. Returns "" on success, else an error message. Results do not depend on the thread count.
std::string run_grad_weight(const ConvParams& p, const float* input, const float* grad_out,
                            float* grad_weight, float* grad_bias);

}  // namespace fastconv
