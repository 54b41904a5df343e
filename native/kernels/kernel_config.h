// The one place that maps an instruction set to its kernels and blocking parameters. Drivers in
// native/conv ask for the current configuration and never test CPU flags themselves.
#pragma once

#include "cpu.h"
#include "kernels/kernels.h"

namespace fastconv {

struct GemmConfig {
  const char* name;
  GemmUkernel kernel;
  int mr, nr;  // register tile
  int kc;      // depth of one k-block: a kc x nr B micro-panel stays in L1
  int mc;      // rows of A per block: an mc x kc A block stays in L2
  int nc;      // columns per task: the B block packed by one thread for one k-block
};

struct DepthwiseConfig {
  const char* name;
  DepthwisePlaneKernel plane;
};

const GemmConfig& gemm_config(Isa isa);
const DepthwiseConfig& depthwise_config(Isa isa);

}  // namespace fastconv
