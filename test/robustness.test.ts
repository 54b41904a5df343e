// Issue #16's bug classes 2-6 on every backend and op: empty batches, output sizes beyond what can be
// allocated, holes and getters in arguments, and calls one engine cannot take (routed to one that can).
// Async buffer lifetimes (class 1) are in async-buffers.test.ts, the load-time choice (7) in
// dispatch.choice.test.ts, random hostile arguments in hostile.property.test.ts.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { BackendChoice, ConvOptions, ConvTransposeOptions, Tensor } from '../src/index.node.js';
import {
  avgPool2d,
  avgPool2dBackward,
  backendInfo,
  Conv1d,
  Conv2d,
  conv1d,
  conv1dAsync,
  conv2d,
  conv2dAsync,
  conv2dBackward,
  conv2dBackwardAsync,
  convTranspose1d,
  convTranspose2d,
  convTranspose2dAsync,
  explain,
  maxPool2d,
  maxPool2dBackward,
  outputShape,
} from '../src/index.node.js';
import { normalizeConv } from '../src/shape.js';
import { Rng } from './random.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const rng = new Rng(1616);

function backends(): BackendChoice[] {
  const a = backendInfo().available;
  return [...(a.native ? ['native' as const] : []), ...(a.wasmSimd ? ['wasm-simd' as const] : []), 'wasm-scalar', 'js'];
}

const t = (shape: number[], data?: Float32Array): Tensor => ({
  data: data ?? rng.floats(shape.reduce((a, b) => a * b, 1)),
  shape,
});

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, label: string, tol = 1e-4) {
  expect(got.length, label).toBe(want.length);
  let scale = 1e-30;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * scale)) expect.fail(`${label}: [${i}] got ${got[i]}, want ${want[i]}`);
  }
}

