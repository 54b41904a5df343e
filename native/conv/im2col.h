// Implicit im2col: builds packed GEMM B panels straight from the input, without materializing the
// [C/groups*R*S, OH*OW] column matrix (for L6 that matrix would be 29 MB per image).
#pragma once

#include <cstdint>

#include "conv/params.h"

namespace fastconv {

// Packs rows [k0, k0 + kc) (row = (c, r, s) of one group) and columns [j0, j0 + ncols) (column =
// output pixel oh*OW + ow) of the im2col matrix of one (image, group) into ceil(ncols/nr) panels:
// dst[(panel * kc + k) * nr + jj]. Columns past ncols in the last panel are zero; padding taps are 0.
//   x: the group's input channels, [C/groups][H][W].
void pack_im2col_panels(const ConvParams& p, const float* x, int64_t k0, int64_t kc, int64_t j0,
                        int64_t ncols, int nr, float* dst);

// True when the im2col matrix is the input itself ([C/groups][H*W]): 1x1, stride 1, no padding.
bool im2col_is_identity(const ConvParams& p);

}  // namespace fastconv
