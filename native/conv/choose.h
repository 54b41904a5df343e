// The native backend's own choice of algorithm per problem (what 'auto' runs and explain() reports).
#pragma once

#include <string>

#include "conv/params.h"

namespace fastconv {

struct AlgorithmChoice {
  AlgorithmCode code;
  std::string reason;  // one sentence, for explain()
  // The same answer for p until the ISA or a knob changes; false where the FFT crossover was asked,
  // which reads FASTCONV_FFT_CALIBRATION at every choice.
  bool stable = true;
};

// The cheapest algorithm that applies to p (a validated problem), by rules measured on the reference
// machine; the FFT/GEMM crossover is calibrated on this one (conv/fft_cost.h), which may run the
// probe: never call it with the pool's execution lock held.
AlgorithmChoice choose_algorithm(const ConvParams& p);

}  // namespace fastconv