/** The error a call throws (TypeError or RangeError expected), or fails the test. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  return expect.fail('expected an error, the call returned');
}

describe('empty batch (N = 0) on every backend and op', () => {
  // C = 4, K = 8, 3x3 stride 1: a shape Winograd applies to, which made native ask the addon about N = 0.
  const x0 = t([0, 4, 8, 8], new Float32Array(0)),
    w = t([8, 4, 3, 3]),
    gy0 = t([0, 8, 6, 6], new Float32Array(0));
  for (const backend of backends()) {
    it(`${backend}: conv1d/conv2d, async, explain, every algorithm, backward, transposed, layers`, async () => {
      const algorithms = ['auto', 'direct', 'im2col', 'winograd', 'fft'] as const;
      for (const algorithm of algorithms) {
        const o: ConvOptions = { backend, algorithm: backend === 'js' && algorithm !== 'auto' ? 'direct' : algorithm };
        let ok: Tensor;
        try {
          ok = conv2d(x0, w, o);
        } catch (e) {
          // A forced algorithm may not apply to this shape on this backend: that must be a RangeError naming it.
          expect(e, `${backend} ${algorithm}`).toBeInstanceOf(RangeError);
          expect((e as Error).message).toMatch(/algorithm/);
          continue;
        }
        expect(ok.shape).toEqual([0, 8, 6, 6]);
        expect(ok.data.length).toBe(0);
        expect((await conv2dAsync(x0, w, o)).shape).toEqual([0, 8, 6, 6]);
        const e = explain(x0, w, o);
        expect(e.outputShape).toEqual([0, 8, 6, 6]);
        expect(e.threads).toBe(0);
      }
      const x1 = t([0, 4, 50], new Float32Array(0)),
        w1 = t([8, 4, 3]);
      expect(conv1d(x1, w1, { backend }).shape).toEqual([0, 8, 48]);
      expect((await conv1dAsync(x1, w1, { backend, padding: 'same' })).shape).toEqual([0, 8, 50]);
      const g = conv2dBackward(x0, w, gy0, { backend, bias: new Float32Array(8) });
      expect(g.gradInput!.shape).toEqual([0, 4, 8, 8]);
      expect([...g.gradWeight!.data].every((v) => v === 0)).toBe(true);
      expect([...g.gradBias!]).toEqual(new Array(8).fill(0));
      expect((await conv2dBackwardAsync(x0, w, gy0, { backend })).gradWeight!.shape).toEqual([8, 4, 3, 3]);
      expect(convTranspose2d(t([0, 8, 6, 6], new Float32Array(0)), t([8, 4, 3, 3]), { backend }).shape).toEqual([0, 4, 8, 8]);
      const layer = new Conv2d(4, 8, 3, { backend, padding: 1 });
      expect(layer.forward(x0).shape).toEqual([0, 8, 8, 8]);
      expect((await layer.forwardAsync(x0)).shape).toEqual([0, 8, 8, 8]);
      expect(new Conv1d(4, 8, 3, { backend }).forward(x1).shape).toEqual([0, 8, 48]);
    });
  }
  it('pooling', () => {
    expect(maxPool2d(t([0, 4, 8, 8], new Float32Array(0)), { kernelSize: 2 }).shape).toEqual([0, 4, 4, 4]);
    expect(avgPool2d(t([0, 4, 8, 8], new Float32Array(0)), { kernelSize: 3, stride: 1 }).shape).toEqual([0, 4, 6, 6]);
  });
});

describe('output sizes are checked before anything is allocated', () => {
  it('convTranspose with stride 2^30: RangeError naming stride (1-D, 2-D, async)', async () => {
    for (const call of [
      () => convTranspose1d(t([1, 1, 3]), t([1, 1, 1]), { stride: 2 ** 30 }),
      () => convTranspose2d(t([1, 1, 3, 3]), t([1, 1, 1, 1]), { stride: 2 ** 30 }),
      () => convTranspose2d(t([1, 1, 3, 3]), t([1, 1, 1, 1]), { stride: [1, 2 ** 30] }),
    ]) {
      const e = thrown(call);
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toMatch(/^stride: the output would be/);
    }
    await expect(convTranspose2dAsync(t([1, 1, 3, 3]), t([1, 1, 1, 1]), { stride: 2 ** 30 })).rejects.toThrow(RangeError);
  });

  it('an empty batch cannot hide an output no engine could index', () => {
    const e = thrown(() => convTranspose1d(t([0, 1, 3], new Float32Array(0)), t([1, 1, 1]), { stride: 2 ** 30 }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toMatch(/^stride/);
  });

  it('forward: a padding that makes the output too large is named; so is a huge dilation in convTranspose', () => {
    const e = thrown(() => conv2d(t([1, 1, 4, 4]), t([1, 1, 1, 1]), { padding: 2 ** 30 }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toMatch(/^padding: the output would be/);
    expect(thrown(() => outputShape([1, 1, 4, 4], [1, 1, 1, 1], { padding: 2 ** 30 })).message).toMatch(/^padding/);
    const d = thrown(() => convTranspose2d(t([1, 1, 2, 2]), t([1, 1, 3, 3]), { dilation: 2 ** 30 }));
    expect(d).toBeInstanceOf(RangeError);
    expect(d.message).toMatch(/^dilation/);
  });

  // Valid but extreme: time and memory follow the output, not the stride (each in a fresh process, so
  // that RSS is this call's own).
  const extreme = (code: string) => {
    // dist/ is built by pretest (tsc): a plain node child, no TypeScript loader.
    const script = `import * as f from ${JSON.stringify(path.join(root, 'dist', 'src', 'index.node.js'))};
      const T = (shape, v = 1) => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v), shape });
      const before = process.memoryUsage().rss, t0 = performance.now();
      const r = ${code};
      console.log(JSON.stringify({ ms: performance.now() - t0, mb: (process.memoryUsage().rss - before) / 2 ** 20, r }));`;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status, res.stderr).toBe(0);
    return JSON.parse(res.stdout.trim().split('\n').pop()!);
  };
  it.each([
    // 2 samples, stride 1e7: 80 MB of output (the issue measured 2.5-3.9 s and 1.7 GB before).
    [
      'convTranspose1d stride 1e7',
      `(() => { const y = f.convTranspose1d(T([2, 1, 2], 2), T([1, 1, 3]), { stride: 1e7 }); return [y.shape, y.data[0], y.data[1e7 + 2], y.data[5]]; })()`,
      [[2, 1, 1e7 + 3], 2, 2, 0],
    ],
    // stride = W = 4e6: a single output per sample (the issue measured 0.9 s and 775 MB before).
    [
      'conv1dBackward stride = W = 4e6',
      `(() => { const g = f.conv1dBackward(T([1, 1, 4e6], 3), T([1, 1, 3], 2), T([1, 1, 1], 1), { stride: 4e6 }); return [g.gradInput.data[1], g.gradInput.data[3], [...g.gradWeight.data]]; })()`,
      [2, 0, [3, 3, 3]],
    ],
  ])('%s runs in bounded time and memory, correctly', (_, code, want) => {
    const { ms, mb, r } = extreme(code as string);
    expect(r).toEqual(want);
    expect(mb).toBeLessThan(400);
    expect(ms).toBeLessThan(5000);
  });
});

describe('option arrays: holes, non-integers and wrong lengths are named', () => {
  const x = t([1, 4, 8, 8]),
    w = t([8, 4, 3, 3]);
  // The holes are the inputs under test (one declaration each, so that the suppression stays on its line).
  // biome-ignore lint/suspicious/noSparseArray: the hole is the input under test
  const holey = [, 1] as unknown as number[];
  // biome-ignore lint/suspicious/noSparseArray: the hole is the input under test
  const holeyPad4 = [1, , 1, 1] as unknown as number[];
  const cases: [string, () => unknown, RegExp][] = [
    ['outputShape stride', () => outputShape([1, 4, 8, 8], [8, 4, 3, 3], { stride: holey }), /^stride\[0\]/],
    ['conv2d padding', () => conv2d(x, w, { padding: holey }), /^padding\[0\]/],
    ['conv2d dilation', () => conv2d(x, w, { dilation: holey }), /^dilation\[0\]/],
    ['conv2d stride 1.5', () => conv2d(x, w, { stride: [1, 1.5] }), /^stride\[1\]/],
    ['conv2d stride length', () => conv2d(x, w, { stride: [1, 1, 1] }), /^stride must have 2/],
    ['conv2d padding NaN', () => conv2d(x, w, { padding: [1, NaN] }), /^padding\[1\]/],
    ['conv2d padding length 3', () => conv2d(x, w, { padding: [1, 1, 1] }), /^padding array/],
    ['explain dilation', () => explain(x, w, { dilation: holey }), /^dilation\[0\]/],
    ['conv2dBackward stride', () => conv2dBackward(x, w, t([1, 8, 6, 6]), { stride: holey }), /^stride\[0\]/],
    ['convTranspose2d stride', () => convTranspose2d(x, t([4, 2, 3, 3]), { stride: holey }), /^stride\[0\]/],
    ['convTranspose2d outputPadding', () => convTranspose2d(x, t([4, 2, 3, 3]), { outputPadding: holey }), /^outputPadding\[0\]/],
    ['convTranspose2d padding', () => convTranspose2d(x, t([4, 2, 3, 3]), { padding: holeyPad4 }), /^padding\[1\]/],
    ['maxPool2d kernelSize', () => maxPool2d(x, { kernelSize: holey }), /^kernelSize\[0\]/],
    ['avgPool2d stride', () => avgPool2d(x, { kernelSize: 2, stride: holey }), /^stride\[0\]/],
    ['avgPool2d kernelSize length', () => avgPool2d(x, { kernelSize: [2, 2, 2] }), /^kernelSize must/],
    ['Conv2d kernelSize', () => new Conv2d(4, 8, holey), /^kernelSize\[0\]/],
    ['Conv2d stride', () => new Conv2d(4, 8, 3, { stride: holey }), /^stride\[0\]/],
    ['conv1d padding', () => conv1d(t([1, 4, 9]), t([8, 4, 3]), { padding: holey }), /^padding\[0\]/],
  ];
  it.each(cases)('%s', (_, call, message) => {
    const e = thrown(call);
    expect(e instanceof TypeError || e instanceof RangeError, `${e}`).toBe(true);
    expect(e.message).toMatch(message);
  });

  it('an Array or a typed array as the options object is a TypeError', () => {
    for (const call of [
      () => conv2d(x, w, [] as unknown as ConvOptions),
      () => explain(x, w, [] as unknown as ConvOptions),
      () => outputShape([1, 4, 8, 8], [8, 4, 3, 3], [] as unknown as ConvOptions),
      () => conv2dBackward(x, w, t([1, 8, 6, 6]), [] as unknown as ConvOptions),
      () => convTranspose2d(x, t([4, 2, 3, 3]), [] as unknown as ConvTransposeOptions),
      () => maxPool2d(x, [] as unknown as { kernelSize: number }),
      () => new Conv2d([] as unknown as { inChannels: number; outChannels: number; kernelSize: number }),
      () => conv2d(x, w, new Float32Array(2) as unknown as ConvOptions),
    ]) {
      const e = thrown(call);
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(/options must be an object/);
    }
  });

  it('a bare Float32Array as a tensor says to wrap it', () => {
    const e = thrown(() => conv2d(new Float32Array(192) as unknown as Tensor, w));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(/^input must be a tensor \{ data: Float32Array, shape: number\[\] \}, got Float32Array/);
  });
});

/** A tensor whose getters answer `good` the first time and `bad` after: the library must read each once. */
function switching(good: Tensor, bad: Tensor): Tensor {
  let data = 0,
    shape = 0;
  return {
    get data() {
      return data++ === 0 ? good.data : bad.data;
    },
    get shape() {
      return shape++ === 0 ? good.shape : bad.shape;
    },
  } as Tensor;
}

