// Convolution gradients on every backend choice: against the float64 oracles (src/reference/backward.ts)
// on random shapes with every option, against finite differences of the float64 forward, and against
// PyTorch's backward golden cases. Error bounds are 1e-5 * S_grad, S_grad being the same gradient
// computed over absolute values (for grad-input: convTranspose(|gy|, |w|)).

import { describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { ConvParams } from '../src/backends/types.js';
import type { GradWeightStrategy } from '../src/backward.js';
import { forceGradWeightStrategy } from '../src/backward.js';
import type { BackendChoice, ConvOptions, Tensor } from '../src/index.node.js';
import {
  backendInfo,
  conv1dBackward,
  conv1dBackwardAsync,
  conv2dBackward,
  conv2dBackwardAsync,
  outputShape,
} from '../src/index.node.js';
import { channelsFirstToLast, channelsLastToFirst } from '../src/layout.js';
import { convGradBiasReference, convGradInputReference, convGradWeightReference } from '../src/reference/backward.js';
import { normalizeConv } from '../src/shape.js';
import { loadGolden } from './golden.js';
import { allPaths, backendTestName, expectNative, restoreNativeIsa, skipsBackend } from './paths.js';
import { Rng } from './random.js';
import { compare, describeParams, randomCall, TOLERANCE } from './tester.js';

const TOL = 1e-5;
// With algorithm 'auto' the derived convolutions may run Winograd/FFT, whose forward bound is looser.
const AUTO_TOL = Math.max(...Object.values(TOLERANCE));

/** Backend choices to test: native always (skipsBackend says when it skips), the wasm builds this engine runs, js. */
function backends(): BackendChoice[] {
  const a = backendInfo().available;
  const list: BackendChoice[] = ['native'];
  if (a.wasmSimd) list.push('wasm-simd');
  if (a.wasmScalar) list.push('wasm-scalar');
  list.push('js');
  return list;
}

interface Refs {
  gx: Float64Array;
  sx: Float64Array;
  gw: Float64Array;
  sw: Float64Array;
  gb: Float64Array;
  sb: Float64Array;
}

/** Reference gradients for NCHW data. */
function refs(p: ConvParams, x: Float32Array, w: Float32Array, gy: Float32Array): Refs {
  return {
    gx: convGradInputReference(p, gy, w),
    sx: convGradInputReference(p, gy, w, true),
    gw: convGradWeightReference(p, x, gy),
    sw: convGradWeightReference(p, x, gy, true),
    gb: convGradBiasReference(p, gy),
    sb: convGradBiasReference(p, gy, true),
  };
}

function expectClose(label: string, got: ArrayLike<number> | undefined, want: Float64Array, scale: Float64Array, tol = TOL) {
  expect(got, `${label}: missing`).toBeDefined();
  const c = compare(got!, want, scale, tol);
  if (!c.ok) {
    const m = c.mismatches
      .slice(0, 4)
      .map((x) => `[${x.index}] got ${x.got} want ${x.want} S=${x.scale}`)
      .join('; ');
    expect.fail(`${label}: ${c.mismatches.length}/${c.checked} outside ${tol}*S: ${m}`);
  }
}

/** One random backward problem: a random forward call (any layout/options) plus a random gradOutput. */
function randomBackward(rng: Rng) {
  const call = randomCall(rng);
  const yShape = outputShape(call.input.shape, call.weight.shape, call.options);
  const gradOutput: Tensor = { data: rng.floats(yShape.reduce((a, b) => a * b, 1)), shape: yShape };
  const n = normalizeConv(call.dims, call.input, call.weight, call.options);
  const p = n.params;
  const x = n.channelsLast ? channelsLastToFirst(call.input.data, p.N, p.H * p.W, p.C) : call.input.data;
  const gy = n.channelsLast ? channelsLastToFirst(gradOutput.data, p.N, p.OH * p.OW, p.K) : gradOutput.data;
  return { ...call, gradOutput, p, channelsLast: n.channelsLast, x, gy, hasBias: n.bias !== null };
}

/** One random call; 'direct' forces every derived convolution onto a direct/GEMM-accurate path (1e-5 * S). */
function checkRandom(backend: BackendChoice, seed: number, algorithm: 'auto' | 'direct' = 'direct') {
  const rng = new Rng(seed);
  const b = randomBackward(rng);
  const fn = b.dims === 2 ? conv2dBackward : conv1dBackward;
  const got = fn(b.input, b.weight, b.gradOutput, { ...b.options, backend, algorithm, needs: ['input', 'weight', 'bias'] });
  const r = refs(b.p, b.x, b.weight.data, b.gy);
  const tol = algorithm === 'auto' ? AUTO_TOL : TOL;
  const label = `${backend}/${algorithm} seed ${seed} ${b.options.layout} ${describeParams(b.p)}`;
  expect(got.gradInput!.shape, label).toEqual(b.input.shape);
  expect(got.gradWeight!.shape, label).toEqual(b.weight.shape);
  const gx = b.channelsLast ? channelsLastToFirst(got.gradInput!.data, b.p.N, b.p.H * b.p.W, b.p.C) : got.gradInput!.data;
  expectClose(`gradInput ${label}`, gx, r.gx, r.sx, tol);
  expectClose(`gradWeight ${label}`, got.gradWeight!.data, r.gw, r.sw, tol);
  expectClose(`gradBias ${label}`, got.gradBias, r.gb, r.sb, tol);
}

for (const backend of backends()) {
  describe.skipIf(skipsBackend(backend))(backendTestName(backend, `conv backward on '${backend}'`), () => {
    const count = backend === 'js' ? 60 : 250;
    it(`matches the float64 reference on ${count} random calls (groups, stride, dilation, padding forms, NHWC, 1-D)`, () => {
      for (let i = 0; i < count; i++) checkRandom(backend, 1000 + i);
    });

    it(`with algorithm 'auto' (Winograd/FFT allowed inside: ${AUTO_TOL} * S) on ${count} random calls`, () => {
      for (let i = 0; i < count; i++) checkRandom(backend, 1000 + i, 'auto');
    });

    // Each grad-weight formulation on every shape it accepts, not only where the cost rule picks it.
    for (const strategy of ['swap', 'columns', 'taps'] as GradWeightStrategy[]) {
      it(`grad-weight formulation '${strategy}' matches the reference on ${count} random calls`, () => {
        forceGradWeightStrategy(strategy);
        try {
          for (let i = 0; i < count; i++) checkRandom(backend, 3000 + i);
        } finally {
          forceGradWeightStrategy('auto');
        }
      });
    }

    it('matches every PyTorch backward golden case', () => {
      const cases = loadGolden().filter((g) => g.op.endsWith('_backward'));
      expect(cases.length).toBeGreaterThanOrEqual(9);
      for (const g of cases) {
        const fn = g.dims === 2 ? conv2dBackward : conv1dBackward;
        const opts: ConvOptions = { ...g.options, bias: g.bias, backend, algorithm: 'direct' };
        const gyShape = g.outputShape;
        const got = fn(g.input, g.weight, { data: g.gradOutput!, shape: gyShape }, opts);
        const p = normalizeConv(g.dims, g.input, g.weight, opts).params;
        const s = refs(p, g.input.data, g.weight.data, g.gradOutput!);
        expectClose(`${backend} golden ${g.name} gradInput`, got.gradInput!.data, Float64Array.from(g.gradInput!), s.sx);
        expectClose(`${backend} golden ${g.name} gradWeight`, got.gradWeight!.data, Float64Array.from(g.gradWeight!), s.sw);
        if (g.gradBias) expectClose(`${backend} golden ${g.name} gradBias`, got.gradBias, Float64Array.from(g.gradBias), s.sb);
      }
    });

    it('async variants give the same gradients as the sync ones', async () => {
      for (let i = 0; i < 10; i++) {
        const b = randomBackward(new Rng(5000 + i));
        const [sync, asyncFn] = b.dims === 2 ? [conv2dBackward, conv2dBackwardAsync] : [conv1dBackward, conv1dBackwardAsync];
        const opts = { ...b.options, backend, needs: ['input', 'weight', 'bias'] as const };
        const want = sync(b.input, b.weight, b.gradOutput, opts);
        const got = await asyncFn(b.input, b.weight, b.gradOutput, opts);
        expect(got.gradInput!.data).toEqual(want.gradInput!.data);
        expect(got.gradWeight!.data).toEqual(want.gradWeight!.data);
        expect(got.gradBias).toEqual(want.gradBias);
      }
    });
  });
}

describe('conv backward on every native ISA path', () => {
  const nativePaths = allPaths().filter((q) => q.backend.name === 'native');
  it('covers the native paths this machine has', () => expect(nativePaths.length > 0).toBe(expectNative));
  for (const path of nativePaths) {
    it(`${path.label}: 120 random calls match the reference`, () => {
      path.enter();
      try {
        for (let i = 0; i < 120; i++) checkRandom('native', 7000 + i);
      } finally {
        restoreNativeIsa();
      }
    });
  }
});

describe('conv backward against finite differences of the float64 forward', () => {
  // The loss L = sum(conv(x, w) * gy) is linear in x, w and b, so central differences are exact up to
  // float64 rounding: any disagreement beyond 1e-5 * S is a wrong gradient, not a numerical artefact.
  it('every input, weight and bias coordinate on small cases', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const rng = new Rng(seed * 7919);
      const b = randomBackward(rng);
      if (b.x.length > 400 || b.weight.data.length > 200) continue;
      const p = { ...b.p, relu: false };
      const loss = (x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null) =>
        convReference(p, x, w, bias).reduce((acc, y, i) => acc + y * b.gy[i], 0);
      const bias = Float64Array.from(b.options.bias ?? new Float32Array(p.K));
      const x64 = Float64Array.from(b.x),
        w64 = Float64Array.from(b.weight.data);
      const fd = (arr: Float64Array, i: number) => {
        const h = 0.5,
          keep = arr[i];
        arr[i] = keep + h;
        const up = loss(x64, w64, bias);
        arr[i] = keep - h;
        const down = loss(x64, w64, bias);
        arr[i] = keep;
        return (up - down) / (2 * h);
      };
      const got = (b.dims === 2 ? conv2dBackward : conv1dBackward)(b.input, b.weight, b.gradOutput, {
        ...b.options,
        backend: 'js',
        needs: ['input', 'weight', 'bias'],
      });
      const r = refs(p, b.x, b.weight.data, b.gy);
      const gx = b.channelsLast ? channelsLastToFirst(got.gradInput!.data, p.N, p.H * p.W, p.C) : got.gradInput!.data;
      const label = `seed ${seed * 7919} ${describeParams(p)}`;
      expectClose(
        `fd gradInput ${label}`,
        gx,
        Float64Array.from(x64, (_, i) => fd(x64, i)),
        r.sx
      );
      expectClose(
        `fd gradWeight ${label}`,
        got.gradWeight!.data,
        Float64Array.from(w64, (_, i) => fd(w64, i)),
        r.sw
      );
      expectClose(
        `fd gradBias ${label}`,
        got.gradBias,
        Float64Array.from(bias, (_, i) => fd(bias, i)),
        r.sb
      );
    }
  });
});

