#include "fma_peak.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "kernels/kernel_config.h"

namespace fastconv {

double measure_fma_peak(Isa isa, double ms) {
  const FmaPeakConfig& cfg = fma_peak_config(isa);
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  // Size a slice to about a fifth of the budget from a short run, then keep the fastest of five
  // slices: the probe reports what the core can give, and interruptions only make a slice slower.
  int64_t iters = 1 << 14;
  volatile float sink = 0;
  for (;;) {
    const auto t0 = Clock::now();
    sink = sink + cfg.loop(iters);
    const double s = seconds(t0);
    if (s >= 1e-3 || iters >= (int64_t(1) << 40)) {
      iters = std::max<int64_t>(1, int64_t(double(iters) * (ms * 1e-3 / 5) / std::max(s, 1e-9)));
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int slice = 0; slice < 5; ++slice) {
    const auto t0 = Clock::now();
    sink = sink + cfg.loop(iters);
    best = std::max(best, double(iters) * cfg.flops_per_iter / std::max(seconds(t0), 1e-9) / 1e9);
  }
  return best;
}

}  // namespace fastconv
