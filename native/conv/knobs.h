// Test-only forcing knobs (KNOBS in native/interface.mjs): overrides of choices the algorithms make by
// their own rules, so that tests and benchmarks can run every variant on the same shapes. Set from
// JavaScript through the addon's setKnob (the wasm module has the same export for its knobs).
#pragma once

#include <string>

#include "conv/interface.generated.h"

namespace fastconv {

// The knob's value now: knob_default(k) unless a setKnob changed it.
int knob(Knob k);

// "" after setting knob `code` to `value`, else why not (not a native knob, or a value outside its
// range). Waits for a running convolution: a choice must not change in the middle of one.
std::string set_knob(int code, int value);

}  // namespace fastconv
