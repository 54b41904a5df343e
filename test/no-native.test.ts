// Without the native addon (a failed C++ build, or FASTCONV_NATIVE=off): the addon stays unloaded and
// says why, `auto` runs on wasm, forcing native fails with that reason, and results stay right. The
// first test holds every leg to what it expects; the block runs in CI's FASTCONV_NATIVE=off leg; the
// child process checks the switch itself from every leg, through the compiled package.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import { loadNativeBackend, nativeFmaPeak, nativeInfo, setNativeThreads } from '../src/backends/native.js';
import type { Algorithm } from '../src/backends/types.js';
import type { Tensor } from '../src/index.node.js';
import { backendInfo, Conv2d, conv2d, conv2dAsync, explain, setBackend } from '../src/index.node.js';
import { normalizeConv } from '../src/shape.js';
import { expectNative, native } from './paths.js';
import { Rng } from './random.js';
import { compare, TOLERANCE } from './tester.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const distEntry = path.join(root, 'dist', 'src', 'index.node.js');
const off = process.env.FASTCONV_NATIVE === 'off';
const DISABLED = 'disabled by FASTCONV_NATIVE=off';

const rand = (shape: number[], seed: number): Tensor => ({ data: new Rng(seed).floats(shape.reduce((a, b) => a * b, 1)), shape });

/** A padding-1 conv2d result against the float64 reference, at the tolerance of the algorithm that ran. */
function expectReference(x: Tensor, w: Tensor, y: Tensor, algorithm: Algorithm): void {
  const { params: p } = normalizeConv(2, x, w, { padding: 1 });
  const c = compare(
    y.data,
    convReference(p, x.data, w.data, null),
    convReference(p, x.data, w.data, null, true),
    TOLERANCE[algorithm]
  );
  expect(c.mismatches.slice(0, 3)).toEqual([]);
  expect(c.ok).toBe(true);
}

it('this run has the native addon exactly when it expects one', () => {
  expect('backend' in native, 'error' in native ? native.error : 'the addon loaded').toBe(expectNative);
  expect(backendInfo().available.native).toBe(expectNative);
});

describe.skipIf(!off)(
  `with FASTCONV_NATIVE=off${off ? '' : ' (skipped: this run has it unset; CI runs the suite again with it)'}`,
  () => {
    it('the addon reports itself disabled, and the native-only entry points say so', () => {
      expect(loadNativeBackend()).toEqual({ error: DISABLED });
      expect(() => nativeInfo()).toThrow(DISABLED);
      expect(() => nativeFmaPeak(5)).toThrow(DISABLED);
      expect(() => setNativeThreads(2)).not.toThrow(); // documented no-op without the addon
    });

    it('auto selects wasm (a SIMD build), and the load-time check names native as unavailable', () => {
      const info = backendInfo();
      expect(info.selected).toBe('wasm');
      expect(['relaxed', 'simd']).toContain(info.wasmVariant);
      expect(info.available.native).toBe(false);
      expect(info.errors.native).toBe(DISABLED);
      expect(info.probe.find((r) => r.key === 'native')).toMatchObject({ ok: false, error: DISABLED });
      expect(explain(rand([1, 8, 12, 12], 1), rand([8, 8, 3, 3], 2), { padding: 1 }).backend).toBe('wasm');
    });

    it('sync, async and layer calls run on wasm and match the reference', async () => {
      const x = rand([2, 16, 20, 20], 3),
        w = rand([24, 16, 3, 3], 4);
      const { algorithm } = explain(x, w, { padding: 1 });
      expectReference(x, w, conv2d(x, w, { padding: 1 }), algorithm);
      expectReference(x, w, await conv2dAsync(x, w, { padding: 1 }), algorithm);
      const layer = new Conv2d({ inChannels: 16, outChannels: 24, kernelSize: 3, padding: 1, bias: false, seed: 5 });
      const y = layer.forward(x);
      const ran = layer.algorithm;
      if (ran === undefined) throw new Error('the layer reports no algorithm after a forward call');
      expectReference(x, layer.weight, y, ran);
    });

    it('forcing native fails with the reason, per call and through setBackend, and leaves auto on wasm', async () => {
      const x = rand([1, 4, 8, 8], 6),
        w = rand([4, 4, 3, 3], 7);
      expect(() => conv2d(x, w, { backend: 'native' })).toThrow(`backend 'native' is not available: ${DISABLED}`);
      await expect(conv2dAsync(x, w, { backend: 'native' })).rejects.toThrow(DISABLED);
      expect(() => explain(x, w, { backend: 'native' })).toThrow(DISABLED);
      expect(() => setBackend('native')).toThrow(DISABLED);
      expect(backendInfo().forced).toBe('auto');
      expect(explain(x, w).backend).toBe('wasm');
    });
  }
);

// The switch as a user sets it: a fresh process importing the compiled package (built by pretest).
it('a process started with FASTCONV_NATIVE=off runs without the addon and selects wasm', () => {
  expect(existsSync(distEntry), 'dist/ is built by `npm test`s pretest (tsc)').toBe(true);
  const child = `
    const fc = await import(process.argv[1]);
    const i = fc.backendInfo();
    console.log(JSON.stringify({ selected: i.selected, native: i.available.native, error: i.errors.native }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, distEntry], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, FASTCONV_NATIVE: 'off', FASTCONV_BACKEND: '' },
  });
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ selected: 'wasm', native: false, error: DISABLED });
});
