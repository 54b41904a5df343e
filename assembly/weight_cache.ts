// Transformed weights (Winograd's U, the FFT's spectra) stay in the workspace between calls, followed
// by a copy of the weights they came from: a layer called again with the same weights (inference)
// skips the transform. The cache holds while the arena layout stays put; index.ts forgets it whenever
// the params or the algorithm change, and a fallback that reuses the workspace forgets it too.

import { weightCount } from './params';

let cachedAt: usize = 0;

export function forgetTransformedWeights(): void { cachedAt = 0; }

function sameFloats(a: usize, b: usize, count: i32): bool {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      if (!v128.all_true<i32>(i32x4.eq(v128.load(a + o), v128.load(b + o)))) return false;
    }
  }
  for (; i < count; i++) if (load<i32>(a + (<usize>i << 2)) != load<i32>(b + (<usize>i << 2))) return false;
  return true;
}

/** Whether the transform at `at` was made from exactly the weights now at `weight` (copy at `copy`). */
export function cachedWeightsMatch(at: usize, weight: usize, copy: usize): bool {
  return cachedAt == at && sameFloats(weight, copy, weightCount);
}

/** Marks the transform at `at` valid; the caller has copied the weights next to it. */
export function rememberTransformedWeights(at: usize): void { cachedAt = at; }
