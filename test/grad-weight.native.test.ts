// The native grad-weight family (native/conv/grad_weight.cc: the GEMM on the forward microkernels;
// native/conv/grad_weight_winograd.cc with native/kernels/grad_weight_winograd_f2x2_<isa>.cc: Winograd
// F(3x3, 2x2); strategy 'native' in src/backward.ts; every backend's backward is in backward.test.ts) on
// every native ISA path: random shapes with every option against the float64 reference (1e-5 * S, S the
// same gradient over absolute values: a GEMM's real error), PyTorch's backward golden cases, sync
// against async bit for bit, 1 thread against 2 bit for bit, the fallback for absurd padding, and the
// addon's own argument checks.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, ConvParams } from '../src/backends/types.js';
import { packParams } from '../src/backends/types.js';
import { forceGradWeightStrategy, gradWeightStrategy } from '../src/backward.js';
import type { Tensor } from '../src/index.node.js';
import {
  conv1dBackward,
  conv1dBackwardAsync,
  conv2dBackward,
  conv2dBackwardAsync,
  outputShape,
  setNumThreads,
} from '../src/index.node.js';
import { channelsLastToFirst } from '../src/layout.js';
import { convGradBiasReference, convGradWeightReference } from '../src/reference/backward.js';
import { normalizeConv } from '../src/shape.js';
import { loadGolden } from './golden.js';
import { allPaths, expectNative, nativeBackend, nativeOnly, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import type { ShapeSpace } from './tester.js';
import { compare, describeParams, planeSlack, randomCall, TOLERANCE } from './tester.js';

const TOL = 1e-5;
const nativePaths = allPaths().filter((q) => q.backend.name === 'native');

/** A random backward problem small enough for the float64 reference; half of them with many channels. */
function randomProblem(seed: number, space: ShapeSpace = {}) {
  const rng = new Rng(seed);
  for (;;) {
    const call = randomCall(rng, { large: rng.chance(0.5), ...space });
    const n = normalizeConv(call.dims, call.input, call.weight, call.options);
    const p = n.params;
    if (p.N * p.K * (p.C / p.groups) * p.R * p.S * p.OH * p.OW > 2e6) continue;
    const yShape = outputShape(call.input.shape, call.weight.shape, call.options);
    const gradOutput: Tensor = { data: rng.floats(yShape.reduce((a, b) => a * b, 1)), shape: yShape };
    const x = n.channelsLast ? channelsLastToFirst(call.input.data, p.N, p.H * p.W, p.C) : call.input.data;
    const gy = n.channelsLast ? channelsLastToFirst(gradOutput.data, p.N, p.OH * p.OW, p.K) : gradOutput.data;
    return { ...call, gradOutput, p, x, gy };
  }
}

function expectClose(
  label: string,
  got: ArrayLike<number> | undefined,
  want: ArrayLike<number>,
  scale: ArrayLike<number>,
  tol = TOL,
  slack?: ArrayLike<number>
) {
  expect(got, `${label}: missing`).toBeDefined();
  const c = compare(got!, want, scale, tol, slack);
  if (!c.ok) {
    const m = c.mismatches
      .slice(0, 4)
      .map((x) => `[${x.index}] got ${x.got} want ${x.want} S=${x.scale}`)
      .join('; ');
    expect.fail(`${label}: ${c.mismatches.length}/${c.checked} outside ${tol}*S: ${m}`);
  }
}

/**
 * Winograd's output transform mixes the 3x3 taps of one (k, c): a tap whose own terms are all padding
 * (S = 0) still gets the rounding residue of its neighbours. Its error is normwise over the 3x3: allow
 * TOLERANCE.winograd x the largest S of the same (k, c) on top of the pointwise bound.
 */
function expectWinograd(
  label: string,
  got: ArrayLike<number> | undefined,
  want: ArrayLike<number>,
  scale: ArrayLike<number>,
  taps: number
) {
  expectClose(label, got, want, scale, TOLERANCE.winograd, planeSlack(scale, taps, TOLERANCE.winograd));
}

function gradWeight(b: ReturnType<typeof randomProblem>): Float32Array {
  const fn = b.dims === 2 ? conv2dBackward : conv1dBackward;
  return fn(b.input, b.weight, b.gradOutput, { ...b.options, backend: 'native', needs: ['weight'] }).gradWeight!.data;
}

/** grad-weight and grad-bias in one kernel call, sync or async. */
async function weightAndBias(b: ReturnType<typeof randomProblem>, async: boolean) {
  const opts = { ...b.options, backend: 'native' as const, needs: ['weight', 'bias'] as const };
  const g = async
    ? await (b.dims === 2 ? conv2dBackwardAsync : conv1dBackwardAsync)(b.input, b.weight, b.gradOutput, opts)
    : (b.dims === 2 ? conv2dBackward : conv1dBackward)(b.input, b.weight, b.gradOutput, opts);
  return { gw: g.gradWeight!.data, gb: g.gradBias! };
}

describe.skipIf(!expectNative)(nativeOnly('native grad-weight kernel'), () => {
  beforeAll(() => forceGradWeightStrategy('native'));
  afterAll(() => {
    forceGradWeightStrategy('auto');
    restoreNativeIsa();
    setNumThreads(1);
  });

  it('is the automatic choice on the native backend where the backend says its kernel pays (not depthwise), never elsewhere', () => {
    forceGradWeightStrategy('auto');
    try {
      const be = nativeBackend();
      const p = randomProblem(1).p;
      const dense: ConvParams = { ...p, groups: 1, C: 4, K: 4 };
      expect(be.gradWeightChoose!(dense, 'auto').kernelPays).toBe(true);
      expect(gradWeightStrategy(dense, be)).toBe('native');
      expect(gradWeightStrategy(dense)).not.toBe('native');
      const depthwise = be.gradWeightChoose!({ ...dense, groups: 4 }, 'auto');
      expect(depthwise.kernelPays).toBe(false);
      expect(depthwise.reason).toMatch(/depthwise/);
      expect(gradWeightStrategy({ ...dense, groups: 4 }, be)).toBe('swap');
      forceGradWeightStrategy('native');
      expect(gradWeightStrategy({ ...dense, groups: 4 }, be)).toBe('native');
      expect(gradWeightStrategy(dense)).not.toBe('native');
    } finally {
      forceGradWeightStrategy('native');
    }
  });

  for (const path of nativePaths) {
    it(`${path.label}: 150 random shapes (stride, dilation, asymmetric padding, groups, depthwise, batch, 1-D, NHWC)`, () => {
      path.enter();
      for (let i = 0; i < 150; i++) {
        const b = randomProblem(11000 + i);
        const label = `${path.label} seed ${11000 + i} ${describeParams(b.p)}`;
        expect(gradWeightStrategy(b.p, path.backend), label).toBe('native');
        const got = gradWeight(b);
        expectClose(label, got, convGradWeightReference(b.p, b.x, b.gy), convGradWeightReference(b.p, b.x, b.gy, true));
      }
    });

    it(`${path.label}: grad-bias from the same kernel call on 60 random shapes, sync and async`, async () => {
      path.enter();
      for (let i = 0; i < 60; i++) {
        const b = randomProblem(12000 + i);
        const label = `${path.label} seed ${12000 + i} ${describeParams(b.p)}`;
        const sync = await weightAndBias(b, false);
        expectClose(
          `${label} weight`,
          sync.gw,
          convGradWeightReference(b.p, b.x, b.gy),
          convGradWeightReference(b.p, b.x, b.gy, true)
        );
        expectClose(`${label} bias`, sync.gb, convGradBiasReference(b.p, b.gy), convGradBiasReference(b.p, b.gy, true));
        const asyncGot = await weightAndBias(b, true);
        expect(asyncGot.gw, `${label} async weight`).toEqual(sync.gw);
        expect(asyncGot.gb, `${label} async bias`).toEqual(sync.gb);
      }
    });

    it(`${path.label}: every PyTorch backward golden case, sync and async`, async () => {
      path.enter();
      const cases = loadGolden().filter((g) => g.op.endsWith('_backward'));
      expect(cases.length).toBeGreaterThanOrEqual(9);
      for (const g of cases) {
        const opts = { ...g.options, backend: 'native' as const, needs: ['weight'] as const };
        const gy = { data: g.gradOutput!, shape: g.outputShape };
        const p = normalizeConv(g.dims, g.input, g.weight, g.options).params;
        const scale = convGradWeightReference(p, g.input.data, g.gradOutput!, true);
        const sync = (g.dims === 2 ? conv2dBackward : conv1dBackward)(g.input, g.weight, gy, opts).gradWeight!.data;
        const asyncGot = (await (g.dims === 2 ? conv2dBackwardAsync : conv1dBackwardAsync)(g.input, g.weight, gy, opts))
          .gradWeight!.data;
        expectClose(`${path.label} golden ${g.name}`, sync, Float64Array.from(g.gradWeight!), scale);
        expect(asyncGot, `${path.label} golden ${g.name} async`).toEqual(sync);
        // The Winograd form where it applies (elsewhere 'winograd' runs the GEMM).
        const wino = (g.dims === 2 ? conv2dBackward : conv1dBackward)(g.input, g.weight, gy, { ...opts, algorithm: 'winograd' });
        expectWinograd(
          `${path.label} golden ${g.name} winograd`,
          wino.gradWeight!.data,
          Float64Array.from(g.gradWeight!),
          scale,
          p.R * p.S
        );
      }
    });

    it(`${path.label}: Winograd F(3x3, 2x2) on 100 random 3x3 stride-1 shapes (${TOLERANCE.winograd} * S), sync, async, 2 threads`, async () => {
      path.enter();
      for (let i = 0; i < 100; i++) {
        const b = randomProblem(14000 + i, { kernel: '3x3s1', oneD: false });
        const label = `${path.label} winograd seed ${14000 + i} ${describeParams(b.p)}`;
        const opts = {
          ...b.options,
          backend: 'native' as const,
          algorithm: 'winograd' as const,
          needs: ['weight', 'bias'] as const,
        };
        setNumThreads(1);
        const got = conv2dBackward(b.input, b.weight, b.gradOutput, opts);
        expectWinograd(
          label,
          got.gradWeight!.data,
          convGradWeightReference(b.p, b.x, b.gy),
          convGradWeightReference(b.p, b.x, b.gy, true),
          9
        );
        expectClose(`${label} bias`, got.gradBias, convGradBiasReference(b.p, b.gy), convGradBiasReference(b.p, b.gy, true));
        if (i % 4 === 0) {
          const asyncGot = await conv2dBackwardAsync(b.input, b.weight, b.gradOutput, opts);
          expect(asyncGot.gradWeight!.data, `${label} async`).toEqual(got.gradWeight!.data);
          expect(asyncGot.gradBias, `${label} async bias`).toEqual(got.gradBias);
          setNumThreads(2);
          expect(conv2dBackward(b.input, b.weight, b.gradOutput, opts).gradWeight!.data, `${label} 2 threads`).toEqual(
            got.gradWeight!.data
          );
          setNumThreads(1);
        }
      }
    });

    it(`${path.label}: async gives the same bits as sync, and 2 threads the same as 1`, async () => {
      path.enter();
      for (let i = 0; i < 40; i++) {
        const b = randomProblem(13000 + i);
        setNumThreads(1);
        const one = gradWeight(b);
        const fn = b.dims === 2 ? conv2dBackwardAsync : conv1dBackwardAsync;
        const got = await fn(b.input, b.weight, b.gradOutput, { ...b.options, backend: 'native', needs: ['weight'] });
        expect(got.gradWeight!.data, `seed ${13000 + i} async`).toEqual(one);
        setNumThreads(2);
        expect(gradWeight(b), `seed ${13000 + i} 2 threads`).toEqual(one);
        setNumThreads(1);
      }
    });
  }

  it('runs layers big enough for several column blocks and threads (64 and 256 channels, stride 2)', () => {
    const rng = new Rng(17);
    for (const [C, K, H, k, stride, threads] of [
      [64, 64, 12, 3, 1, 1],
      [256, 24, 7, 3, 1, 2],
      [48, 40, 15, 3, 2, 2],
      [96, 72, 9, 1, 1, 2],
    ]) {
      setNumThreads(threads);
      const input: Tensor = { data: rng.floats(2 * C * H * H), shape: [2, C, H, H] };
      const weight: Tensor = { data: rng.floats(K * C * k * k), shape: [K, C, k, k] };
      const opts = { padding: k >> 1, stride };
      const ys = outputShape(input.shape, weight.shape, opts);
      const gradOutput: Tensor = { data: rng.floats(ys.reduce((a, b) => a * b, 1)), shape: ys };
      const got = conv2dBackward(input, weight, gradOutput, { ...opts, backend: 'native', needs: ['weight'] }).gradWeight!.data;
      const p = normalizeConv(2, input, weight, opts).params;
      expectClose(
        `C${C} K${K} ${H}x${H} k${k} s${stride} t${threads}`,
        got,
        convGradWeightReference(p, input.data, gradOutput.data),
        convGradWeightReference(p, input.data, gradOutput.data, true)
      );
    }
    setNumThreads(1);
  });

  it('handles padding so large that phase planes are not worth building (packs from the input)', () => {
    const rng = new Rng(23);
    const input: Tensor = { data: rng.floats(2 * 3 * 4 * 5), shape: [2, 3, 4, 5] };
    const weight: Tensor = { data: rng.floats(4 * 3 * 3 * 2), shape: [4, 3, 3, 2] };
    const opts = { padding: [1500, 1400, 1298, 1600], stride: [9, 11], dilation: [2, 1] };
    const ys = outputShape(input.shape, weight.shape, opts);
    const gradOutput: Tensor = { data: rng.floats(ys.reduce((a, b) => a * b, 1)), shape: ys };
    const got = conv2dBackward(input, weight, gradOutput, { ...opts, backend: 'native', needs: ['weight'] }).gradWeight!.data;
    const p = normalizeConv(2, input, weight, opts).params;
    const want = convGradWeightReference(p, input.data, gradOutput.data);
    expect(want.some((v) => v !== 0)).toBe(true);
    expectClose('absurd padding', got, want, convGradWeightReference(p, input.data, gradOutput.data, true));
  });

  it('gradWeightChoose answers with the rule the kernel itself runs', () => {
    const be = nativeBackend();
    const wide = normalizeConv(
      2,
      { data: new Float32Array(96 * 13 * 13), shape: [1, 96, 13, 13] },
      { data: new Float32Array(104 * 96 * 9), shape: [104, 96, 3, 3] },
      { padding: 1 }
    ).params;
    expect(be.gradWeightChoose!(wide, 'auto').algorithm).toBe('winograd');
    expect(be.gradWeightChoose!(wide, 'gemm').algorithm).toBe('gemm');
    expect(be.gradWeightChoose!({ ...wide, C: 8, K: 8 }, 'auto').algorithm).toBe('gemm'); // too narrow to pay
    expect(be.gradWeightChoose!({ ...wide, C: 8, K: 8 }, 'winograd').algorithm).toBe('winograd');
    // Where Winograd does not apply, asking for it gets the GEMM and the kernel's own reason.
    const strided = { ...wide, strideH: 2, strideW: 2, OH: 7, OW: 7 };
    const c = be.gradWeightChoose!(strided, 'winograd');
    expect(c.algorithm).toBe('gemm');
    expect(c.reason).toMatch(/Winograd needs a 3x3 kernel at stride 1 and dilation 1, got 3x3 stride 2x2/);
    const x = new Float32Array(96 * 13 * 13),
      gy = new Float32Array(104 * 49),
      out = new Float32Array(104 * 96 * 9);
    expect(() => be.gradWeight!(strided, x, gy, out, null, 'winograd')).toThrow(c.reason.split(':')[0]);
    expect(() => be.gradWeightChoose!(wide, 'fast' as never)).toThrow(TypeError);
  });

  it("picks Winograd by itself for wide 3x3 layers ('auto': Winograd bound), the GEMM for 'direct'", () => {
    const rng = new Rng(29);
    const C = 96,
      K = 104,
      H = 13;
    const input: Tensor = { data: rng.floats(C * H * H), shape: [1, C, H, H] };
    const weight: Tensor = { data: rng.floats(K * C * 9), shape: [K, C, 3, 3] };
    const gradOutput: Tensor = { data: rng.floats(K * H * H), shape: [1, K, H, H] };
    const p = normalizeConv(2, input, weight, { padding: 1 }).params;
    const want = convGradWeightReference(p, input.data, gradOutput.data),
      scale = convGradWeightReference(p, input.data, gradOutput.data, true);
    const run = (algorithm: 'auto' | 'direct' | 'winograd') =>
      conv2dBackward(input, weight, gradOutput, { padding: 1, backend: 'native', algorithm, needs: ['weight'] }).gradWeight!.data;
    const auto = run('auto'),
      gemm = run('direct');
    expectWinograd('auto', auto, want, scale, 9);
    expectClose('direct (GEMM)', gemm, want, scale);
    expect(auto, 'auto ran the Winograd form').toEqual(run('winograd'));
    expect(auto).not.toEqual(gemm);
  });

  it('Winograd over several blocks of tile rows (crossing images, odd sizes), 1 and 2 threads alike', () => {
    // 2 x 65 x 65 tiles of 8 channels: about 4 MB of transforms per 4096 tiles, so 3 blocks.
    const rng = new Rng(31);
    const input: Tensor = { data: rng.floats(2 * 8 * 129 * 129), shape: [2, 8, 129, 129] };
    const weight: Tensor = { data: rng.floats(8 * 8 * 9), shape: [8, 8, 3, 3] };
    const opts = { padding: [1, 1, 2, 0] as number[] };
    const ys = outputShape(input.shape, weight.shape, opts);
    const gradOutput: Tensor = { data: rng.floats(ys.reduce((a, b) => a * b, 1)), shape: ys };
    const p = normalizeConv(2, input, weight, opts).params;
    const run = () =>
      conv2dBackward(input, weight, gradOutput, { ...opts, backend: 'native', algorithm: 'winograd', needs: ['weight'] })
        .gradWeight!.data;
    setNumThreads(1);
    const one = run();
    expectWinograd(
      '3 blocks',
      one,
      convGradWeightReference(p, input.data, gradOutput.data),
      convGradWeightReference(p, input.data, gradOutput.data, true),
      9
    );
    setNumThreads(2);
    expect(run()).toEqual(one);
    setNumThreads(1);
  });

  it('keeps a non-finite input inside the gradients that use it (Winograd asked for falls back to the GEMM)', () => {
    // At padding 1, x[0, 0, 0, 0] = Inf meets taps (0..1, 0..1) only: 4 taps x 3 filters of channel 0 are Inf.
    const input: Tensor = { data: new Float32Array(1 * 2 * 5 * 5).fill(0.5), shape: [1, 2, 5, 5] };
    input.data[0] = Infinity;
    const weight: Tensor = { data: new Float32Array(3 * 2 * 3 * 3), shape: [3, 2, 3, 3] };
    const gradOutput: Tensor = { data: new Float32Array(3 * 25).fill(0.25), shape: [1, 3, 5, 5] };
    const p = normalizeConv(2, input, weight, { padding: 1 }).params;
    const want = convGradWeightReference(p, input.data, gradOutput.data);
    for (const algorithm of ['direct', 'winograd'] as const) {
      const got = conv2dBackward(input, weight, gradOutput, { padding: 1, backend: 'native', algorithm, needs: ['weight'] })
        .gradWeight!.data;
      for (let i = 0; i < want.length; i++)
        expect(got[i] === want[i], `${algorithm} entry ${i}: ${got[i]} vs ${want[i]}`).toBe(true);
      expect(got.filter((v) => !Number.isFinite(v)).length).toBe(12);
    }
  });
});

describe.skipIf(!expectNative)(nativeOnly('native gradWeight under repeated calls'), () => {
  // As test/memory.test.ts: after a warm-up, thousands of calls (shapes cycling through both
  // algorithms, so the shared workspaces resize) must not grow RSS. Under ASan RSS says nothing.
  const bound = process.env.FASTCONV_ASAN ? Infinity : 24;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const rssMB = () => {
    gc();
    gc();
    return process.memoryUsage().rss / 2 ** 20;
  };

  it('4,000 sync and async calls do not grow RSS', async () => {
    const be = nativeBackend();
    const rng = new Rng(41);
    const shapes = [
      { x: [1, 8, 16, 16], w: [8, 8, 3, 3], o: { padding: 1 } },
      { x: [2, 3, 20, 17], w: [5, 3, 5, 5], o: { stride: 2 } },
      { x: [1, 12, 14, 14], w: [12, 1, 3, 3], o: { groups: 12, padding: 1 } },
      { x: [1, 100, 14, 14], w: [96, 100, 3, 3], o: { padding: 1 } }, // Winograd under 'auto'
    ].map(({ x, w, o }) => {
      const input = { data: rng.floats(x.reduce((a, b) => a * b, 1)), shape: x };
      const weight = { data: rng.floats(w.reduce((a, b) => a * b, 1)), shape: w };
      const p = normalizeConv(2, input, weight, o).params;
      return {
        p,
        x: input.data,
        gy: rng.floats(p.N * p.K * p.OH * p.OW),
        out: new Float32Array(weight.data.length),
        bias: new Float32Array(p.K),
      };
    });
    const run = async (i: number) => {
      const c = shapes[i % shapes.length];
      const algorithm = i % 3 === 0 ? 'gemm' : 'auto';
      if (i & 1) await be.gradWeightAsync!(c.p, c.x, c.gy, c.out, c.bias, algorithm);
      else be.gradWeight!(c.p, c.x, c.gy, c.out, c.bias, algorithm);
    };
    for (let i = 0; i < 200; i++) await run(i);
    const before = rssMB();
    for (let i = 0; i < 4000; i++) await run(i);
    expect(rssMB() - before).toBeLessThanOrEqual(bound);
  }, 120_000);
});

describe.skipIf(!expectNative)(nativeOnly('native gradWeight at the addon boundary'), () => {
  let be: Backend;
  beforeAll(() => {
    be = nativeBackend();
  });
  const p: ConvParams = {
    N: 1,
    C: 2,
    H: 4,
    W: 4,
    K: 3,
    R: 3,
    S: 3,
    groups: 1,
    strideH: 1,
    strideW: 1,
    dilationH: 1,
    dilationW: 1,
    padTop: 0,
    padBottom: 0,
    padLeft: 0,
    padRight: 0,
    OH: 2,
    OW: 2,
    relu: false,
  };
  const x = new Float32Array(32),
    gy = new Float32Array(12),
    out = new Float32Array(54);

  it('re-validates every length and refuses overlapping output, sync and async', async () => {
    expect(be.gradWeight).toBeDefined();
    expect(() => be.gradWeight!(p, new Float32Array(31), gy, out)).toThrow(/input: expected length 32/);
    expect(() => be.gradWeight!(p, x, new Float32Array(13), out)).toThrow(/gradOutput: expected length 12/);
    expect(() => be.gradWeight!(p, x, gy, new Float32Array(53))).toThrow(/out: expected length 54/);
    expect(() => be.gradWeight!({ ...p, OH: 3 }, x, gy, out)).toThrow(/OH/);
    const shared = new Float32Array(100);
    expect(() => be.gradWeight!(p, shared.subarray(0, 32), gy, shared.subarray(20, 74))).toThrow(/overlapping/);
    expect(() => be.gradWeight!(p, x, shared.subarray(0, 12), shared.subarray(10, 64))).toThrow(/overlapping/);
    await expect(be.gradWeightAsync!(p, x, gy, new Float32Array(1))).rejects.toThrow(/out: expected length 54/);
    const addon = (await import('node:module')).createRequire(import.meta.url)('../build/Release/fastconv.node') as {
      gradWeight: (...a: unknown[]) => void;
    };
    expect(() => addon.gradWeight(packParams(p), x, gy)).toThrow(/4 to 6 arguments/);
    expect(() => addon.gradWeight(packParams(p), x, gy, out, null, 3)).toThrow(/algo: expected 0 \(auto\), 1 \(gemm\) or 2/);
    expect(() => addon.gradWeight(packParams(p), x, gy, out, null, '1')).toThrow(/algo/);
    expect(() =>
      addon.gradWeight(packParams({ ...p, R: 2, S: 2, OH: 3, OW: 3 }), x, new Float32Array(27), new Float32Array(24), null, 2)
    ).toThrow(/Winograd needs a 3x3 kernel/);
    expect(() => be.gradWeight!(p, x, gy, out, new Float32Array(4))).toThrow(/gradBiasOut: expected length 3/);
    expect(() => be.gradWeight!(p, x, gy, out, out.subarray(1, 4))).toThrow(/gradBiasOut: expected memory separate/);
    expect(() => be.gradWeight!(p, x, gy, out, gy.subarray(0, 3))).toThrow(/gradBiasOut: expected memory separate/);
    await expect(be.gradWeightAsync!(p, x, gy, out, new Float32Array(2))).rejects.toThrow(/gradBiasOut/);
    expect(() => addon.gradWeight(packParams(p), x, new Float64Array(12), out)).toThrow(/gradOutput: expected a Float32Array/);
  });
});
