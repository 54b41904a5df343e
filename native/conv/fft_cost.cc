#include "conv/fft_cost.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

#include "conv/conv.h"
#include "conv/int_math.h"
#include "cpu.h"

namespace fastconv {

namespace {

// Cycles of one core. Operation counts of the kernels, scaled to measurements on the reference Xeon (1 thread,
// CPU time): transforms run at about half the naive count, the complex GEMM at ~3.2 cycles per
// lane-vector multiply-accumulate while its operands fit in L2, slower when F streams from L3.
struct CostModel {
  double butterfly = 4, real_pass = 3, lane_move = 6, transform_scale = 2.0, per_call = 1500;
  double cmac = 3.2, stream_bytes_per_cycle = 8, l2_bytes = 1 << 20, hz = 3.3e9;
};

double cfft_cycles(const CostModel& c, int n) { return n < 2 ? 0 : c.butterfly * n / 2 * log2_ceil(n); }

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

FftCalibration reference(const char* why) {
  FftCalibration c;
  c.note = std::string("FFT/GEMM crossover as measured on the reference machine (") + why + ")";
  return c;
}

// The probe: 16 channels, 40x40, 7x7, padding 3, one image, filters transformed per call (no
// store), as the thresholds were measured. Two untimed calls each first: the first grows the
// workspaces, the second still pays for it in TLB misses. Then runs alternate, and the best time
// of each counts, not the median: on a shared machine noise only ever adds time.
FftCalibration measure() {
  ConvParams p{};
  p.N = 1, p.C = 16, p.H = 40, p.W = 40, p.K = 16, p.R = 7, p.S = 7, p.groups = 1;
  p.strideH = p.strideW = p.dilationH = p.dilationW = 1;
  p.padTop = p.padBottom = p.padLeft = p.padRight = 3;
  p.OH = p.OW = 40;
  std::vector<float> x(size_t(p.input_size())), w(size_t(p.weight_size())), out(size_t(p.output_size()));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(double(i) * 0.7));
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(std::sin(double(i) * 0.7));
  std::string failed;
  auto run = [&](int code) {
    const std::string err = run_conv(p, code, x.data(), w.data(), nullptr, out.data());
    if (!err.empty() && failed.empty()) failed = err;
  };
  for (int i = 0; i < 2; ++i) run(kAlgorithmFft), run(kAlgorithmIm2col);
  constexpr int kRuns = 5;
  double best[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
  for (int i = 0; i < kRuns; ++i) {
    for (int j = 0; j < 2; ++j) {
      const auto t0 = std::chrono::steady_clock::now();
      run(j == 0 ? kAlgorithmFft : kAlgorithmIm2col);
      const std::chrono::duration<double, std::milli> dt = std::chrono::steady_clock::now() - t0;
      best[j] = std::min(best[j], dt.count());
    }
  }
  if (!failed.empty()) return reference(("the probe failed: " + failed).c_str());
  return fft_calibration_from_times(best[0], best[1]);
}

}  // namespace

double fft_estimated_seconds(const ConvParams& p, const FftPlan& plan, bool filter_cached) {
  const CostModel c;
  const int m = plan.tw / 2, W = plan.lanes;
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, bins = plan.bins();
  const double cols = plan.th > 1 ? (m + 1) * cfft_cycles(c, plan.th) : 0.0;
  const double row = cfft_cycles(c, m) + c.real_pass * m;
  const double fwd =
      c.transform_scale * (plan.th * (row + c.lane_move * plan.tw) + cols + 2 * bins) + c.per_call;
  const double inv =
      c.transform_scale * (2 * bins + cols + plan.oth * (row + c.lane_move * plan.otw)) + c.per_call;
  const int64_t vecs = ceil_div(plan.tiles(p.N), W);
  const int64_t chunks = ceil_div(vecs, fft_chunk_vectors(plan, Cg, Kg, vecs));
  const double f_bytes = double(bins) * Kg * Cg * 8;
  const double xy_bytes = double(bins) * vecs * (Cg + Kg) * 2 * W * 4;
  double per_group = vecs * (Cg * fwd + Kg * inv + bins * Kg * Cg * c.cmac);
  if (f_bytes > c.l2_bytes) per_group += chunks * f_bytes / c.stream_bytes_per_cycle;
  if (xy_bytes > c.l2_bytes) per_group += 3 * xy_bytes / (2 * c.stream_bytes_per_cycle);
  if (!filter_cached) per_group += ceil_div(Kg * Cg, W) * fwd + f_bytes / 4;
  return G * per_group / c.hz;
}

// Measured on the reference machine (bench/README.md). Another CPU, or a lower ISA forced on this
// one, moves the crossover: GEMM's time grows with the kernel's taps while the tiled FFT's barely
// does, so the crossover's tap count moves in proportion to how fast FFT is relative to GEMM there.
bool fft_beats_gemm(const ConvParams& p, double scale) {
  const int64_t Cg = p.C / p.groups;
  const double taps = double(p.R) * p.S, pixels = double(p.OH) * p.OW;
  if (p.H == 1 && p.R == 1) {
    const int min_taps = Cg >= 16 ? 9 : Cg <= 2 ? 127 : 33;
    return p.S >= min_taps * scale;
  }
  return (taps >= 25 * scale && pixels >= 3000) || (taps >= 49 * scale && pixels >= 700) ||
         (taps >= 121 * scale && pixels >= 190);
}

FftCalibration fft_calibration_from_times(double fft_ms, double im2col_ms) {
  if (!(fft_ms > 0 && im2col_ms > 0 && std::isfinite(fft_ms) && std::isfinite(im2col_ms)))
    return reference("probe gave no usable time");
  FftCalibration c;
  c.scale = std::clamp(fft_ms / im2col_ms / kReferenceFftRatio, kFftScaleMin, kFftScaleMax);
  c.fft_ms = fft_ms;
  c.im2col_ms = im2col_ms;
  c.note = "FFT/GEMM crossover calibrated at first use: on the probe FFT took " +
           fixed2(fft_ms / im2col_ms) + "x im2col's time (reference " + fixed2(kReferenceFftRatio) +
           "), tap thresholds x" + fixed2(c.scale);
  return c;
}

FftCalibration fft_calibration() {
  const char* env = std::getenv("FASTCONV_FFT_CALIBRATION");
  if (env && std::strcmp(env, "off") == 0) return reference("calibration off");
  static std::mutex mutex;  // taken before the pool's execution lock, never inside it
  static std::optional<FftCalibration> by_isa[static_cast<int>(Isa::kAvx512) + 1];
  const int isa = static_cast<int>(current_isa());
  std::lock_guard<std::mutex> lock(mutex);
  if (!by_isa[isa]) by_isa[isa] = measure();
  return *by_isa[isa];
}

}  // namespace fastconv
