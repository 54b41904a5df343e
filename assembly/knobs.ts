// Test-only forcing knobs of this module (KNOBS in native/interface.mjs; the native addon has the same
// mechanism for its own): overrides of choices made by a rule, for tests and benchmarks. Module
// globals, not static memory: a worker instantiating the module re-applies its data segments, and
// workers never read a knob (the caller's choice reaches them through the run's layout).

import { KNOB_WINOGRAD_TILE, knobDefault, knobOnWasm, knobValueOk, OK, ERR_KNOB } from './interface.generated';
import { forgetTransformedWeights } from './weight_cache';

let winogradTile: i32 = knobDefault(KNOB_WINOGRAD_TILE);

/** The knob's value now (its default unless setKnob changed it). */
export function knob(code: i32): i32 {
  return code == KNOB_WINOGRAD_TILE ? winogradTile : knobDefault(code);
}

/** OK, or ERR_KNOB for a knob this module does not have or a value outside its range. Between calls only. */
export function setKnob(code: i32, value: i32): i32 {
  if (!knobOnWasm(code) || !knobValueOk(code, value)) return ERR_KNOB;
  if (code == KNOB_WINOGRAD_TILE) {
    winogradTile = value;
    forgetTransformedWeights(); // the cached U was made for the other tile
  }
  return OK;
}
