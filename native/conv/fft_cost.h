// What the tiled FFT costs: per tile size (the cost model fft_make_plan picks its tiles with) and
// against im2col + GEMM (the crossover choose_algorithm applies, calibrated on the machine it runs on).
#pragma once

#include <string>

#include "conv/fft.h"
#include "conv/params.h"

namespace fastconv {

// Cost-model estimate of the FFT path's time in seconds on one core (plus the filter transform
// unless filter_cached), for comparing tile sizes.
double fft_estimated_seconds(const ConvParams& p, const FftPlan& plan, bool filter_cached = false);

// Whether the tiled FFT beats im2col + GEMM on p (stride 1, filters transformed per call), by the
// tap thresholds measured on the reference machine times `scale` (fft_calibration().scale).
bool fft_beats_gemm(const ConvParams& p, double scale);

// t_fft / t_im2col on the calibration probe as measured on the reference machine (an AVX-512 Xeon).
constexpr double kReferenceFftRatio = 0.57;
// A probe skewed by a busy machine must not move the thresholds far from what was measured.
constexpr double kFftScaleMin = 0.6, kFftScaleMax = 1.6;

struct FftCalibration {
  double scale =
      1;  // multiplies every tap threshold: > 1 where FFT is relatively slower than on the reference
  double fft_ms = 0;  // the probe's best times (0: not measured)
  double im2col_ms = 0;
  std::string note;  // what explain() says about it
};

// The crossover's calibration on the current ISA. The first call per ISA (in this process) times
// both algorithms on a small probe (16 channels, 40x40, 7x7: ~1 ms in all) and keeps the scale
// (t_fft / t_im2col here) / kReferenceFftRatio, clamped to [kFftScaleMin, kFftScaleMax]. With
// FASTCONV_FFT_CALIBRATION=off in the environment (read at every call) the reference thresholds
// stand (scale 1): reproducible choices. Runs convolutions, so the caller must not hold the pool's
// execution lock; concurrent first calls measure once.
FftCalibration fft_calibration();

// The calibration that times fft_ms and im2col_ms (best of the probe's runs) give.
FftCalibration fft_calibration_from_times(double fft_ms, double im2col_ms);

}  // namespace fastconv
