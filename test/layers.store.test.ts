// Per-layer stores of transformed weights (native): a call with a store gives exactly the bits of the
// same call without one, on every native ISA and algorithm, on a miss, on a hit, and after the weights
// changed and the store was cleared; the layers clear their store whenever the weights may change, and
// dispose() frees it. Also `tune: true`, which times the candidates once per shape.

import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { Algorithm, WeightStore } from '../src/backends/types.js';
import type { Tensor } from '../src/index.node.js';
import { Conv1d, Conv2d, conv1d, conv2d, explain, setBackend } from '../src/index.node.js';
import { allPaths, expectNative, nativeBackend, nativeOnly, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import type { ConvProblem } from './tester.js';
import { checkBackend, compare, NORMWISE_TOLERANCE, planeSlack, randomProblem, TOLERANCE } from './tester.js';

/** A stored call's output against the float64 reference, with the algorithm's tolerance. */
function matchesReference(prob: ConvProblem, algo: Algorithm, got: Float32Array, weight = prob.weight): boolean {
  const { p, input, bias } = prob;
  const S = convReference(p, input, weight, bias, true);
  return compare(
    got,
    convReference(p, input, weight, bias),
    S,
    TOLERANCE[algo],
    planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo])
  ).ok;
}
/** Bitwise equality without vitest's (very slow) diff of large arrays. */
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

const rand = (shape: number[], seed: number): Tensor => ({ data: new Rng(seed).floats(shape.reduce((a, b) => a * b, 1)), shape });
const nativePaths = allPaths().filter((p) => p.label.startsWith('native-'));
const ALGOS: Algorithm[] = ['direct', 'im2col', 'winograd', 'fft'];

afterAll(restoreNativeIsa);

it.skipIf(!expectNative)(nativeOnly('the native backend offers weight stores'), () => {
  expect(typeof nativeBackend().createWeightStore).toBe('function');
});

describe.each(nativePaths.map((p) => [p.label, p] as const))('%s: calls with a weight store', (_label, path) => {
  const be = path.backend;

  // FFT may pick other tiles when its filter transform is stored (it no longer costs per call), so its
  // stored results are checked against the reference only; the others must match bit for bit.
  it.each(ALGOS)('%s: miss, hit and cleared store match a storeless call and the reference', (algo) => {
    const same = (a: Float32Array, b: Float32Array) => algo === 'fft' || sameBits(a, b);
    path.enter();
    const rng = new Rng(9100 + ALGOS.indexOf(algo));
    let ran = 0;
    for (let i = 0; i < 60; i++) {
      const prob = randomProblem(rng, {
        kernel: algo === 'winograd' ? '3x3s1' : algo === 'fft' ? 'stride1' : 'any',
        large: i % 6 === 0,
      });
      const { p, input, weight, bias } = prob;
      if (be.supports(p, algo) !== null) continue;
      ran++;
      const size = p.N * p.K * p.OH * p.OW;
      const plain = new Float32Array(size);
      be.conv2d(p, input, weight, bias, plain, algo);
      const store = be.createWeightStore!();
      for (let rep = 0; rep < 2; rep++) {
        const got = new Float32Array(size).fill(-7.5e33);
        be.conv2d(p, input, weight, bias, got, algo, store);
        expect(same(got, plain), `${prob.tag} rep ${rep}`).toBe(true);
        if (rep === 1 && (algo === 'fft' || i % 4 === 0)) expect(matchesReference(prob, algo, got), prob.tag).toBe(true);
      }
      if (algo !== 'direct' && p.K * p.C > 1) expect(store.bytes, prob.tag).toBeGreaterThan(0);
      // New weights: a cleared store is refilled from them.
      const w2 = weight.map((v) => -2 * v + 0.125);
      store.clear();
      expect(store.bytes).toBe(0);
      const fresh = new Float32Array(size),
        again = new Float32Array(size);
      be.conv2d(p, input, w2, bias, fresh, algo);
      be.conv2d(p, input, w2, bias, again, algo, store);
      expect(same(again, fresh), prob.tag).toBe(true);
      if (algo === 'fft') expect(matchesReference(prob, algo, again, w2), prob.tag).toBe(true);
    }
    expect(ran).toBeGreaterThan(15);
  });

  it('switching ISA keeps separate entries (the layout depends on the kernel)', () => {
    path.enter();
    const prob = randomProblem(new Rng(77), { kernel: '3x3s1', large: true });
    const { p, input, weight, bias } = prob;
    const store = be.createWeightStore!();
    const size = p.N * p.K * p.OH * p.OW;
    const a = new Float32Array(size),
      b = new Float32Array(size),
      c = new Float32Array(size);
    be.conv2d(p, input, weight, bias, a, 'im2col', store);
    restoreNativeIsa();
    be.conv2d(p, input, weight, bias, b, 'im2col', store);
    path.enter();
    be.conv2d(p, input, weight, bias, c, 'im2col', store);
    expect(sameBits(c, a)).toBe(true);
    expect(checkBackend(be, 'im2col', prob).ok).toBe(true);
  });

  it('async calls with a store equal sync ones', async () => {
    path.enter();
    const prob = randomProblem(new Rng(78), { kernel: '3x3s1', large: true });
    const { p, input, weight, bias } = prob;
    const store = be.createWeightStore!();
    const size = p.N * p.K * p.OH * p.OW;
    for (const algo of ['im2col', 'winograd'] as const) {
      const s = new Float32Array(size),
        a = new Float32Array(size);
      be.conv2d(p, input, weight, bias, s, algo);
      await Promise.all([0, 1, 2].map(() => be.conv2dAsync(p, input, weight, bias, a, algo, store)));
      expect(sameBits(a, s)).toBe(true);
    }
  });
});

