#include "conv/conv.h"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>

#include "conv/algorithms.h"
#include "conv/fft.h"
#include "conv/winograd.h"
#include "threadpool.h"

namespace fastconv {

namespace {

struct AlgorithmEntry {
  AlgorithmCode code;
  ConvFn fn;          // null: not implemented on the native backend yet
  AppliesFn applies;  // null: applies to every shape
  ThreadsFn threads;
};

// Indexed by the algorithm's code (native/interface.mjs).
constexpr AlgorithmEntry kAlgorithms[] = {
    {kAlgorithmDirect, conv_direct, nullptr, direct_threads},
    {kAlgorithmIm2col, conv_im2col, nullptr, dense_threads},
    {kAlgorithmWinograd, conv_winograd, winograd_unsupported, winograd_threads},
    {kAlgorithmFft, conv_fft, fft_applies, fft_threads},
};
static_assert(sizeof(kAlgorithms) / sizeof(kAlgorithms[0]) == kAlgorithmCount,
              "one entry per algorithm code");

constexpr bool indexed_by_code() {
  for (int i = 0; i < kAlgorithmCount; ++i)
    if (kAlgorithms[i].code != i) return false;
  return true;
}
static_assert(indexed_by_code(), "kAlgorithms[code] describes algorithm `code`");

const char* name_of(const AlgorithmEntry& a) { return kAlgorithmNames[a.code]; }

}  // namespace

// Exponent all ones: NaN or +-Inf. An integer test vectorizes without any ISA flags.
bool all_finite(const float* x, int64_t n) {
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits;
    std::memcpy(&bits, &x[i], sizeof bits);
    bad |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return !bad;
}

int threads_for(double flops) {
  // Below ~2 MFLOP (well under 0.1 ms on one core) waking a thread costs more than it saves.
  return flops < 2e6 ? 1 : ThreadPool::get().threads();
}

int dense_threads(const ConvParams& p) { return threads_for(double(p.flops())); }

int algorithm_threads(const ConvParams& p, int code) {
  return code >= 0 && code < kAlgorithmCount ? kAlgorithms[code].threads(p) : 1;
}

std::string algorithm_applies(const ConvParams& p, int code) {
  if (code < 0 || code >= kAlgorithmCount) {
    return "algo: expected an algorithm code in [0, " + std::to_string(kAlgorithmCount - 1) + "], got " +
           std::to_string(code);
  }
  const AlgorithmEntry& a = kAlgorithms[code];
  if (!a.fn)
    return std::string("algorithm '") + name_of(a) + "' is not implemented on the native backend";
  return a.applies ? a.applies(p) : "";
}

std::string run_conv(const ConvParams& p, int code, const float* input, const float* weight,
                     const float* bias, float* out, PackedWeights* packed, uint64_t packed_epoch) {
  std::string why = algorithm_applies(p, code);
  if (!why.empty()) return why;
  std::lock_guard<std::mutex> lock(ThreadPool::get().exec_mutex());
  // A call made before the weights last changed runs on its own (older) weights, without the store.
  if (packed && packed->epoch() != packed_epoch) packed = nullptr;
  if (packed) packed->drop_if_stale();
  // Winograd's transforms mix all inputs of a tile, so one NaN/Inf would spread over up to 8x8
  // outputs; im2col places non-finite results exactly (the FFT driver does the same internally).
  // Weights and bias are checked here (once per store fill); the input by the Winograd input
  // transform, on the values it loads.
  if (code == kAlgorithmWinograd) {
    auto weights_finite = [&] { return all_finite(weight, p.weight_size()); };
    if (!((packed ? packed->weights_finite(weights_finite) : weights_finite()) &&
          (!bias || all_finite(bias, p.K))))
      code = kAlgorithmIm2col;
  }
  const AlgorithmEntry& a = kAlgorithms[code];
  try {
    return a.fn(p, input, weight, bias, out, packed);
  } catch (const std::bad_alloc&) {
    return std::string("out of memory while running algorithm '") + name_of(a) + "'";
  }
}

void clear_packed(PackedWeights* packed) {
  // Never wait for a running convolution (an async call may hold the lock for long): if one runs,
  // the store is dropped by the next convolution that uses it instead.
  packed->next_epoch();
  std::unique_lock<std::mutex> lock(ThreadPool::get().exec_mutex(), std::try_to_lock);
  if (lock.owns_lock()) {
    packed->clear();
  } else {
    packed->mark_stale();
  }
}

std::vector<std::string> implemented_algorithms() {
  std::vector<std::string> names;
  for (const auto& a : kAlgorithms)
    if (a.fn) names.emplace_back(name_of(a));
  return names;
}

int get_num_threads() { return ThreadPool::get().threads(); }

void set_num_threads(int n) {
  ThreadPool& pool = ThreadPool::get();
  std::lock_guard<std::mutex> lock(pool.exec_mutex());
  pool.set_threads(n);
}

}  // namespace fastconv
