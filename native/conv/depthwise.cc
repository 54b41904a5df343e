// Depthwise convolution (one input channel per group, K = multiplier * C): each input channel is
// copied once into its zero-padded phase planes (conv/phases.h), then each of its `multiplier`
// output channels is computed by the ISA's plane kernel straight from them, for any stride and
// dilation, without bounds checks.
#include <algorithm>
#include <vector>

#include "conv/algorithms.h"
#include "conv/phases.h"
#include "cpu.h"
#include "kernels/kernel_config.h"
#include "threadpool.h"
#include "workspace.h"

namespace fastconv {

namespace {
// Phase planes beyond this many floats per channel (huge padding or strides) go to the generic
// direct loop instead.
constexpr double kMaxPlaneFloats = double(int64_t(1) << 26);
}  // namespace

std::string conv_depthwise(const ConvParams& p, const float* input, const float* weight,
                           const float* bias, float* out) {
  const PhaseLayout l = phase_layout(p);
  if (l.total / (double(p.N) * p.C) > kMaxPlaneFloats) return conv_direct_generic(p, input, weight, bias, out);

  const int64_t mult = p.K / p.groups;
  const int taps = p.R * p.S;
  const int64_t HW = int64_t(p.H) * p.W, P = int64_t(p.OH) * p.OW;
  std::vector<int64_t> tap_off(static_cast<size_t>(taps));
  for (int r = 0; r < p.R; ++r)
    for (int s = 0; s < p.S; ++s) tap_off[size_t(r * p.S + s)] = phase_tap_offset(p, l, r, s);

  const DepthwisePlaneKernel plane_kernel = depthwise_config(current_isa()).plane;
  ThreadPool& pool = ThreadPool::get();
  const int threads = threads_for(double(p.flops()));
  for (int slot = 0; slot < std::min(threads, pool.threads()); ++slot)
    scratch(slot, Scratch::kPlane, size_t(l.channel));

  auto task = [&](int64_t t, int slot) {
    const int64_t n = t / p.C, c = t % p.C;
    float* planes = scratch(slot, Scratch::kPlane, size_t(l.channel));
    fill_phases(p, l, input + t * HW, planes);
    for (int64_t m = 0; m < mult; ++m) {
      const int64_t k = c * mult + m;
      plane_kernel(planes, l.Wq, tap_off.data(), weight + k * taps, taps, out + (n * p.K + k) * P,
                   p.OH, p.OW, bias ? bias[k] : 0.0f, p.relu);
    }
  };
  pool.run(int64_t(p.N) * p.C, threads, task);
  return "";
}

}  // namespace fastconv
