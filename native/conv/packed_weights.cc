#include "conv/packed_weights.h"

namespace fastconv {

const float* PackedWeights::get(const std::string& key, size_t floats,
                                const std::function<void(float*)>& fill) {
  for (const auto& e : entries_)
    if (e->key == key && e->floats == floats) return e->buffer.grow(floats);
  auto e = std::make_unique<Entry>();
  e->key = key;
  e->floats = floats;
  fill(e->buffer.grow(floats));
  if (entries_.size() >= kMaxEntries) {
    bytes_ -= entries_.front()->floats * sizeof(float);
    entries_.erase(entries_.begin());
  }
  bytes_ += floats * sizeof(float);
  entries_.push_back(std::move(e));
  return entries_.back()->buffer.grow(floats);
}

bool PackedWeights::weights_finite(const std::function<bool()>& compute) {
  if (finite_ < 0) finite_ = compute() ? 1 : 0;
  return finite_ == 1;
}

void PackedWeights::clear() {
  entries_.clear();
  finite_ = -1;
  bytes_ = 0;
  stale_ = false;
}

void PackedWeights::drop_if_stale() {
  if (stale_.exchange(false)) clear();
}

const float* transformed_weights(PackedWeights* packed, const std::string& key, size_t floats,
                                 Shared scratch, const std::function<void(float*)>& fill) {
  if (packed) return packed->get(key, floats, fill);
  float* buf = shared_scratch(scratch, floats);
  fill(buf);
  return buf;
}

}  // namespace fastconv
