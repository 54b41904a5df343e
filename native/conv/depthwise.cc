// Depthwise convolution (one input channel per group, K = multiplier * C): each input channel is
// copied once into its zero-padded phase planes (conv/phases.h), then each of its `multiplier`
// output channels is computed by the ISA's plane kernel straight from them, for any stride and
// dilation, without bounds checks.
#include <algorithm>
#include <vector>

#include "conv/algorithms.h"
#include "conv/phases.h"
#include "cpu.h"
#include "kernels/depthwise_direct.h"
#include "kernels/kernel_config.h"
#include "threadpool.h"
#include "workspace.h"

namespace fastconv {

namespace {
// Phase planes beyond this many floats per channel (huge padding or strides) go to the generic
// direct loop instead.
constexpr double kMaxPlaneFloats = double(int64_t(1) << 26);

// rows x cols floats from a dense source into a destination with row stride dst_step. A plain loop
// (vectorized by the compiler; the attribute stops GCC from turning it back into memmove calls)
// instead of one memcpy call per short row.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void copy_rows(const float* __restrict src,
                                                                             int64_t rows, int64_t cols,
                                                                             float* __restrict dst,
                                                                             int64_t dst_step) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* s = src + i * cols;
    float* d = dst + i * dst_step;
    for (int64_t j = 0; j < cols; ++j) d[j] = s[j];
  }
}

// Threads and pool tasks for N*C planes, splitting from min_flops. Waking a second vCPU on a VM costs
// tens of microseconds, so what counts is the call's time: the in-place 3x3 kernel is fast enough
// that L7 (8 MFLOP) lost on two threads in the bench while 22-29 MFLOP layers gained, so it splits
// from 16 MFLOP. The phase-plane path is several times slower per FLOP, gains on two threads at 8
// MFLOP, and keeps threads_for's 2 MFLOP (numbers: bench/README.md, measurements). Each task takes a
// run of planes: a few runs per thread balance the load without a shared-counter round trip per
// small plane.
struct PlaneSplit {
  int threads;
  int64_t planes, per_task, tasks;
  // Planes [first(run), end(run)) of pool task `run`; plane t is image t / C, channel t % C.
  int64_t first(int64_t run) const { return run * per_task; }
  int64_t end(int64_t run) const { return std::min(planes, (run + 1) * per_task); }
};
PlaneSplit split_planes(const ConvParams& p, double min_flops) {
  const int64_t planes = int64_t(p.N) * p.C;
  const int threads = p.flops() < min_flops ? 1 : threads_for(double(p.flops()));
  const int64_t per_task = threads == 1 ? planes : std::max<int64_t>(1, planes / (int64_t(threads) * 8));
  return {threads, planes, per_task, (planes + per_task - 1) / per_task};
}

// The in-place kernel's case (the MobileNet one); the rest goes through phase planes.
bool in_place_3x3(const ConvParams& p) {
  return p.R == 3 && p.S == 3 && p.strideH == 1 && p.strideW == 1 && p.dilationH == 1 &&
         p.dilationW == 1;
}

PlaneSplit depthwise_split(const ConvParams& p) {
  return split_planes(p, in_place_3x3(p) ? 1.6e7 : 2e6);
}

Depthwise3x3DirectKernel direct3x3_kernel() {
#if defined(__x86_64__) || defined(__i386__)
  if (current_isa() == Isa::kAvx512) return depthwise3x3_direct_avx512;
  if (current_isa() == Isa::kAvx2) return depthwise3x3_direct_avx2;
#endif
#if defined(__aarch64__)
  if (current_isa() == Isa::kNeon) return depthwise3x3_direct_neon;
#endif
  return depthwise3x3_direct_scalar;
}

