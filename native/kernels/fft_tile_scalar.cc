// Tiled FFT convolution kernels: scalar.
#include <cstdint>

#include "kernels/fft_kernels.h"

namespace fastconv {
namespace {
#include "kernels/vec_scalar.inc"

// One-lane "transpose" and partial access for fft_tile.inc.
struct Lanes {
  static float load_range(const float* p, int lo, int hi) { return lo <= 0 && hi > 0 ? *p : 0.0f; }
  static void store_range(float* p, float v, int lo, int hi) {
    if (lo <= 0 && hi > 0) *p = v;
  }
  static void transpose(float*) {}
};

#include "kernels/fft_tile.inc"
}  // namespace

void fft_forward_scalar(const FftTile& t, const FftLane* lanes, int nlanes, int rows, int cols,
                        float* work, float* dst, int64_t bin_stride) {
  forward_impl(t, lanes, nlanes, rows, cols, work, dst, bin_stride);
}
void fft_inverse_scalar(const FftTile& t, const float* src, int64_t bin_stride, FftLane* lanes,
                        int nlanes, int rows, int cols, float bias, int relu, float* work) {
  inverse_impl(t, src, bin_stride, lanes, nlanes, rows, cols, bias, relu, work);
}
void fft_cgemm_scalar(int K, int C, const float* f, const float* x, float* y) {
  cgemm_impl(K, C, f, x, y);
}
bool fft_all_finite_scalar(const float* x, int64_t n) { return all_finite_impl(x, n); }

}  // namespace fastconv