describe('every tensor field is read once', () => {
  const bad = t([5]);
  const x = t([2, 4, 7, 6]),
    w = t([6, 4, 3, 3]),
    gy = t([2, 6, 5, 4]);
  for (const backend of backends()) {
    it(`${backend}: conv2d, backward, transposed conv, layers give the plain call's result`, () => {
      const o = { backend };
      expectClose(conv2d(switching(x, bad), switching(w, bad), o).data, conv2d(x, w, o).data, 'conv2d');
      const plain = conv2dBackward(x, w, gy, o);
      const tricky = conv2dBackward(switching(x, bad), switching(w, bad), switching(gy, bad), o);
      expectClose(tricky.gradInput!.data, plain.gradInput!.data, 'gradInput');
      expectClose(tricky.gradWeight!.data, plain.gradWeight!.data, 'gradWeight');
      expect(tricky.gradInput!.shape).toEqual(x.shape);
      expect(tricky.gradWeight!.shape).toEqual(w.shape);
      const wt = t([4, 3, 3, 3]);
      expectClose(
        convTranspose2d(switching(x, bad), switching(wt, bad), { ...o, stride: 2 }).data,
        convTranspose2d(x, wt, { ...o, stride: 2 }).data,
        'convTranspose2d'
      );
      const layer = new Conv2d(4, 6, 3, { backend, seed: 3 });
      const y = layer.forward(switching(x, bad));
      expectClose(y.data, layer.forward(x).data, 'layer forward');
      const g = layer.backward(switching(gy, bad));
      expect(g.gradInput!.shape).toEqual(x.shape);
    });
  }
  it('pooling forward and backward', () => {
    const px = t([2, 3, 8, 8]);
    expect([...maxPool2d(switching(px, bad), { kernelSize: 2 }).data]).toEqual([...maxPool2d(px, { kernelSize: 2 }).data]);
    expect([...avgPool2d(switching(px, bad), { kernelSize: 2 }).data]).toEqual([...avgPool2d(px, { kernelSize: 2 }).data]);
    const pg = t([2, 3, 4, 4]);
    expect([...maxPool2dBackward(switching(pg, bad), switching(px, bad), { kernelSize: 2 }).data]).toEqual([
      ...maxPool2dBackward(pg, px, { kernelSize: 2 }).data,
    ]);
    expect([...avgPool2dBackward(switching(pg, bad), switching(px, bad), { kernelSize: 2 }).data]).toEqual([
      ...avgPool2dBackward(pg, px, { kernelSize: 2 }).data,
    ]);
    const nhwc = t([2, 8, 8, 3]);
    expect([...maxPool2d(switching(nhwc, bad), { kernelSize: 2, layout: 'NHWC' }).data]).toEqual([
      ...maxPool2d(nhwc, { kernelSize: 2, layout: 'NHWC' }).data,
    ]);
  });
  it('options with getters are read once', () => {
    let reads = 0;
    // biome-ignore lint/suspicious/noSparseArray: a second read would see this hole, which the test must never reach
    const secondRead = [, 1] as unknown as number[];
    const o = {
      get padding() {
        return reads++ === 0 ? 1 : secondRead;
      },
    } as unknown as ConvOptions;
    expect(conv2d(x, w, o).shape).toEqual([2, 6, 7, 6]);
    expect(reads).toBe(1);
  });
});