// Stride-1 3x3 (the MobileNet case): the kernel reads each input plane in place, so no padded
// copy is made (on L7 the copy took a third of the time in perf, as much as half the arithmetic).
std::string conv_depthwise3x3_direct(const ConvParams& p, const float* input, const float* weight,
                                     const float* bias, float* out) {
  const Depthwise3x3DirectKernel kernel = direct3x3_kernel();
  const int64_t mult = p.K / p.groups;
  const int64_t HW = int64_t(p.H) * p.W, P = int64_t(p.OH) * p.OW;
  // Zeros around the row too, as far as the kernel's masked loads reach (padLeft columns left of it,
  // up to the last output column plus a few vectors right): a masked-off lane on an unmapped page
  // (this buffer is its own mmap once a big layer grew it) costs a microcode assist per load on AMD:
  // L7 ran 30-40 % slower after L5.
  const int64_t left = p.padLeft + 16, span = left + std::max<int64_t>(p.W, p.OW) + 128;
  float* zero_span = shared_scratch(Shared::kPaddedInput, size_t(span));
  std::fill(zero_span, zero_span + span, 0.0f);
  const float* zero_row = zero_span + left;
  const PlaneSplit split = depthwise_split(p);
  auto task = [&](int64_t run, int) {
    for (int64_t t = split.first(run); t < split.end(run); ++t) {
      const int64_t n = t / p.C, c = t % p.C;
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t k = c * mult + m;
        kernel(input + t * HW, p.H, p.W, p.padTop, p.padLeft, zero_row, weight + k * 9,
               out + (n * p.K + k) * P, p.OH, p.OW, bias ? bias[k] : 0.0f, p.activation());
      }
    }
  };
  ThreadPool::get().run(split.tasks, split.threads, task);
  return "";
}

}  // namespace

int depthwise_threads(const ConvParams& p) { return depthwise_split(p).threads; }

std::string conv_depthwise(const ConvParams& p, const float* input, const float* weight,
                           const float* bias, float* out) {
  if (in_place_3x3(p)) return conv_depthwise3x3_direct(p, input, weight, bias, out);
  const PhaseLayout l = phase_layout(p);
  if (l.total / (double(p.N) * p.C) > kMaxPlaneFloats)
    return conv_direct_generic(p, input, weight, bias, out);

  const int64_t mult = p.K / p.groups;
  const int taps = p.R * p.S;
  const int64_t HW = int64_t(p.H) * p.W, P = int64_t(p.OH) * p.OW;
  std::vector<int64_t> tap_off(static_cast<size_t>(taps));
  for (int r = 0; r < p.R; ++r)
    for (int s = 0; s < p.S; ++s) tap_off[size_t(r * p.S + s)] = phase_tap_offset(p, l, r, s);

  const DepthwisePlaneKernel plane_kernel = depthwise_config(current_isa()).plane;
  ThreadPool& pool = ThreadPool::get();
  const PlaneSplit split = depthwise_split(p);
  const int threads = split.threads;
  // At stride 1 the padding border is the same for every channel: zero each slot's plane once per
  // call and then copy only the input rows (fill_phases' per-row memmove/memset calls cost as much
  // as the 3x3 kernel itself on 56x56 planes).
  const bool single_phase = p.strideH == 1 && p.strideW == 1;
  for (int slot = 0; slot < std::min(threads, pool.threads()); ++slot) {
    float* planes = scratch(slot, Scratch::kPlane, size_t(l.channel));
    if (single_phase) std::fill(planes, planes + l.channel, 0.0f);
  }

  auto task = [&](int64_t run, int slot) {
    float* planes = scratch(slot, Scratch::kPlane, size_t(l.channel));
    for (int64_t t = split.first(run); t < split.end(run); ++t) {
      const int64_t n = t / p.C, c = t % p.C;
      if (single_phase) {
        copy_rows(input + t * HW, p.H, p.W, planes + int64_t(p.padTop) * l.Wq + p.padLeft, l.Wq);
      } else {
        fill_phases(p, l, input + t * HW, planes);
      }
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t k = c * mult + m;
        plane_kernel(planes, l.Wq, tap_off.data(), weight + k * taps, taps, out + (n * p.K + k) * P,
                     p.OH, p.OW, bias ? bias[k] : 0.0f, p.activation());
      }
    }
  };
  pool.run(split.tasks, threads, task);
  return "";
}

}  // namespace fastconv
