// Tiled FFT convolution kernels: avx512.
#include <immintrin.h>

#include "kernels/fft_kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_avx512.inc"

// Register transpose and partial vector access for fft_tile.inc.
struct Lanes {
  static __mmask16 range(int lo, int hi) {  // lanes [lo, hi) clipped to [0, 16)
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
  }
  static __m512 load_range(const float* p, int lo, int hi) {
    return _mm512_maskz_loadu_ps(range(lo, hi), p);
  }
  static void store_range(float* p, __m512 v, int lo, int hi) {
    _mm512_mask_storeu_ps(p, range(lo, hi), v);
  }
  // 16 x 16: unpack pairs of rows, then 4 x 4 blocks within 128-bit lanes, then the 128-bit lanes.
  static void transpose(__m512* r) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = Vec::unpacklo(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = Vec::unpackhi(r[2 * i], r[2 * i + 1]);
    }
    for (int b = 0; b < 4; ++b) {
      r[4 * b] = Vec::shuffle<0x44>(t[4 * b], t[4 * b + 2]);
      r[4 * b + 1] = Vec::shuffle<0xEE>(t[4 * b], t[4 * b + 2]);
      r[4 * b + 2] = Vec::shuffle<0x44>(t[4 * b + 1], t[4 * b + 3]);
      r[4 * b + 3] = Vec::shuffle<0xEE>(t[4 * b + 1], t[4 * b + 3]);
    }
    for (int j = 0; j < 4; ++j) {
      const __m512 u0 = Vec::shuffle_128<0x44>(r[j], r[4 + j]);
      const __m512 u1 = Vec::shuffle_128<0xEE>(r[j], r[4 + j]);
      const __m512 u2 = Vec::shuffle_128<0x44>(r[8 + j], r[12 + j]);
      const __m512 u3 = Vec::shuffle_128<0xEE>(r[8 + j], r[12 + j]);
      t[j] = Vec::shuffle_128<0x88>(u0, u2);
      t[4 + j] = Vec::shuffle_128<0xDD>(u0, u2);
      t[8 + j] = Vec::shuffle_128<0x88>(u1, u3);
      t[12 + j] = Vec::shuffle_128<0xDD>(u1, u3);
    }
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }
};

#include "kernels/fft_tile.inc"
}  // namespace

void fft_forward_avx512(const FftTile& t, const FftLane* lanes, int nlanes, int rows, int cols,
                        float* work, float* dst, int64_t bin_stride) {
  forward_impl(t, lanes, nlanes, rows, cols, work, dst, bin_stride);
}
void fft_inverse_avx512(const FftTile& t, const float* src, int64_t bin_stride, FftLane* lanes,
                        int nlanes, int rows, int cols, float bias, int relu, float* work) {
  inverse_impl(t, src, bin_stride, lanes, nlanes, rows, cols, bias, relu, work);
}
void fft_cgemm_avx512(int K, int C, const float* f, const float* x, float* y) {
  cgemm_impl(K, C, f, x, y);
}
bool fft_all_finite_avx512(const float* x, int64_t n) { return all_finite_impl(x, n); }

}  // namespace fastconv
