// conv2dAsync / conv1dAsync: the same numbers as the sync API on every backend, and on native the work
// runs off the JS thread (a timer keeps firing while large convolutions run).

import { describe, expect, it } from 'vitest';
import { conv1d, conv1dAsync, conv2d, conv2dAsync } from '../src/index.node.js';
import type { Tensor } from '../src/shape.js';
import { backendTestName, expectNative, nativeOnly, skipsBackend } from './paths.js';
import { Rng } from './random.js';
import { randomCall } from './tester.js';

const rand = (shape: number[], seed: number): Tensor => ({ data: new Rng(seed).floats(shape.reduce((a, b) => a * b, 1)), shape });

describe('async API', () => {
  for (const backend of ['native', 'wasm', 'js'] as const) {
    it.skipIf(skipsBackend(backend))(
      backendTestName(backend, `${backend}: async results are bit-identical to sync on 40 random calls`),
      async () => {
        for (let i = 0; i < 40; i++) {
          const call = randomCall(new Rng(300 + i));
          const opts = { ...call.options, backend };
          const sync = (call.dims === 2 ? conv2d : conv1d)(call.input, call.weight, opts);
          const pending = (call.dims === 2 ? conv2dAsync : conv1dAsync)(call.input, call.weight, opts);
          expect(pending).toBeInstanceOf(Promise);
          const res = await pending;
          expect(res.shape).toEqual(sync.shape);
          expect(res.data).toEqual(sync.data);
        }
      }
    );
  }

  it.skipIf(!expectNative)(nativeOnly('native: the event loop keeps running during a large convolution'), async () => {
    // ~3.7 GFLOP per call (VGG's 224x224x64 3x3 layer): tens of milliseconds even at full speed.
    const x = rand([1, 64, 224, 224], 1),
      w = rand([64, 64, 3, 3], 2);
    const out = new Float32Array(64 * 224 * 224);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 1);
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) await conv2dAsync(x, w, { padding: 1, backend: 'native', out });
    const asyncMs = performance.now() - t0;
    clearInterval(timer);
    // A blocked loop would let through at most one tick per await (4); a free one ticks about once per
    // ms when a core is free, but the pool's threads may hold both cores of a 2-vCPU machine while
    // other test files run (19 ticks in 80 ms seen), so the bound is twice the blocked maximum.
    expect(ticks).toBeGreaterThan(Math.min(8, asyncMs / 4));

    let syncTicks = 0;
    const t2 = setInterval(() => {
      syncTicks++;
    }, 1);
    conv2d(x, w, { padding: 1, backend: 'native', out });
    clearInterval(t2);
    expect(syncTicks).toBe(0);
  });

  it.skipIf(!expectNative)(
    nativeOnly('native: many concurrent async calls of different shapes all come back right'),
    async () => {
      const calls = Array.from({ length: 64 }, (_, i) => randomCall(new Rng(700 + i)));
      const results = await Promise.all(
        calls.map((c) => (c.dims === 2 ? conv2dAsync : conv1dAsync)(c.input, c.weight, { ...c.options, backend: 'native' }))
      );
      calls.forEach((c, i) => {
        const want = (c.dims === 2 ? conv2d : conv1d)(c.input, c.weight, { ...c.options, backend: 'native' });
        expect(results[i].data).toEqual(want.data);
      });
    }
  );
});
