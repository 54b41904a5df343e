// One function per convolution algorithm, all with the same contract: the parameters are
// validated, `out` has N*K*OH*OW elements and does not overlap the inputs, bias is null or has K
// elements. Each returns "" on success or a sentence saying why it cannot run this problem.
// The caller (conv.cc) holds the pool's execution lock, so scratch buffers are free to use.
// `packed` is the calling layer's store of transformed weights, or null for a one-off call.
//
// To add an algorithm: implement it in native/conv/<name>*.cc, declare it (and, if it only fits
// some shapes, an AppliesFn) here and put both in the table in conv.cc.
#pragma once

#include <cstdint>
#include <string>

#include "conv/packed_weights.h"
#include "conv/params.h"

namespace fastconv {

using ConvFn = std::string (*)(const ConvParams& p, const float* input, const float* weight,
                               const float* bias, float* out, PackedWeights* packed);
// "" when the algorithm can run p, else a sentence saying why not (for shape-limited algorithms).
using AppliesFn = std::string (*)(const ConvParams& p);
// Threads the algorithm runs p on (of its largest part, where parts differ): what explain() reports.
using ThreadsFn = int (*)(const ConvParams& p);

std::string conv_direct(const ConvParams& p, const float* input, const float* weight, const float* bias,
                        float* out,
                        PackedWeights* packed = nullptr);  // every shape (depthwise: SIMD kernel)
int direct_threads(const ConvParams& p);
std::string conv_im2col(const ConvParams& p, const float* input, const float* weight, const float* bias,
                        float* out,
                        PackedWeights* packed = nullptr);  // every shape: implicit im2col + GEMM

std::string conv_winograd(const ConvParams& p, const float* input, const float* weight,
                          const float* bias, float* out,
                          PackedWeights* packed = nullptr);  // 3x3 / 1x3 stride 1 (conv/winograd.h)
std::string winograd_unsupported(const ConvParams& p);
int winograd_threads(const ConvParams& p);
std::string conv_fft(const ConvParams& p, const float* input, const float* weight, const float* bias,
                     float* out,
                     PackedWeights* packed = nullptr);  // stride 1, tiled FFT (conv/fft.h)
std::string fft_applies(const ConvParams& p);
int fft_threads(const ConvParams& p);

// Helpers shared by the algorithms above.
std::string conv_depthwise(const ConvParams& p, const float* input, const float* weight,
                           const float* bias, float* out);  // requires C / groups == 1
std::string conv_direct_generic(const ConvParams& p, const float* input, const float* weight,
                                const float* bias, float* out);
int depthwise_threads(const ConvParams& p);  // requires C / groups == 1

// No NaN or +-Inf among x[0..n): the algorithms that mix values (Winograd, FFT) fall back on it.
bool all_finite(const float* x, int64_t n);

// Threads worth using for `flops` of work: tiny problems lose more to waking threads than they gain.
int threads_for(double flops);
// threads_for(p.flops()): the rule of every algorithm without one of its own.
int dense_threads(const ConvParams& p);

}  // namespace fastconv
