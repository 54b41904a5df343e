// Tiled FFT convolution (overlap-save) for large kernels at stride 1.
//
// The output is cut into tiles of oth x otw pixels; the input window of each tile (th x tw
// samples, th = oth + RE - 1, tw = otw + SE - 1, zero outside the image) and every filter go through a 2-D
// real FFT of th x tw (th = 1 when the kernel has one row, e.g. conv1d). Per frequency bin the
// convolution is a complex GEMM  Y[K x tiles] = F[K x C] * X[C x tiles]  (F conjugated, because
// PyTorch's convolution is a correlation); an inverse FFT per (output channel, tile) gives the
// tile, cropped, plus bias, ReLU. Dilated kernels are run as zero-stuffed dense kernels.
//
// Non-finite values: an FFT spreads a NaN or infinity over its whole tile (and every output
// channel), so conv_fft scans input, weight and bias first and runs conv_im2col instead when any
// value is not finite; results then match the direct definition exactly in NaN/Inf positions.
//
// Accuracy: the rounding error of an output is ~1e-7 of the largest S = conv(|x|,|w|)+|b| in its
// tile, not of its own S. Outputs whose window holds at most 16 products (corners under wide
// padding, C = 1..2) are therefore recomputed exactly; the rest stay within 1e-4 * S on inputs of
// one scale, but an output of tiny S next to values 1e4 times larger can exceed it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conv/params.h"
#include "kernels/fft_kernels.h"

namespace fastconv {

struct FftPlan {
  int th = 0, tw = 0;                // transform size
  int oth = 0, otw = 0;              // outputs per tile
  int RE = 0, SE = 0;                // kernel extent after dilation
  int64_t tiles_h = 0, tiles_w = 0;  // tiles per image
  int lanes = 1;                     // tiles per vector on the current ISA
  std::vector<float> row_tw, real_tw, col_tw;
  FftTile tile() const;
  int bins() const { return th * (tw / 2 + 1); }
  int64_t tiles(int N) const { return int64_t(N) * tiles_h * tiles_w; }
};

// "" and *plan filled (tile size chosen by the cost model, or th x tw when both > 0) when the
// FFT path applies to p, else the reason it does not. filter_cached: the caller keeps the
// transformed filter across calls, so its cost is left out of the choice.
std::string fft_make_plan(const ConvParams& p, FftPlan* plan, bool filter_cached = false, int th = 0,
                          int tw = 0);

// The algorithm table's AppliesFn: "" when conv_fft can run p (stride 1, kernel extent at most
// 64 rows x 8192 columns, transformed filters under 256 MiB), else why not. Cheap, lock-free.
std::string fft_applies(const ConvParams& p);

// Tile vectors per chunk: X + Y of a chunk stay within ~8 MiB (L3-resident), at least one vector.
// (fft_estimated_seconds, the tile choice's cost model, is in conv/fft_cost.h.)
int64_t fft_chunk_vectors(const FftPlan& plan, int64_t Cg, int64_t Kg, int64_t vecs);

// Frequency-domain filters: groups * bins * (K/groups) * (C/groups) complex values, conjugated
// and scaled by 1/(th*tw). Depends only on (weight, p, plan): cache it per layer.
int64_t fft_filter_floats(const ConvParams& p, const FftPlan& plan);
void fft_transform_filter(const ConvParams& p, const FftPlan& plan, const float* weight, float* filter);

// The convolution with filters already transformed by fft_transform_filter for this plan
// (weight is still read, for the few border outputs recomputed exactly). Does not check for
// non-finite values (conv_fft does). Callers hold the pool's execution lock like every algorithm.
std::string conv_fft_transformed(const ConvParams& p, const FftPlan& plan, const float* input,
                                 const float* weight, const float* filter, const float* bias,
                                 float* out);

// Frees the FFT path's reusable buffers (filter spectrum, X/Y, per-slot tiles); call it where
// release_all_scratch() is called, with the execution lock held.
void fft_release_buffers();

// The algorithm-table entry conv_fft (declared in algorithms.h): plan, filter transform,
// convolution; im2col fallback for non-finite values. Rejects stride != 1 with a message.

}  // namespace fastconv
