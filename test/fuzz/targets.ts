// What the fuzzer runs each case on: every backend x ISA path (test/paths.ts) as a public-API backend
// choice, with the algorithms that path implements. Going through conv1d/conv2d (not the backend
// object) also fuzzes argument normalization, layouts, `out` buffers and the async plumbing.

import type { Algorithm } from '../../src/backends/types.js';
import { dispatcher } from '../../src/dispatch.js';
import { backendInfo } from '../../src/index.node.js';
import type { BackendChoice } from '../../src/shape.js';
import type { Path } from '../paths.js';
import { allPaths } from '../paths.js';

export interface Target {
  label: string;
  choice: BackendChoice;
  path: Path;
  algorithms: readonly Algorithm[];
}

const CHOICE: Record<string, BackendChoice> = { 'wasm-simd': 'wasm-simd', 'wasm-scalar': 'wasm-scalar', js: 'js' };

export function fuzzTargets(): Target[] {
  const available = backendInfo().available;
  return allPaths()
    .filter((p) => (p.label.startsWith('native-') ? available.native : p.label in CHOICE))
    .map((path) => ({
      label: path.label,
      choice: path.label.startsWith('native-') ? 'native' : CHOICE[path.label],
      path,
      algorithms: path.backend.algorithms,
    }));
}

/**
 * The public API's SIMD wasm backends split calls across worker threads only above a few MFLOP, which
 * fuzz cases rarely reach: `on` makes them split every call (minFlopsPerThread 0), `off` restores the
 * default. Returns how many backends were switched (0 where threads are off).
 */
export function splitWasmCalls(on: boolean): number {
  let switched = 0;
  for (const choice of ['wasm-simd', 'wasm-relaxed'] as const) {
    let be: unknown;
    try {
      be = dispatcher().backendFor(choice);
    } catch {
      continue;
    }
    const w = be as { minFlopsPerThread?: number; threadsOff?: string | null; threads?: number };
    if (typeof w.minFlopsPerThread !== 'number' || w.threadsOff || (w.threads ?? 1) < 2) continue;
    DEFAULT_MIN_FLOPS.set(w, DEFAULT_MIN_FLOPS.get(w) ?? w.minFlopsPerThread);
    w.minFlopsPerThread = on ? 0 : DEFAULT_MIN_FLOPS.get(w)!;
    switched++;
  }
  return switched;
}
const DEFAULT_MIN_FLOPS = new Map<object, number>();