describe.skipIf(!expectNative)(nativeOnly('layers keep transformed weights per layer (native)'), () => {
  const mk = (o: Record<string, unknown> = {}) =>
    new Conv2d({ inChannels: 32, outChannels: 24, kernelSize: 3, padding: 1, seed: 5, backend: 'native', ...o });
  const x = rand([2, 32, 13, 11], 6);
  const functional = (l: Conv2d, w: Float32Array) =>
    conv2d(
      x,
      { data: w, shape: l.weight.shape },
      { padding: 1, bias: l.bias!.data.slice(), backend: 'native', algorithm: l.algorithm }
    );

  it.each(['auto', 'im2col', 'winograd'] as const)('%s: forward equals the functional call and fills the store', (algorithm) => {
    const l = mk({ algorithm });
    const y = l.forward(x);
    expect(l.packedWeightBytes).toBeGreaterThan(0);
    const w = l.weight.data.slice(); // reading .data clears the store (it may be written through)
    expect(l.packedWeightBytes).toBe(0);
    expect(y.data).toEqual(functional(l, w).data);
    expect(l.forward(x).data).toEqual(y.data);
    expect(l.packedWeightBytes).toBeGreaterThan(0);
  });

  it('assigning, writing in place, weightsChanged() and backward all make the next forward use the new weights', () => {
    const l = mk({ algorithm: 'winograd' });
    l.forward(x);
    // 1. assignment
    const w1 = rand([24, 32, 3, 3], 11);
    l.weight = w1;
    expect(l.forward(x).data).toEqual(functional(l, w1.data.slice()).data);
    // 2. in place through .data
    l.weight.data.fill(0.01);
    expect(l.forward(x).data).toEqual(functional(l, new Float32Array(w1.data.length).fill(0.01)).data);
    // 3. through a reference kept from before the forward, announced with weightsChanged()
    const held = l.weight.data;
    l.forward(x);
    held.fill(-0.02);
    l.weightsChanged();
    expect(l.forward(x).data).toEqual(functional(l, new Float32Array(held.length).fill(-0.02)).data);
    // 4. an optimizer step after backward (the step keeps its reference)
    const y = l.forward(x);
    const g = l.backward({ data: y.data.map(() => 1), shape: y.shape });
    expect(g.gradWeight).toBeDefined();
    for (let i = 0; i < held.length; i++) held[i] -= 0.001 * l.weight.grad[i];
    expect(l.forward(x).data).toEqual(functional(l, held.slice()).data);
    // 5. a new bias is used as given (it is never transformed)
    l.bias = { data: new Float32Array(24).fill(3), shape: [24] };
    expect(l.forward(x).data).toEqual(functional(l, held.slice()).data);
  });

  it('dispose() frees the transformed weights', () => {
    const l = mk({ algorithm: 'winograd' });
    l.forward(x);
    expect(l.packedWeightBytes).toBeGreaterThan(0);
    l.dispose();
    expect(l.packedWeightBytes).toBe(0);
    expect(() => l.forward(x)).toThrow(/disposed/);
  });

  it('Conv1d keeps its FFT spectra and GEMM panels too', () => {
    const l = new Conv1d({
      inChannels: 2,
      outChannels: 8,
      kernelSize: 151,
      padding: 75,
      seed: 2,
      backend: 'native',
      algorithm: 'fft',
    });
    const xs = rand([1, 2, 4000], 3);
    const y = l.forward(xs);
    expect(l.packedWeightBytes).toBeGreaterThan(0);
    const want = conv1d(
      xs,
      { data: l.weight.data.slice(), shape: l.weight.shape },
      { padding: 75, bias: l.bias!.data.slice(), backend: 'js' }
    );
    let worst = 0,
      scale = 0;
    for (let i = 0; i < y.data.length; i++) {
      worst = Math.max(worst, Math.abs(y.data[i] - want.data[i]));
      scale = Math.max(scale, Math.abs(want.data[i]));
    }
    expect(worst).toBeLessThan(1e-5 * scale);
  });

  it('a layer with a store matches the float64 reference on the js backend', () => {
    for (const algorithm of ['im2col', 'winograd', 'auto'] as const) {
      const l = mk({ algorithm });
      const y = l.forward(x);
      const ref = conv2d(
        x,
        { data: l.weight.data.slice(), shape: l.weight.shape },
        { padding: 1, bias: l.bias!.data.slice(), backend: 'js' }
      );
      let worst = 0;
      for (let i = 0; i < y.data.length; i++) worst = Math.max(worst, Math.abs(y.data[i] - ref.data[i]));
      expect(worst).toBeLessThan(1e-4);
    }
  });
});

