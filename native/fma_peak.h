// The FMA peak probe (kernels/fma_peak.inc) as a measurement: GFLOP/s one core reaches now.
#pragma once

#include "cpu.h"

namespace fastconv {

// Runs ISA isa's probe on the calling thread for about ms milliseconds; returns the best GFLOP/s of
// five slices.
double measure_fma_peak(Isa isa, double ms);

}  // namespace fastconv
