// The public API's contract: output shapes (PyTorch's formula), every padding form, layouts, `out`
// buffers, fused ReLU, backend information and forcing, and random calls through every backend choice.

import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import { backendInfo, conv1d, conv2d, explain, outputShape, setBackend, setNumThreads } from '../src/index.node.js';
import { channelsLastToFirst } from '../src/layout.js';
import type { ConvOptions, Tensor } from '../src/shape.js';
import { normalizeConv } from '../src/shape.js';
import { loadGolden } from './golden.js';
import { expectNative, nativeOnly } from './paths.js';
import { Rng } from './random.js';
import { compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, randomCall, TOLERANCE } from './tester.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rand = (shape: number[], seed = 7): Tensor => ({ data: new Rng(seed).floats(shape.reduce((a, b) => a * b, 1)), shape });

describe('outputShape', () => {
  it('matches every golden case (PyTorch)', () => {
    const cases = loadGolden();
    expect(cases.length).toBeGreaterThan(0);
    for (const g of cases) {
      expect(outputShape(g.input.shape, g.weight.shape, g.options), g.name).toEqual(g.outputShape);
    }
  });

  it('follows floor((H + pads - d*(k-1) - 1)/s) + 1 per dimension', () => {
    expect(outputShape([2, 8, 50, 100], [16, 8, 3, 3])).toEqual([2, 16, 48, 98]);
    expect(outputShape([1, 3, 224, 224], [64, 3, 7, 7], { stride: 2, padding: 3 })).toEqual([1, 64, 112, 112]);
    expect(outputShape([1, 1, 10, 11], [1, 1, 3, 2], { stride: [3, 2], padding: [0, 1, 2, 0], dilation: [2, 1] })).toEqual([
      1, 1, 3, 6,
    ]);
    expect(outputShape([1, 1, 16000], [32, 1, 251], { padding: 125 })).toEqual([1, 32, 16000]);
    expect(outputShape([1, 4, 9], [2, 4, 4], { padding: 'same', dilation: 3 })).toEqual([1, 2, 9]);
    expect(outputShape([1, 4, 9], [2, 4, 4], { padding: 'valid' })).toEqual([1, 2, 6]);
    expect(outputShape([3, 5, 4, 7], [8, 7, 2, 2], { layout: 'NHWC', stride: 2 })).toEqual([3, 2, 2, 8]);
    expect(outputShape([1, 2, 5], [4, 1, 5], { groups: 2, padding: [1, 3] })).toEqual([1, 4, 5]);
  });
});

describe('padding forms', () => {
  const x = rand([2, 3, 9, 8]);
  const w = rand([4, 3, 4, 3], 8);
  const same = (a: ConvOptions, b: ConvOptions) => {
    const ya = conv2d(x, w, { ...a, backend: 'js' });
    const yb = conv2d(x, w, { ...b, backend: 'js' });
    expect(ya.shape).toEqual(yb.shape);
    expect(ya.data).toEqual(yb.data);
  };
  it("'same' splits an odd total as PyTorch: floor(total/2) before, the rest after", () => {
    // k = 4, d = 2 -> total 6 -> 3 / 3; k = 3, d = 2 -> total 4 -> 2 / 2; k = 4, d = 1 -> 1 / 2
    same({ padding: 'same', dilation: 2 }, { padding: [3, 3, 2, 2], dilation: 2 });
    same({ padding: 'same' }, { padding: [1, 2, 1, 1] });
  });
  it('int, per-dim and explicit forms agree', () => {
    same({ padding: 2 }, { padding: [2, 2] });
    same({ padding: [1, 2] }, { padding: [1, 1, 2, 2] });
    same({ padding: 'valid' }, { padding: 0 });
    same({}, { padding: [0, 0, 0, 0] });
  });
  it("conv1d: [p], [left, right], and [0, 0, left, right] (the golden vectors' effective_pad)", () => {
    const x1 = rand([1, 2, 11]),
      w1 = rand([3, 2, 4], 3);
    expect(conv1d(x1, w1, { padding: [2], backend: 'js' }).data).toEqual(conv1d(x1, w1, { padding: [2, 2], backend: 'js' }).data);
    expect(conv1d(x1, w1, { padding: 'same', backend: 'js' }).data).toEqual(
      conv1d(x1, w1, { padding: [1, 2], backend: 'js' }).data
    );
    const y = conv1d(x1, w1, { padding: [0, 0, 3, 1] });
    expect(y.shape).toEqual([1, 3, 12]);
    expect(y.data).toEqual(conv1d(x1, w1, { padding: [3, 1] }).data);
    expect(() => conv1d(x1, w1, { padding: [1, 0, 3, 1] })).toThrow(/padding.*top = bottom = 0/);
  });
});

