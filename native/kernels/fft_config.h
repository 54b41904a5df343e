// Maps the instruction set to the tiled-FFT kernels (the FFT counterpart of kernel_config.h;
// it can be folded into kernel_config once the FFT path settles).
#pragma once

#include "cpu.h"
#include "kernels/fft_kernels.h"

namespace fastconv {

struct FftConfig {
  const char* name;
  int lanes;  // independent transforms per vector
  FftForwardFn forward;
  FftInverseFn inverse;
  FftCgemmFn cgemm;
  FftAllFiniteFn all_finite;
};

const FftConfig& fft_config(Isa isa);

}  // namespace fastconv
