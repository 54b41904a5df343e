// Weights transformed for one algorithm (GEMM panels, Winograd's U, FFT spectra), kept by a layer
// between calls. A JavaScript Conv2d/Conv1d owns one PackedWeights through an addon handle and clears
// it whenever its weights may have changed; the algorithms only ever see the current contents.
//
// Entries are keyed by everything the transformed layout depends on (algorithm, ISA, kernel variant,
// blocking, weight shape), so a layer that meets a new input size, ISA or thread count simply adds an
// entry. Access is serialized by the pool's execution lock, which run_conv and clear() both hold.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "workspace.h"

namespace fastconv {

class PackedWeights {
 public:
  // The entry under `key` with room for `floats` floats, filled by `fill` when it is new. Throws
  // std::bad_alloc like Buffer::grow; a fill that throws leaves no entry behind.
  const float* get(const std::string& key, size_t floats, const std::function<void(float*)>& fill);
  // Whether the weights were all finite: computed once per fill of the store, not per call.
  bool weights_finite(const std::function<bool()>& compute);
  void clear();
  // Lock-free: marks the contents invalid; the next convolution using the store clears it first.
  // For callers that must not wait for a running convolution (the JS thread during an async call).
  void mark_stale() { stale_.store(true); }
  // Counts the times the owner changed the weights. A call captures it when it is made; a call made
  // before a change (an async call still queued) must neither use nor fill the store, or it would
  // leave the old weights' transform behind for the calls after the change.
  uint64_t epoch() const { return epoch_.load(); }
  void next_epoch() { epoch_.fetch_add(1); }
  // Clears the store if it was marked stale; run_conv calls this before each use.
  void drop_if_stale();
  // Bytes held, readable without the lock.
  size_t bytes() const { return bytes_.load(); }

 private:
  struct Entry {
    std::string key;
    size_t floats = 0;
    Buffer buffer;
  };
  // Few entries (one per algorithm variant a layer meets); the oldest goes beyond kMaxEntries.
  static constexpr size_t kMaxEntries = 4;
  std::vector<std::unique_ptr<Entry>> entries_;
  int finite_ = -1;  // -1 unknown, else 0/1
  std::atomic<bool> stale_{false};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<size_t> bytes_{0};
};

// A store of transformed weights, or nullptr for a one-off call: then `fill` writes into `scratch`
// (a reused shared buffer) and the transform is paid every call.
const float* transformed_weights(PackedWeights* packed, const std::string& key, size_t floats,
                                 Shared scratch, const std::function<void(float*)>& fill);

}  // namespace fastconv
