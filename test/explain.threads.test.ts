// explain() reports the threads a call really runs on: a sync call from a thread that cannot block
// (a browser's main thread) stays on one even when the wasm pool has more, while its async form splits.

import { describe, expect, it } from 'vitest';
import type { ConvParams } from '../src/backends/types.js';
import { createWasmBackend, wasmSimdSupported } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';
import { spawnNodeWorker } from '../src/backends/wasm-pool.node.js';

const P: ConvParams = {
  N: 1,
  C: 32,
  H: 32,
  W: 32,
  K: 32,
  R: 3,
  S: 3,
  groups: 1,
  strideH: 1,
  strideW: 1,
  dilationH: 1,
  dilationW: 1,
  padTop: 1,
  padBottom: 1,
  padLeft: 1,
  padRight: 1,
  OH: 32,
  OW: 32,
  relu: false,
};

describe.runIf(wasmSimdSupported())('wasm threadsFor by call kind', () => {
  const mod = (b: 'simd' | 'simd-threads') => new WebAssembly.Module(loadWasmBytes(b as 'simd') as BufferSource);
  for (const canBlock of [true, false]) {
    it(`canBlock ${canBlock}: sync ${canBlock ? 2 : 1}, async 2`, () => {
      const be = createWasmBackend(mod('simd'), 'simd', {
        module: mod('simd-threads'),
        spawn: spawnNodeWorker,
        canBlock,
        threads: 2,
      });
      try {
        be.minFlopsPerThread = 0;
        expect(be.threadsFor!(P, 'im2col', 'sync')).toBe(canBlock ? 2 : 1);
        expect(be.threadsFor!(P, 'im2col', 'async')).toBe(2);
        expect(be.threadsFor!(P, 'im2col')).toBe(2);
      } finally {
        be.dispose();
      }
    });
  }
});