describe('out buffers, relu, bias', () => {
  const x = rand([1, 4, 7, 7]),
    w = rand([5, 4, 3, 3], 9),
    bias = new Rng(3).floats(5);
  it('writes into out and returns it (a larger out is filled at its start)', () => {
    const out = new Float32Array(5 * 5 * 5 + 10).fill(42);
    const y = conv2d(x, w, { bias, out });
    expect(y.data.buffer).toBe(out.buffer);
    expect(y.data.length).toBe(125);
    expect(Array.from(out.subarray(125))).toEqual(new Array(10).fill(42));
    expect(y.data).toEqual(conv2d(x, w, { bias }).data);
  });
  it('fuses relu after bias (equals max(0, conv + b))', () => {
    const plain = conv2d(x, w, { bias }).data;
    const relu = conv2d(x, w, { bias, activation: 'relu' }).data;
    expect(plain.some((v) => v < 0)).toBe(true);
    expect(Array.from(relu)).toEqual(Array.from(plain, (v) => Math.max(0, v)));
  });
});

describe('random calls through every backend choice', () => {
  for (const backend of ['native', 'wasm', 'wasm-simd', 'wasm-scalar'] as const) {
    const name = `${backend}: 150 random calls incl. NHWC/NWC, 'same', asymmetric padding, out buffers`;
    it.skipIf(backend === 'native' && !expectNative)(backend === 'native' ? nativeOnly(name) : name, () => {
      for (let i = 0; i < 150; i++) {
        const rng = new Rng(9000 + i);
        const call = randomCall(rng);
        const options: ConvOptions = { ...call.options, backend };
        const outLen = outputShape(call.input.shape, call.weight.shape, call.options).reduce((a, b) => a * b, 1);
        if (rng.chance(0.3)) options.out = new Float32Array(outLen + rng.int(0, 3));
        const conv = call.dims === 2 ? conv2d : conv1d;
        const y = conv(call.input, call.weight, options);
        if (options.out) expect(y.data.buffer).toBe(options.out.buffer);
        const n = normalizeConv(call.dims, call.input, call.weight, options);
        const p = n.params;
        const xs = n.channelsLast ? channelsLastToFirst(call.input.data, p.N, p.H * p.W, p.C) : call.input.data;
        const want = convReference(p, xs, call.weight.data, n.bias);
        const S = convReference(p, xs, call.weight.data, n.bias, true);
        const got = n.channelsLast ? channelsLastToFirst(y.data, p.N, p.OH * p.OW, p.K) : y.data;
        const algo = explain(call.input, call.weight, options).algorithm;
        const c = compare(got, want, S, TOLERANCE[algo], planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo]));
        if (!c.ok) expect.fail(formatFailure(`${backend} seed ${9000 + i} ${call.options.layout}`, p, c));
      }
    });
  }
});

