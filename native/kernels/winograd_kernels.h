// Per-ISA Winograd data transforms (the tuple GEMMs between them use the GEMM microkernels).
// Declarations only: included by files compiled with different ISA flags (see kernels.h for why).
//
// A "tile row" is a run of `count` horizontally adjacent tiles; the kernels vectorize across
// tiles, so tile j of the run is lane j of a vector and lands in column j of the transformed
// matrices. Tile size m = 2 or 4 along W; in 2-D also along H, in 1-D (R = 1) one row high.
#pragma once

#include <cstdint>

#include "cpu.h"

namespace fastconv {

// Input transform of one tile row of `channels` channel planes [H x W] (row stride W, plane
// stride plane_stride), so that per-run setup (edge masks) is paid once for all channels.
//   y0, x0: input coordinates of the first tile's top-left tap; may lie in the zero padding.
//   v: transformed value xi of tile j of channel c goes to v[xi * xi_stride + c * c_stride + j].
// Returns false if an input it read is NaN or Inf (v is then complete but useless).
using WinogradInputFn = bool (*)(const float* in, int64_t plane_stride, int channels, int H, int W,
                                 int y0, int x0, int count, float* v, int64_t c_stride,
                                 int64_t xi_stride);

// Output transform of one tile row for `channels` output channels, fused with bias and activation
// relu (0 none, 1 ReLU, 2 ReLU6).
//   m: tuple-GEMM result xi of tile j of channel k at m[xi * xi_stride + k * k_stride + j].
//   bias: per channel, or null.
//   out: first output row of the tile row in channel 0 (row stride OW, plane stride
//        plane_stride); writes `rows` rows (<= m in 2-D, 1 in 1-D) and columns ox + j*m + e < OW.
using WinogradOutputFn = void (*)(const float* m, int64_t k_stride, int64_t xi_stride, int channels,
                                  const float* bias, int relu, float* out, int64_t plane_stride, int OW,
                                  int rows, int ox, int count);

// Filter transform of one channel for up to mr output channels (rows) at once.
//   w: the 3x3 (or 1x3) filter of row 0; row i's is at w + i * row_stride.
//   dst: transformed value xi of row i goes to dst[xi * xi_stride + i], for i < mr (rows past
//        `rows` get 0: the zero padding of the GEMM's A panel).
using WinogradFilterFn = void (*)(const float* w, int64_t row_stride, int rows, float* dst,
                                  int64_t xi_stride);

// Tuple GEMM on one MR x NR register tile (the operand layout of the im2col kernels, without
// their bias/ReLU epilogue): c[i * ldc + j] (+)= sum_k a[k * MR + i] * b[k * ldb + j], i < m, j < n.
// a is a zero-padded MR-row panel; all NR columns of every b row must be readable.
using WinogradGemmFn = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                int64_t ldc, int m, int n, bool accumulate);

// A register tile shape and the filter transform that packs A panels for it.
struct WinogradGemm {
  WinogradGemmFn fn;
  WinogradFilterFn filter[2][2];  // [m == 4][two_d]
  int mr, nr;
  int kc;  // depth of one k-block: a kc x nr B micro-panel stays in L1
};

struct WinogradKernels {
  const char* name;
  // Indexed [m == 4][two_d].
  WinogradInputFn input[2][2];
  WinogradOutputFn output[2][2];
  // [0]: wide tile for many tiles per image; [1]: tall and narrow, wasting fewer columns when an
  // image has few tiles (e.g. 16 tiles of a 14x14 F(4x4) problem).
  WinogradGemm gemm[2];
};

const WinogradKernels* winograd_kernels_scalar();
#if defined(__x86_64__) || defined(__i386__)
const WinogradKernels* winograd_kernels_avx2();
const WinogradKernels* winograd_kernels_avx512();
#endif
#if defined(__aarch64__)
const WinogradKernels* winograd_kernels_neon();
#endif

// The Winograd kernels of an Isa (defined in kernel_config.cc with the others).
const WinogradKernels& winograd_kernels(Isa isa);

}  // namespace fastconv
