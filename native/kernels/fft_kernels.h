// Per-ISA kernels of the tiled FFT convolution (native/conv/fft.cc). Declarations only: this
// header is included by files compiled with different ISA flags (an inline definition here could
// reach the generic path as its AVX-512 copy: see kernels.h).
//
// Every kernel works on one "vector" of independent transforms, one per SIMD lane (lanes = tiles
// of an image, or filters), so the FFT itself needs no shuffles: it is the textbook radix-2
// algorithm with each float replaced by a vector of `lanes` floats.
//
// Frequency-domain data is split complex, one bin after another: bin b of a lane vector lives at
// base + b * bin_stride as [re x lanes][im x lanes]. A tile of th x tw real samples has
// th * (tw/2 + 1) bins (Hermitian symmetry of a real transform), ordered row-frequency major.
#pragma once

#include <cstdint>

namespace fastconv {

// Geometry and twiddles of one tile transform (built by the ISA-independent driver).
struct FftTile {
  int th, tw;            // transform size, powers of two; th == 1 for conv1d, tw >= 4
  int m;                 // tw / 2: the row transform is a complex FFT of length m
  int oth, otw;          // valid outputs per tile (th - RE + 1, tw - SE + 1; 1-D: oth = 1)
  int bins;              // th * (m + 1)
  const float* row_tw;   // exp(-2 pi i k / m), k < m/2, as (re, im) pairs
  const float* real_tw;  // exp(-2 pi i k / tw), k <= m, as (re, im) pairs
  const float* col_tw;   // exp(-2 pi i k / th), k < th/2, as (re, im) pairs (unused if th == 1)
};

// Where each lane's samples come from (forward) or go to (inverse): the top-left sample of the
// tile in a plane of rows x cols floats (row stride = cols). Samples outside the plane read as 0
// (forward) or are dropped (inverse). A null plane is an unused lane (zeros / nothing written).
struct FftLane {
  const float* src;  // forward
  float* dst;        // inverse
  int row0, col0;
};

// Forward: gathers `lanes` tiles, 2-D real FFT (unnormalized), writes th*(m+1) bins to dst.
//   work: th * (m + 1) * 2 * kFftMaxLanes floats.
using FftForwardFn = void (*)(const FftTile& t, const FftLane* lanes, int nlanes, int rows, int cols,
                              float* work, float* dst, int64_t bin_stride);
// Inverse: reads the bins at src, unnormalized inverse 2-D real FFT, keeps the first oth x otw
// samples, adds bias, applies activation relu (0 none, 1 ReLU, 2 ReLU6), and writes them to each lane's plane (rows x cols).
using FftInverseFn = void (*)(const FftTile& t, const float* src, int64_t bin_stride, FftLane* lanes,
                              int nlanes, int rows, int cols, float bias, int relu, float* work);
// For one bin and one vector of tiles: y[k] = sum_c f[k][c] * x[c] (complex), for k < K.
//   f: [K][C] (re, im) pairs; x: [C] lane vectors [re][im]; y: [K] lane vectors [re][im].
using FftCgemmFn = void (*)(int K, int C, const float* f, const float* x, float* y);
// True when all n floats are finite (no NaN or infinity).
using FftAllFiniteFn = bool (*)(const float* x, int64_t n);

constexpr int kFftMaxLanes = 16;

#define FASTCONV_DECLARE_FFT_KERNELS(isa)                                                        \
  void fft_forward_##isa(const FftTile& t, const FftLane* lanes, int nlanes, int rows, int cols, \
                         float* work, float* dst, int64_t bin_stride);                           \
  void fft_inverse_##isa(const FftTile& t, const float* src, int64_t bin_stride, FftLane* lanes, \
                         int nlanes, int rows, int cols, float bias, int relu, float* work);     \
  void fft_cgemm_##isa(int K, int C, const float* f, const float* x, float* y);                  \
  bool fft_all_finite_##isa(const float* x, int64_t n)

FASTCONV_DECLARE_FFT_KERNELS(scalar);
#if defined(__x86_64__) || defined(__i386__)
FASTCONV_DECLARE_FFT_KERNELS(avx512);
FASTCONV_DECLARE_FFT_KERNELS(avx2);
#endif
#if defined(__aarch64__)
FASTCONV_DECLARE_FFT_KERNELS(neon);
#endif

}  // namespace fastconv
