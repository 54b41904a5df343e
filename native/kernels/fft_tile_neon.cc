// Tiled FFT convolution kernels: NEON.
#include <arm_neon.h>
#include <cstdint>

#include "kernels/fft_kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_neon.inc"

// Register transpose and partial vector access for fft_tile.inc.
struct Lanes {
  // Only lanes lo <= l < hi are touched (p[l] outside that range may be unreadable).
  static float32x4_t load_range(const float* p, int lo, int hi) {
    alignas(16) float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int l = lo < 0 ? 0 : lo; l < hi && l < 4; ++l) t[l] = p[l];
    return vld1q_f32(t);
  }
  static void store_range(float* p, float32x4_t v, int lo, int hi) {
    alignas(16) float t[4];
    vst1q_f32(t, v);
    for (int l = lo < 0 ? 0 : lo; l < hi && l < 4; ++l) p[l] = t[l];
  }
  // 4 x 4: TRN1/TRN2 interleave pairs of rows, then the 64-bit halves are recombined.
  static void transpose(float32x4_t* r) {
    const float32x4x2_t a = vtrnq_f32(r[0], r[1]), b = vtrnq_f32(r[2], r[3]);
    r[0] = vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0]));
    r[1] = vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1]));
    r[2] = vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0]));
    r[3] = vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1]));
  }
};

#include "kernels/fft_tile.inc"
}  // namespace

void fft_forward_neon(const FftTile& t, const FftLane* lanes, int nlanes, int rows, int cols,
                      float* work, float* dst, int64_t bin_stride) {
  forward_impl(t, lanes, nlanes, rows, cols, work, dst, bin_stride);
}
void fft_inverse_neon(const FftTile& t, const float* src, int64_t bin_stride, FftLane* lanes, int nlanes,
                      int rows, int cols, float bias, int relu, float* work) {
  inverse_impl(t, src, bin_stride, lanes, nlanes, rows, cols, bias, relu, work);
}
void fft_cgemm_neon(int K, int C, const float* f, const float* x, float* y) {
  cgemm_impl(K, C, f, x, y);
}
bool fft_all_finite_neon(const float* x, int64_t n) { return all_finite_impl(x, n); }

}  // namespace fastconv