describe('tune: true', () => {
  const x = rand([1, 16, 20, 18], 21),
    w = rand([16, 16, 3, 3], 22);

  it('times the applicable algorithms once per shape, reports the winner, and computes the right result', () => {
    setBackend('auto');
    const before = explain(x, w, { padding: 1, tune: true });
    expect(before.reason).toMatch(/not tuned yet/);
    const y = conv2d(x, w, { padding: 1, tune: true });
    const after = explain(x, w, { padding: 1, tune: true });
    expect(after.reason).toMatch(/^tuned: fastest of /);
    expect(after.reason).toContain(`${after.algorithm} `);
    const ref = conv2d(x, w, { padding: 1, backend: 'js' });
    for (let i = 0; i < y.data.length; i++) expect(Math.abs(y.data[i] - ref.data[i])).toBeLessThan(1e-3);
    // Forced algorithms are never tuned.
    expect(explain(x, w, { padding: 1, tune: true, algorithm: 'im2col' }).algorithm).toBe('im2col');
  });

  it('works for layers and async calls, and rejects a non-boolean', async () => {
    const l = new Conv2d({ inChannels: 16, outChannels: 16, kernelSize: 3, padding: 1, tune: true, seed: 1 });
    const y = await l.forwardAsync(x);
    expect(['direct', 'im2col', 'winograd', 'fft']).toContain(l.algorithm);
    expect(l.forward(x).data).toEqual(y.data);
    expect(() => conv2d(x, w, { tune: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 1, tune: 'yes' as unknown as boolean })).toThrow(/tune/);
  });
});

it.skipIf(!expectNative)(
  nativeOnly('clearing a store while async calls run or wait does not block, and every later call sees the new weights'),
  async () => {
    const be = nativeBackend();
    const prob = randomProblem(new Rng(81), { kernel: '3x3s1', large: true });
    const { p, input, weight, bias } = prob;
    const store = be.createWeightStore!();
    const size = p.N * p.K * p.OH * p.OW;
    const out = new Float32Array(size);
    be.conv2d(p, input, weight, bias, out, 'winograd', store);
    // A slow call holds the addon (the generic direct loop on a dense shape), then the store is cleared.
    const slow = be.conv2dAsync(p, input, weight, bias, new Float32Array(size), 'direct');
    const pending = be.conv2dAsync(p, input, weight, bias, out, 'winograd', store);
    const t0 = performance.now();
    store.clear();
    const clearMs = performance.now() - t0;
    await Promise.all([slow, pending]);
    expect(clearMs).toBeLessThan(5);
    // The queued call was made before the clear: it ran on its own weights and left nothing behind.
    const old = new Float32Array(size);
    be.conv2d(p, input, weight, bias, old, 'winograd');
    expect(sameBits(out, old)).toBe(true);
    const w2 = weight.map((v) => 0.5 - v);
    const want = new Float32Array(size),
      got = new Float32Array(size);
    be.conv2d(p, input, w2, bias, want, 'winograd');
    be.conv2d(p, input, w2, bias, got, 'winograd', store);
    expect(sameBits(got, want)).toBe(true);
  }
);

it.skipIf(!expectNative)(nativeOnly('stores survive their layer being collected mid-async-call'), async () => {
  const be = nativeBackend();
  const prob = randomProblem(new Rng(80), { kernel: '3x3s1', large: true });
  const { p, input, weight, bias } = prob;
  let store: WeightStore | null = be.createWeightStore!();
  const out = new Float32Array(p.N * p.K * p.OH * p.OW);
  const pending = be.conv2dAsync(p, input, weight, bias, out, 'winograd', store);
  store = null;
  (globalThis as { gc?: () => void }).gc?.();
  await pending;
  expect(checkBackend(be, 'winograd', prob).ok).toBe(true);
});
