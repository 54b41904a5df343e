// Tiled FFT convolution kernels: avx2.
#include <immintrin.h>

#include "kernels/fft_kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx2.inc"

// Register transpose and partial vector access for fft_tile.inc.
struct Lanes {
  static __m256i range(int lo, int hi) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
  }
  static __m256 load_range(const float* p, int lo, int hi) {
    return _mm256_maskload_ps(p, range(lo, hi));
  }
  static void store_range(float* p, __m256 v, int lo, int hi) {
    _mm256_maskstore_ps(p, range(lo, hi), v);
  }
  // 8 x 8: unpack pairs of rows, then 4 x 4 blocks within 128-bit lanes, then swap the lanes.
  static void transpose(__m256* r) {
    __m256 t[8];
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int b = 0; b < 2; ++b) {
      r[4 * b] = _mm256_shuffle_ps(t[4 * b], t[4 * b + 2], 0x44);
      r[4 * b + 1] = _mm256_shuffle_ps(t[4 * b], t[4 * b + 2], 0xEE);
      r[4 * b + 2] = _mm256_shuffle_ps(t[4 * b + 1], t[4 * b + 3], 0x44);
      r[4 * b + 3] = _mm256_shuffle_ps(t[4 * b + 1], t[4 * b + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {
      t[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
      t[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
    for (int i = 0; i < 8; ++i) r[i] = t[i];
  }
};

#include "kernels/fft_tile.inc"
}  // namespace

void fft_forward_avx2(const FftTile& t, const FftLane* lanes, int nlanes, int rows, int cols,
                      float* work, float* dst, int64_t bin_stride) {
  forward_impl(t, lanes, nlanes, rows, cols, work, dst, bin_stride);
}
void fft_inverse_avx2(const FftTile& t, const float* src, int64_t bin_stride, FftLane* lanes, int nlanes,
                      int rows, int cols, float bias, int relu, float* work) {
  inverse_impl(t, src, bin_stride, lanes, nlanes, rows, cols, bias, relu, work);
}
void fft_cgemm_avx2(int K, int C, const float* f, const float* x, float* y) {
  cgemm_impl(K, C, f, x, y);
}
bool fft_all_finite_avx2(const float* x, int64_t n) { return all_finite_impl(x, n); }

}  // namespace fastconv