describe('backendInfo / setBackend / explain', () => {
  it('reports what is available and why the selection was made', () => {
    const info = backendInfo();
    expect(Object.keys(info.available).sort()).toEqual(['js', 'native', 'wasmRelaxed', 'wasmScalar', 'wasmSimd']);
    expect(info.available.js).toBe(true);
    expect(info.available.wasmScalar).toBe(true);
    expect(info.available.native).toBe(expectNative);
    expect(info.reason).toMatch(
      /the first backend that passed the float64 check in the known order native > wasm-relaxed > wasm-simd > wasm-scalar > js/
    );
    expect(info.probe.filter((r) => r.ok).length).toBeGreaterThanOrEqual(3);
    // Timed only where the order is in doubt (native at its scalar ISA): not at this machine's default.
    if (info.isa !== 'scalar') expect(info.comparisons).toEqual([]);
    if (expectNative) {
      expect(info.selected).toBe('native');
      expect(['avx512', 'avx2', 'neon', 'sse', 'scalar']).toContain(info.isa);
      expect(info.threads).toBeGreaterThanOrEqual(1);
    } else {
      expect(info.selected).toBe('wasm');
      expect(info.errors.native).toBeTruthy();
    }
  });

  it('setBackend forces a backend for auto calls and auto restores the fastest', () => {
    const x = rand([1, 2, 5, 5]),
      w = rand([2, 2, 3, 3]);
    const before = backendInfo().selected;
    setBackend('js');
    try {
      expect(backendInfo().selected).toBe('js');
      expect(explain(x, w).backend).toBe('js');
      expect(backendInfo().reason).toMatch(/forced/);
    } finally {
      setBackend('auto');
    }
    expect(backendInfo().selected).toBe(before);
    expect(() => setBackend('gpu' as never)).toThrow(RangeError);
  });

  it('explain says which algorithm a shape gets, and why', () => {
    const dw = explain(rand([1, 8, 9, 9]), rand([8, 1, 3, 3]), { groups: 8, padding: 1 });
    expect(dw.outputShape).toEqual([1, 8, 9, 9]);
    expect(dw.reason.length).toBeGreaterThan(5);
    const forced = explain(rand([1, 8, 9, 9]), rand([8, 8, 3, 3]), { algorithm: 'direct' });
    expect(forced.algorithm).toBe('direct');
    expect(forced.reason).toMatch(/forced/);
  });

  it('FASTCONV_BACKEND forces the backend of a new process', () => {
    for (const name of ['js', 'wasm']) {
      const res = spawnSync(
        process.execPath,
        ['-e', "import('./dist/src/index.node.js').then(m => console.log(JSON.stringify(m.backendInfo())))"],
        { cwd: root, env: { ...process.env, FASTCONV_BACKEND: name }, encoding: 'utf8' }
      );
      expect(res.status, res.stderr).toBe(0);
      const info = JSON.parse(res.stdout);
      expect(info.selected).toBe(name);
      expect(info.forced).toBe(name);
    }
  });
});

describe('explain().threads is what the call runs on', () => {
  const t = (shape: number[]) => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
  it.skipIf(!expectNative)(nativeOnly('native: tiny calls stay on one thread, larger ones (depthwise too) use the pool'), () => {
    setNumThreads(2);
    try {
      expect(explain(t([1, 1, 28, 28]), t([6, 1, 5, 5]), { backend: 'native' }).threads).toBe(1);
      expect(explain(t([1, 144, 56, 56]), t([144, 1, 3, 3]), { backend: 'native', padding: 1, groups: 144 }).threads).toBe(1);
      expect(explain(t([1, 96, 112, 112]), t([96, 1, 3, 3]), { backend: 'native', padding: 1, groups: 96 }).threads).toBe(2);
      // Stride 2 goes through phase planes, ~8x slower per FLOP: it splits as early as dense layers.
      expect(
        explain(t([1, 192, 56, 56]), t([192, 1, 3, 3]), { backend: 'native', padding: 1, stride: 2, groups: 192 }).threads
      ).toBe(2);
      expect(explain(t([1, 64, 56, 56]), t([64, 64, 3, 3]), { backend: 'native', padding: 1 }).threads).toBe(2);
    } finally {
      setNumThreads(os.availableParallelism());
    }
  });
});
