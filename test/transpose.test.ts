// Transposed convolution on every backend choice: PyTorch's vectors (test/golden-extra, gen.py) and random
// calls against the float64 scatter reference, tolerance 1e-5 * convTranspose(|x|, |w|) + |b|.

import { describe, expect, it } from 'vitest';
import type { BackendChoice, ConvTransposeOptions, Tensor } from '../src/index.node.js';
import { backendInfo, convTranspose1d, convTranspose1dAsync, convTranspose2d, convTranspose2dAsync } from '../src/index.node.js';
import { channelsFirstToLast, channelsLastToFirst } from '../src/layout.js';
import { convTransposeReference } from '../src/reference/backward.js';
import type { TransposeParams } from '../src/transpose.js';
import { loadExtra } from './golden-extra/load.js';
import { backendTestName, skipsBackend } from './paths.js';
import { Rng } from './random.js';
import { compare, TOLERANCE } from './tester.js';

const TOL = 1e-5;
// With algorithm 'auto' the derived convolutions may run Winograd/FFT, whose forward bound is looser.
const AUTO_TOL = Math.max(...Object.values(TOLERANCE));

/** Backend choices to test: native always (skipsBackend says when it skips), the wasm builds this engine runs, js. */
function backends(): BackendChoice[] {
  const a = backendInfo().available;
  return ['native', ...(a.wasmSimd ? ['wasm-simd' as const] : []), ...(a.wasmScalar ? ['wasm-scalar' as const] : []), 'js'];
}

interface Call {
  dims: 1 | 2;
  input: Tensor;
  weight: Tensor;
  options: ConvTransposeOptions;
  t: TransposeParams;
}

/** The canonical params of a call, derived here independently of src/transpose.ts's normalization. */
function params(
  dims: 1 | 2,
  xs: number[],
  ws: number[],
  o: { stride: number[]; pads: number[][]; outPad: number[]; dilation: number[]; groups: number }
): TransposeParams {
  const spatial = xs.slice(2),
    kernel = ws.slice(2);
  const out = spatial.map(
    (n, i) => (n - 1) * o.stride[i] - o.pads[i][0] - o.pads[i][1] + o.dilation[i] * (kernel[i] - 1) + o.outPad[i] + 1
  );
  const two = (a: number[], d: number) => (dims === 2 ? a : [d, a[0]]);
  const [H, W] = two(spatial, 1),
    [R, S] = two(kernel, 1),
    [OH, OW] = two(out, 1);
  const [strideH, strideW] = two(o.stride, 1),
    [dilationH, dilationW] = two(o.dilation, 1),
    [outPadH, outPadW] = two(o.outPad, 0);
  const [[padTop, padBottom], [padLeft, padRight]] = dims === 2 ? o.pads : [[0, 0], o.pads[0]];
  return {
    N: xs[0],
    C: xs[1],
    H,
    W,
    K: ws[1] * o.groups,
    R,
    S,
    groups: o.groups,
    strideH,
    strideW,
    dilationH,
    dilationW,
    padTop,
    padBottom,
    padLeft,
    padRight,
    outPadH,
    outPadW,
    OH,
    OW,
  };
}

function randomCall(rng: Rng): Call {
  for (;;) {
    const dims: 1 | 2 = rng.chance(0.3) ? 1 : 2;
    const groups = rng.pick([1, 1, 1, 2, 3]);
    const depthwise = groups > 1 && rng.chance(0.4);
    const Cg = depthwise ? 1 : rng.int(1, 6),
      Kg = depthwise ? rng.pick([1, 2]) : rng.int(1, 6);
    const C = Cg * groups,
      N = rng.pick([1, 1, 2, 3]);
    const kernel = Array.from({ length: dims }, () => rng.pick([1, 2, 3, 3, 4, 5]));
    const stride = kernel.map(() => rng.pick([1, 1, 2, 3]));
    const dilation = kernel.map(() => rng.pick([1, 1, 1, 2, 3]));
    const pads = kernel.map(() => (rng.chance(0.5) ? [0, 0] : [rng.int(0, 4), rng.int(0, 4)]));
    const outPad = kernel.map((_, i) => rng.int(0, Math.max(stride[i], dilation[i]) - 1));
    const spatial = kernel.map(() => rng.int(1, 9));
    const xs = [N, C, ...spatial],
      ws = [C, Kg, ...kernel];
    const t = params(dims, xs, ws, { stride, pads, outPad, dilation, groups });
    if (t.OH < 1 || t.OW < 1) continue;
    const symmetric = pads.every(([a, b]) => a === b);
    const padding = symmetric && rng.chance(0.5) ? pads.map(([a]) => a) : pads.flat();
    const input = { data: rng.floats(xs.reduce((a, b) => a * b, 1)), shape: xs };
    const weight = { data: rng.floats(ws.reduce((a, b) => a * b, 1)), shape: ws };
    const options: ConvTransposeOptions = { stride, padding, outputPadding: outPad, dilation, groups };
    if (rng.chance(0.6)) options.bias = rng.floats(Kg * groups);
    return { dims, input, weight, options, t };
  }
}

