// Signatures of the per-ISA microkernels. Declarations only: this header is included by files
// compiled with different ISA flags, so it must not define any function (an inline function would be
// compiled once per ISA, and the linker may keep the AVX-512 copy for the generic path too).
#pragma once

#include <cstdint>

namespace fastconv {

// Epilogue flags of a GEMM microkernel call.
enum GemmFlags : int {
  kGemmFirst = 1,  // overwrite C with acc + bias (else C += acc)
  kGemmLast = 2,   // last k-block: apply ReLU if kGemmRelu (clamped to [0, 6] with kGemmRelu6 too)
  kGemmRelu = 4,
  // Prefetch row k of the B panel after next (at b + boff[k] + 2*NR) for the rows k % 8 == phase,
  // the phase in bits 8..10: the row tiles of one panel each fetch an eighth of that panel.
  kGemmPrefetchNext = 8,
  kGemmRelu6 = 16,
};
constexpr int kGemmPrefetchPhaseShift = 8;

// Where a register tile's columns go when GEMM columns are not output pixels one to one: phase-plane
// rows are Wq wide for OW < Wq outputs (conv/gemm.cc), so some lanes are padding to drop. Vector j
// of every row keeps the lanes set in mask[j] and stores them packed, in lane order, at
// c + i*ldc + dst[j]; the kept lanes of one tile are consecutive outputs, so no expand is needed.
// A mapped call is a tile's only store to c: either its one k-block (kGemmFirst, bias added) or the
// last of several, with src set: the sums of the earlier ones are read from a scratch tile in the
// GEMM's own column layout (row i at src + i*ld_src, its first n columns written), so the last
// k-block moves the tile to the output in the same pass.
constexpr int kGemmMaxVectors = 8;  // NR / lanes, at most (scalar 4x8)
struct GemmColumnMap {
  uint32_t mask[kGemmMaxVectors];
  int64_t dst[kGemmMaxVectors];
  const float* src;
  int64_t ld_src;
};

// C[m x n] (op)= A[m x kc] * B[kc x n] on one MR x NR register tile.
//   a: packed A micro-panel, a[k * MR + i]; rows >= m are zero padding.
//   b, boff: row k of B starts at b + boff[k] (packed panels: boff[k] = k*NR; stride-1 convolutions
//       read shifted rows of the padded input in place); all NR columns of a row are readable.
//   c: C rows c[i * ldc + j]; only i < m, j < n are read or written.
//   bias: per row (bias[i], i < m) or null; used only with kGemmFirst.
//   map: null, or the column map above (then n counts the columns of map->src, if set).
using GemmUkernel = void (*)(int64_t kc, const float* a, const float* b, const int64_t* boff, float* c,
                             int64_t ldc, int m, int n, const float* bias, int flags,
                             const GemmColumnMap* map);

// One output plane of a depthwise convolution for one channel, in phase space (conv/phases.h),
// where every stride and dilation becomes a shifted window:
//   out[oh*OW + ow] = bias + sum_t w[t] * in[oh*row_step + ow + tap_off[t]] (t < taps), then ReLU
//   if relu (0 none, 1 ReLU, 2 ReLU6). Every (oh, ow, t) index is readable; nothing else is read.
using DepthwisePlaneKernel = void (*)(const float* in, int64_t row_step, const int64_t* tap_off,
                                      const float* w, int taps, float* out, int OH, int OW, float bias,
                                      int relu);

// The FMA peak probe: iters rounds of independent vector FMAs; returns a value that depends on all
// of them (so the loop cannot be dropped). See fma_peak.inc.
using FmaPeakKernel = float (*)(int64_t iters);

#define FASTCONV_DECLARE_FMA_PEAK(name) float name(int64_t iters)
#define FASTCONV_DECLARE_GEMM(name)                                                                 \
  void name(int64_t kc, const float* a, const float* b, const int64_t* boff, float* c, int64_t ldc, \
            int m, int n, const float* bias, int flags, const GemmColumnMap* map)
#define FASTCONV_DECLARE_DEPTHWISE(name)                                                         \
  void name(const float* in, int64_t row_step, const int64_t* tap_off, const float* w, int taps, \
            float* out, int OH, int OW, float bias, int relu)

FASTCONV_DECLARE_GEMM(gemm_scalar_4x8);
FASTCONV_DECLARE_DEPTHWISE(depthwise_scalar);
FASTCONV_DECLARE_FMA_PEAK(fma_peak_scalar);
#if defined(__x86_64__) || defined(__i386__)
FASTCONV_DECLARE_GEMM(gemm_avx512_8x48);
FASTCONV_DECLARE_GEMM(gemm_avx2_6x16);
FASTCONV_DECLARE_DEPTHWISE(depthwise_avx512);
FASTCONV_DECLARE_DEPTHWISE(depthwise_avx2);
FASTCONV_DECLARE_FMA_PEAK(fma_peak_avx512);
FASTCONV_DECLARE_FMA_PEAK(fma_peak_avx2);
#endif
#if defined(__aarch64__)
FASTCONV_DECLARE_GEMM(gemm_neon_8x12);
FASTCONV_DECLARE_DEPTHWISE(depthwise_neon);
FASTCONV_DECLARE_FMA_PEAK(fma_peak_neon);
#endif

}  // namespace fastconv
