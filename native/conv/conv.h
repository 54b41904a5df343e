// Entry point of the native convolution: algorithm table and execution (locking, errors).
#pragma once

#include <string>
#include <vector>

#include "conv/params.h"

namespace fastconv {

// Runs algorithm `code` (ALGORITHM_CODE in src/backends/types.ts). Returns "" on success, else an
// error message. Blocks while another convolution runs (they share the pool and scratch).
std::string run_conv(const ConvParams& p, int code, const float* input, const float* weight,
                     const float* bias, float* out);

// "" when algorithm `code` is implemented and applies to p, else the reason it cannot run.
std::string algorithm_applies(const ConvParams& p, int code);

// Names of the algorithms this build implements, in code order.
std::vector<std::string> implemented_algorithms();

int get_num_threads();
void set_num_threads(int n);  // waits for running convolutions

}  // namespace fastconv
