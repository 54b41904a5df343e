// The one place that maps an instruction set to its kernels and blocking parameters: GEMM,
// depthwise, Winograd (forward and grad-weight) and FFT tiles. Drivers in native/conv ask for the current configuration
// and never test CPU flags themselves.
#pragma once

#include "cpu.h"
#include "kernels/fft_kernels.h"
#include "kernels/grad_weight_kernels.h"
#include "kernels/kernels.h"
#include "kernels/winograd_kernels.h"

namespace fastconv {

struct GemmConfig {
  const char* name;
  GemmUkernel kernel;
  int mr, nr;  // register tile
  int kc;      // depth of one k-block: a kc x nr B micro-panel stays in L1
  int mc;      // rows of A per block: an mc x kc A block stays in L2
  int nc;      // columns per task: the B block packed by one thread for one k-block
  int lanes;   // floats per vector: nr / lanes vectors per tile row (GemmColumnMap)
};

struct DepthwiseConfig {
  const char* name;
  DepthwisePlaneKernel plane;
};

struct FftConfig {
  const char* name;
  int lanes;  // independent transforms per vector
  FftForwardFn forward;
  FftInverseFn inverse;
  FftCgemmFn cgemm;
  FftAllFiniteFn all_finite;
};

struct FmaPeakConfig {
  const char* name;
  FmaPeakKernel loop;
  int flops_per_iter;  // accumulators x lanes x 2
};

const GemmConfig& gemm_config(Isa isa);
const FmaPeakConfig& fma_peak_config(Isa isa);
const DepthwiseConfig& depthwise_config(Isa isa);
const FftConfig& fft_config(Isa isa);
const GradWeightWinogradKernels& grad_weight_winograd_kernels(Isa isa);
// (winograd_kernels(Isa) is declared in winograd_kernels.h and defined with the others.)

}  // namespace fastconv
