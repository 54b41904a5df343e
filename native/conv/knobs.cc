#include "conv/knobs.h"

#include <atomic>
#include <mutex>

#include "threadpool.h"

namespace fastconv {

namespace {

struct Values {
  std::atomic<int> v[kKnobCodeCount];
  Values() {
    for (int i = 0; i < kKnobCodeCount; ++i) v[i].store(knob_default(i), std::memory_order_relaxed);
  }
};

Values& values() {
  static Values values;
  return values;
}

}  // namespace

int knob(Knob k) { return values().v[k].load(std::memory_order_relaxed); }

std::string set_knob(int code, int value) {
  if (code < 0 || code >= kKnobCodeCount || !knob_on_native(code))
    return "knob: expected the code of a native knob, got " + std::to_string(code);
  if (!knob_value_ok(code, value))
    return std::string("knob ") + kKnobNames[code] + ": expected one of " + kKnobValues[code] +
           ", got " + std::to_string(value);
  std::lock_guard<std::mutex> lock(ThreadPool::get().exec_mutex());
  values().v[code].store(value, std::memory_order_relaxed);
  return "";
}

}  // namespace fastconv