describe('conv backward options and errors', () => {
  const x: Tensor = { data: new Rng(3).floats(2 * 3 * 6 * 6), shape: [2, 3, 6, 6] };
  const w: Tensor = { data: new Rng(4).floats(4 * 3 * 3 * 3), shape: [4, 3, 3, 3] };
  const gy: Tensor = { data: new Rng(5).floats(2 * 4 * 4 * 4), shape: [2, 4, 4, 4] };

  it('computes only what `needs` asks for; bias by default only when the call has a bias', () => {
    expect(Object.keys(conv2dBackward(x, w, gy)).sort()).toEqual(['gradInput', 'gradWeight']);
    expect(Object.keys(conv2dBackward(x, w, gy, { bias: new Float32Array(4) })).sort()).toEqual([
      'gradBias',
      'gradInput',
      'gradWeight',
    ]);
    expect(Object.keys(conv2dBackward(x, w, gy, { needs: ['weight'] }))).toEqual(['gradWeight']);
    expect(Object.keys(conv2dBackward(x, w, gy, { needs: ['bias'] }))).toEqual(['gradBias']);
  });

  it('handles padding wider than the dilated kernel (grad-input crops the spread gradOutput)', () => {
    for (const [k, pad, stride] of [
      [1, 2, 1],
      [1, [3, 1, 0, 2], 1],
      [2, 3, 2],
      [3, [4, 0, 1, 5], 3],
    ] as const) {
      const wk: Tensor = { data: new Rng(6).floats(4 * 3 * k * k), shape: [4, 3, k, k] };
      const opts: ConvOptions = { padding: pad as ConvOptions['padding'], stride, backend: 'js' };
      const ys = outputShape(x.shape, wk.shape, opts);
      const g: Tensor = { data: new Rng(8).floats(ys.reduce((a, b) => a * b, 1)), shape: ys };
      const got = conv2dBackward(x, wk, g, opts);
      const p = normalizeConv(2, x, wk, opts).params;
      const r = refs(p, x.data, wk.data, g.data);
      expectClose(`k${k} pad ${pad} gradInput`, got.gradInput!.data, r.gx, r.sx);
      expectClose(`k${k} pad ${pad} gradWeight`, got.gradWeight!.data, r.gw, r.sw);
    }
  });

  it('ignores a fused ReLU (the caller passes the gradient after the ReLU mask)', () => {
    const a = conv2dBackward(x, w, gy, { activation: 'relu', backend: 'js' });
    const b = conv2dBackward(x, w, gy, { backend: 'js' });
    expect(a.gradInput!.data).toEqual(b.gradInput!.data);
  });

  it('rejects a gradOutput of the wrong shape, naming it', () => {
    expect(() => conv2dBackward(x, w, { data: new Float32Array(2 * 4 * 5 * 5), shape: [2, 4, 5, 5] })).toThrow(RangeError);
    expect(() => conv2dBackward(x, w, { data: new Float32Array(2 * 4 * 5 * 5), shape: [2, 4, 5, 5] })).toThrow(/gradOutput/);
    expect(() => conv2dBackward(x, w, { data: new Float32Array(3), shape: [2, 4, 4, 4] })).toThrow(/gradOutput/);
    expect(() =>
      conv1dBackward(
        { data: new Float32Array(6), shape: [1, 1, 6] },
        { data: new Float32Array(3), shape: [1, 1, 3] },
        { data: new Float32Array(5), shape: [1, 1, 5] }
      )
    ).toThrow(/gradOutput/);
  });

  it('rejects bad `needs`, unknown options and `out`', () => {
    expect(() => conv2dBackward(x, w, gy, { needs: ['inputs' as 'input'] })).toThrow(/needs/);
    expect(() => conv2dBackward(x, w, gy, { nedds: ['input'] } as object)).toThrow(/nedds/);
    expect(() => conv2dBackward(x, w, gy, { out: new Float32Array(1000) } as object)).toThrow(/out/);
  });

  it('async variants reject instead of throwing', async () => {
    await expect(conv2dBackwardAsync(x, w, { data: new Float32Array(1), shape: [1, 1, 1, 1] })).rejects.toThrow(/gradOutput/);
  });

  it('channels-last gradients equal the NCHW ones transposed', () => {
    const opts: ConvOptions = { backend: 'js', padding: [1, 0, 2, 1], stride: 2 };
    const ys = outputShape(x.shape, w.shape, opts);
    const g: Tensor = { data: new Rng(9).floats(ys.reduce((s, v) => s * v, 1)), shape: ys };
    const nchw = conv2dBackward(x, w, g, opts);
    const xl = { data: channelsFirstToLast(x.data, 2, 3, 36), shape: [2, 6, 6, 3] };
    const gl = { data: channelsFirstToLast(g.data, 2, 4, ys[2] * ys[3]), shape: [2, ys[2], ys[3], 4] };
    const nhwc = conv2dBackward(xl, w, gl, { ...opts, layout: 'NHWC' });
    expect(nhwc.gradInput!.shape).toEqual([2, 6, 6, 3]);
    expect(channelsLastToFirst(nhwc.gradInput!.data, 2, 36, 3)).toEqual(nchw.gradInput!.data);
    expect(nhwc.gradWeight!.data).toEqual(nchw.gradWeight!.data);
  });
});
