// Entry point of the native convolution: algorithm table and execution (locking, errors).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conv/packed_weights.h"
#include "conv/params.h"

namespace fastconv {

// Runs algorithm `code` (ALGORITHM_CODE in src/backends/types.ts). Returns "" on success, else an
// error message. Blocks while another convolution runs (they share the pool and scratch).
// `packed`: the calling layer's transformed weights, valid for `weight` (the caller clears it when
// the weights change), or null; `packed_epoch`: packed->epoch() when the call was made.
std::string run_conv(const ConvParams& p, int code, const float* input, const float* weight,
                     const float* bias, float* out, PackedWeights* packed = nullptr,
                     uint64_t packed_epoch = 0);

// Empties a layer's store now, or, while a convolution runs, marks it to be emptied before its next
// use; never blocks the caller.
void clear_packed(PackedWeights* packed);

// "" when algorithm `code` is implemented and applies to p, else the reason it cannot run.
std::string algorithm_applies(const ConvParams& p, int code);

// Threads algorithm `code` would run p on (the pool's size or 1); the caller has checked that it applies.
int algorithm_threads(const ConvParams& p, int code);

// Names of the algorithms this build implements, in code order.
std::vector<std::string> implemented_algorithms();

int get_num_threads();
void set_num_threads(int n);  // waits for running convolutions

}  // namespace fastconv