describe('a valid call gets the same answer on every backend, routed where an engine has a limit', () => {
  const ones = (shape: number[], v = 1) => t(shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v));
  const cases: [string, () => [Tensor, Tensor, ConvOptions, 1 | 2]][] = [
    [
      'padding [1e8, 0, 0, 0] with stride [1e8, 1]',
      () => [ones([1, 1, 4, 4]), ones([1, 1, 3, 3]), { padding: [1e8, 0, 0, 0], stride: [1e8, 1] }, 2],
    ],
    ['padding 2^24 + 1, stride 2^24', () => [t([1, 2, 5, 4]), t([3, 2, 3, 3]), { padding: 2 ** 24 + 1, stride: 2 ** 24 }, 2]],
    ['conv1d padding and dilation 1.1e9', () => [t([2, 3, 6]), t([4, 3, 3]), { padding: 1.1e9, dilation: 1.1e9 }, 1]],
    [
      'conv1d dilation 2^30 with padding 2^30',
      () => [t([1, 2, 7]), t([2, 2, 2]), { padding: [2 ** 30, 0], dilation: 2 ** 30 }, 1],
    ],
  ];
  it.each(cases)('%s', (_, make) => {
    const [x, w, o, dims] = make();
    const { params } = normalizeConv(dims, x, w, o);
    const want = convReference(params, x.data, w.data, null);
    for (const backend of backends()) {
      const run = dims === 2 ? conv2d : conv1d;
      const y = run(x, w, { ...o, backend });
      expectClose(y.data, want, `${backend}`);
      expect(y.shape).toEqual(outputShape(x.shape, w.shape, o));
      const e = explain(x, w, { ...o, backend });
      if (backend === 'native') expect(e.backend).not.toBe('native');
      if (e.backend !== backend.replace(/-.*/, '')) expect(e.reason).toMatch(/cannot take this call/);
    }
  });
});