function expectClose(label: string, got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>, tol = TOL) {
  const c = compare(got, want, scale, tol);
  if (!c.ok) {
    const m = c.mismatches
      .slice(0, 4)
      .map((x) => `[${x.index}] got ${x.got} want ${x.want} S=${x.scale}`)
      .join('; ');
    expect.fail(`${label}: ${c.mismatches.length}/${c.checked} outside ${tol}*S: ${m}`);
  }
}

const transpose = (dims: 1 | 2) => (dims === 2 ? convTranspose2d : convTranspose1d);

for (const backend of backends()) {
  describe.skipIf(skipsBackend(backend))(backendTestName(backend, `convTranspose on '${backend}'`), () => {
    it('matches PyTorch (stride, padding, outputPadding, dilation, groups, 1-D)', () => {
      const cases = loadExtra('conv_transpose');
      expect(cases.length).toBeGreaterThanOrEqual(10);
      for (const g of cases) {
        const dims = g.op === 'conv_transpose2d' ? 2 : 1;
        const input = { data: g.input, shape: g.input_shape },
          weight = { data: g.weight, shape: g.weight_shape };
        const options = {
          stride: g.stride,
          padding: g.padding,
          outputPadding: g.output_padding,
          dilation: g.dilation,
          groups: g.groups,
          bias: g.bias,
          backend,
          algorithm: 'direct' as const,
        };
        const y = transpose(dims)(input, weight, options);
        expect(y.shape, g.name).toEqual(g.output_shape);
        const t = params(dims, g.input_shape, g.weight_shape, {
          stride: g.stride,
          dilation: g.dilation,
          groups: g.groups,
          pads: g.padding.map((p: number) => [p, p]),
          outPad: g.output_padding,
        });
        expectClose(`${backend} ${g.name}`, y.data, g.output, convTransposeReference(t, g.input, g.weight, g.bias, true));
      }
    });

    const count = backend === 'js' ? 60 : 300;
    for (const algorithm of ['direct', 'auto'] as const) {
      const tol = algorithm === 'auto' ? AUTO_TOL : TOL;
      it(`matches the float64 reference on ${count} random calls, algorithm '${algorithm}' (${tol} * S)`, () => {
        const rng = new Rng(77);
        for (let i = 0; i < count; i++) {
          const c = randomCall(rng);
          const y = transpose(c.dims)(c.input, c.weight, { ...c.options, backend, algorithm });
          const want = convTransposeReference(c.t, c.input.data, c.weight.data, c.options.bias ?? null);
          const S = convTransposeReference(c.t, c.input.data, c.weight.data, c.options.bias ?? null, true);
          expectClose(
            `${backend} call ${i} ${JSON.stringify({ ...c.options, bias: !!c.options.bias })} ${c.input.shape} w ${c.weight.shape}`,
            y.data,
            want,
            S,
            tol
          );
        }
      });
    }

    it('channels-last and async give the same result', async () => {
      const rng = new Rng(99);
      for (let i = 0; i < 10; i++) {
        const c = randomCall(rng);
        const opts = { ...c.options, backend };
        const want = transpose(c.dims)(c.input, c.weight, opts);
        const got = await (c.dims === 2 ? convTranspose2dAsync : convTranspose1dAsync)(c.input, c.weight, opts);
        expect(got.data).toEqual(want.data);
        const { N, C, H, W, K, OH, OW } = c.t;
        const xl = { data: channelsFirstToLast(c.input.data, N, C, H * W), shape: [N, ...c.input.shape.slice(2), C] };
        const yl = transpose(c.dims)(xl, c.weight, { ...opts, layout: c.dims === 2 ? 'NHWC' : 'NWC' });
        expect(yl.shape).toEqual([N, ...want.shape.slice(2), K]);
        expect(channelsLastToFirst(yl.data, N, OH * OW, K)).toEqual(want.data);
      }
    });
  });
}

describe('convTranspose argument errors', () => {
  const x = { data: new Float32Array(2 * 4 * 4), shape: [1, 2, 4, 4] };
  const w = { data: new Float32Array(2 * 3 * 9), shape: [2, 3, 3, 3] };
  it('rejects an outputPadding not smaller than stride or dilation (as PyTorch does)', () => {
    expect(() => convTranspose2d(x, w, { stride: 2, outputPadding: 2 })).toThrow(/outputPadding/);
    expect(() => convTranspose2d(x, w, { stride: 2, outputPadding: 1 })).not.toThrow();
    expect(() => convTranspose2d(x, w, { stride: 1, dilation: 2, outputPadding: 1 })).not.toThrow();
  });
  it('rejects a weight whose first dimension is not the input channels, a bias of the wrong size, unknown options', () => {
    expect(() => convTranspose2d(x, { data: new Float32Array(27), shape: [1, 3, 3, 3] })).toThrow(/weight.shape\[0\]/);
    expect(() => convTranspose2d(x, w, { bias: new Float32Array(2) })).toThrow(/bias/);
    expect(() => convTranspose2d(x, w, { output_padding: 1 } as object)).toThrow(/output_padding/);
    expect(() => convTranspose2d(x, w, { padding: 5 })).toThrow(/output size/);
  });
  it('async variants reject instead of throwing', async () => {
    await expect(convTranspose2dAsync(x, w, { stride: 2, outputPadding: 3 })).rejects.toThrow(/outputPadding/);
  });
});
