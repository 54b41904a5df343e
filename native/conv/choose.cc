#include "conv/choose.h"

#include "conv/conv.h"
#include "conv/fft_cost.h"
#include "conv/winograd.h"
#include "cpu.h"
#include "kernels/kernel_config.h"

namespace fastconv {

namespace {

bool applies(const ConvParams& p, AlgorithmCode code) { return algorithm_applies(p, code).empty(); }

std::string winograd_reason(const ConvParams& p) {
  const bool two_d = p.R == 3;
  const int m = winograd_tile(p);
  // Multiplies per output against GEMM's 9 (3x3) or 3 (1x3): (m + 2)^2 / m^2, or (m + 2) / m.
  const char* variant = two_d ? (m == 4 ? "F(4x4,3x3), 4x" : "F(2x2,3x3), 2.25x")
                              : (m == 4 ? "F(4,3), 2x" : "F(2,3), 1.5x");
  return std::string("3-tap kernel at stride 1 with >= 4 channels per group: Winograd ") + variant +
         " fewer multiplies than GEMM";
}

}  // namespace

// Rules measured on the reference Xeon (AVX-512), filters transformed per call (bench/README.md).
AlgorithmChoice choose_algorithm(const ConvParams& p) {
  const int64_t Cg = p.C / p.groups;
  if (Cg == 1 && p.groups > 1)
    return {kAlgorithmDirect,
            "one input channel per group (depthwise): direct SIMD kernel along output rows"};
  if (Cg >= 4 && applies(p, kAlgorithmWinograd)) return {kAlgorithmWinograd, winograd_reason(p)};
  // Only shapes that could go either way pay for the calibration, once per ISA.
  std::string fft_note;
  const bool near_crossover = fft_beats_gemm(p, kFftScaleMin) && applies(p, kAlgorithmFft);
  if (near_crossover) {
    const FftCalibration cal = fft_calibration();
    if (fft_beats_gemm(p, cal.scale))
      return {kAlgorithmFft,
              "large kernel (" + std::to_string(p.R) + "x" + std::to_string(p.S) +
                  ") at stride 1: tiled FFT beats GEMM from this size on (" + cal.note + ")",
              false};
    fft_note = "; tiled FFT does not pay at this size yet (" + cal.note + ")";
  }
  if (Cg == 1)
    return {
        kAlgorithmDirect,
        "a single input channel: the direct kernel (channel multiplier K) skips GEMM packing" + fft_note,
        !near_crossover};
  return {
      kAlgorithmIm2col,
      std::string("implicit im2col + packed GEMM (") + gemm_config(current_isa()).name + ")" + fft_note,
      !near_crossover};
}

}  // namespace fastconv