describe('classes the property layer found', () => {
  const x = t([1, 4, 8, 8]),
    w = t([8, 4, 3, 3]);
  it('a sparse option array or shape of length 2^32 - 1 is refused at once, naming it', () => {
    const huge = [1];
    huge.length = 2 ** 32 - 1;
    for (const [call, name] of [
      [() => conv2d(x, w, { stride: huge }), 'stride'],
      [() => maxPool2d(x, { kernelSize: 2, padding: huge }), 'padding'],
      [() => conv2d({ data: x.data, shape: huge }, w), 'input.shape'],
      [() => outputShape(huge, [8, 4, 3, 3]), 'inputShape'],
    ] as const) {
      const t0 = performance.now();
      const e = thrown(call);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(e instanceof RangeError || e instanceof TypeError, String(e)).toBe(true);
      expect(e.message.startsWith(name), e.message).toBe(true);
      expect(e.message.length).toBeLessThan(300);
    }
  });
  it('a BigInt option is a TypeError naming it, not a serialization error', () => {
    const e = thrown(() => maxPool2d(x, { kernelSize: 2, padding: 1n as unknown as number }));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(/^padding must be/);
  });
  it('pooling reads its layout option once', () => {
    let reads = 0;
    const o = {
      kernelSize: 2,
      get layout() {
        reads++;
        return 'NCHW' as const;
      },
    };
    maxPool2d(x, o);
    expect(reads).toBe(1);
  });
  it('a Float32Array subclass lying about its length is read for what it really holds', () => {
    class Liar extends Float32Array {
      override get length() {
        return super.length - 1;
      }
    }
    const gy = t([1, 4, 4, 4]),
      px = t([1, 4, 8, 8]);
    const lying = { data: new Liar(gy.data), shape: gy.shape };
    expect([...maxPool2dBackward(lying, px, { kernelSize: 2 }).data]).toEqual([
      ...maxPool2dBackward(gy, px, { kernelSize: 2 }).data,
    ]);
  });
  it('a layer whose weight would pass 2^31 - 1 elements is refused before it is allocated; a bad layout is named', () => {
    const e = thrown(() => new Conv2d({ inChannels: 65536, outChannels: 65536, kernelSize: 1 }));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toMatch(/^outChannels x inChannels\/groups x kernelSize/);
    for (const layout of [2, 'nchw']) {
      const l = thrown(() => new Conv2d(4, 8, 3, { layout: layout as never }));
      expect(l).toBeInstanceOf(RangeError);
      expect(l.message).toMatch(/^layout must be one of/);
    }
  });
  it('a forced direct call beyond the wasm memory (dilation 2^30) gives the reference answer, as js does', () => {
    const xi = t([1, 1, 3, 3]),
      wi = t([1, 1, 1, 2]);
    const o: ConvOptions = { dilation: [1, 2 ** 30], padding: [0, 0, 2 ** 29 - 1, 2 ** 29 - 1], algorithm: 'direct' };
    const want = conv2d(xi, wi, { ...o, backend: 'js' });
    for (const backend of backends()) expect([...conv2d(xi, wi, { ...o, backend }).data], backend).toEqual([...want.data]);
  });
});
