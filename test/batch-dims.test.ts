// The batch dimension as PyTorch treats it. Unbatched inputs: conv2d on [C, H, W], conv1d on [C, W]
// (and the transposed convolutions likewise) return the output without its batch dimension; checked
// with PyTorch's vectors (test/golden-extra, gen.py: forward, and the gradients of the convolutions) on
// every backend choice, the layers, channels-last, and against the batch-of-one call. Empty batches
// (N = 0) give empty outputs (convolutions, transposed convolutions, pooling) and zero weight/bias
// gradients; every other empty dimension stays an error.

import { describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { BackendChoice, ConvOptions, Tensor } from '../src/index.node.js';
import {
  avgPool2d,
  avgPool2dBackward,
  backendInfo,
  Conv1d,
  Conv2d,
  conv1d,
  conv1dAsync,
  conv1dBackward,
  conv2d,
  conv2dAsync,
  conv2dBackward,
  conv2dBackwardAsync,
  convTranspose1d,
  convTranspose2d,
  explain,
  maxPool2d,
  maxPool2dBackward,
  outputShape,
} from '../src/index.node.js';
import { channelsFirstToLast } from '../src/layout.js';
import { normalizeConv } from '../src/shape.js';
import type { ExtraCase } from './golden-extra/load.js';
import { loadExtra } from './golden-extra/load.js';
import { backendTestName, skipsBackend } from './paths.js';
import { compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, TOLERANCE } from './tester.js';

const cases = loadExtra('unbatched_');
const convCases = cases.filter((c) => !c.op.includes('transpose'));
const dimsOf = (c: ExtraCase): 1 | 2 => (c.op.endsWith('1d') ? 1 : 2);
const tensors = (c: ExtraCase): [Tensor, Tensor] => [
  { data: c.input, shape: c.input_shape },
  { data: c.weight, shape: c.weight_shape },
];
const batched = (t: Tensor): Tensor => ({ data: t.data, shape: [1, ...t.shape] });

/** Backend choices to test: native always (skipsBackend says when it skips), the wasm builds this engine runs, js. */
function backends(): BackendChoice[] {
  const a = backendInfo().available;
  return [
    'auto',
    'native',
    ...(a.wasmSimd ? ['wasm-simd' as const] : []),
    ...(a.wasmScalar ? ['wasm-scalar' as const] : []),
    'js',
  ];
}

/** Normwise check for the gradients: each is a float32 sum of at most a few hundred products of values in [-1, 1). */
function expectNear(label: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, label).toBe(want.length);
  let scale = 0,
    err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  expect(err, label).toBeLessThanOrEqual(1e-5 * (1 + scale));
}

describe('unbatched golden set', () => {
  it('is loaded: conv1d, conv2d and both transposed convolutions, gradients for the convolutions', () => {
    expect(new Set(cases.map((c) => c.op))).toEqual(
      new Set(['unbatched_conv1d', 'unbatched_conv2d', 'unbatched_conv_transpose1d', 'unbatched_conv_transpose2d'])
    );
    for (const c of convCases) expect(c.grad_weight, c.name).toBeInstanceOf(Float32Array);
  });

  it("outputShape gives PyTorch's unbatched shapes", () => {
    for (const c of convCases) expect(outputShape(c.input_shape, c.weight_shape, c.options), c.name).toEqual(c.output_shape);
    // An unbatched conv2d input has a batched conv1d input's rank: the weight's rank decides.
    expect(outputShape([3, 10, 12], [4, 3, 3, 3])).toEqual([4, 8, 10]);
    expect(outputShape([3, 10, 12], [4, 10, 3])).toEqual([3, 4, 10]);
    expect(outputShape([5, 9], [2, 5, 3], { padding: 'same' })).toEqual([2, 9]);
  });
});

for (const backend of backends()) {
  describe.skipIf(skipsBackend(backend))(backendTestName(backend, `unbatched on backend '${backend}'`), () => {
    it("forward: PyTorch's values within the algorithm's tolerance, and the batch-of-one call's exact numbers", () => {
      for (const c of convCases) {
        const [x, w] = tensors(c);
        const opts: ConvOptions = { ...c.options, bias: c.bias, backend };
        const conv = dimsOf(c) === 2 ? conv2d : conv1d;
        const y = conv(x, w, opts);
        expect(y.shape, c.name).toEqual(c.output_shape);
        const n = normalizeConv(dimsOf(c), x, w, opts);
        expect(n.params.N).toBe(1);
        const S = convReference(n.params, x.data, w.data, n.bias, true);
        const algo = explain(x, w, opts).algorithm;
        const cmp = compare(
          y.data,
          c.output,
          S,
          TOLERANCE[algo],
          planeSlack(S, n.params.OH * n.params.OW, NORMWISE_TOLERANCE[algo])
        );
        if (!cmp.ok) expect.fail(formatFailure(`${backend}/${algo} ${c.name}`, n.params, cmp));
        const yb = conv(batched(x), w, opts);
        expect(yb.shape).toEqual([1, ...c.output_shape]);
        expect(y.data).toEqual(yb.data);
      }
    });

    it('async forward matches the sync one', async () => {
      for (const c of convCases) {
        const [x, w] = tensors(c);
        const opts: ConvOptions = { ...c.options, bias: c.bias, backend };
        const y = await (dimsOf(c) === 2 ? conv2dAsync : conv1dAsync)(x, w, opts);
        expect(y.shape, c.name).toEqual(c.output_shape);
        expect(y.data).toEqual((dimsOf(c) === 2 ? conv2d : conv1d)(x, w, opts).data);
      }
    });

    it("backward: PyTorch's grad input, grad weight and grad bias", () => {
      for (const c of convCases) {
        const [x, w] = tensors(c);
        const g = (dimsOf(c) === 2 ? conv2dBackward : conv1dBackward)(
          x,
          w,
          { data: c.grad_output, shape: c.output_shape },
          { ...c.options, bias: c.bias, backend }
        );
        expect(g.gradInput!.shape, c.name).toEqual(c.input_shape);
        expectNear(`${c.name} grad input`, g.gradInput!.data, c.grad_input);
        expectNear(`${c.name} grad weight`, g.gradWeight!.data, c.grad_weight);
        expectNear(`${c.name} grad bias`, g.gradBias!, c.grad_bias);
      }
    });

    it("transposed convolutions: PyTorch's values", () => {
      for (const c of cases.filter((k) => k.op.includes('transpose'))) {
        const [x, w] = tensors(c);
        const y = (dimsOf(c) === 2 ? convTranspose2d : convTranspose1d)(x, w, {
          stride: c.options.stride,
          padding: c.options.padding,
          outputPadding: c.options.output_padding,
          groups: c.options.groups,
          bias: c.bias,
          backend,
        });
        expect(y.shape, c.name).toEqual(c.output_shape);
        expectNear(c.name, y.data, c.output);
      }
    });
  });
}

describe('unbatched layers and layouts', () => {
  it('Conv2d/Conv1d forward and backward on one sample match the batch of one', () => {
    for (const [Layer, dims, shape] of [
      [Conv2d, 2, [3, 9, 7]],
      [Conv1d, 1, [3, 21]],
    ] as const) {
      const layer = new Layer({ inChannels: 3, outChannels: 5, kernelSize: 3, padding: 1, seed: 4, activation: 'relu' });
      const x = {
        data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)),
        shape: [...shape],
      };
      const y = layer.forward(x);
      expect(y.shape).toEqual([5, ...shape.slice(1)]);
      const gy = { data: Float32Array.from(y.data, (_, i) => Math.cos(i)), shape: y.shape };
      const g = layer.backward(gy);
      expect(g.gradInput!.shape).toEqual(shape);
      const yb = layer.forward(batched(x));
      expect(yb.data).toEqual(y.data);
      const gb = layer.backward(batched(gy));
      expect(g.gradInput!.data).toEqual(gb.gradInput!.data);
      expect(g.gradWeight!.data).toEqual(gb.gradWeight!.data);
      expect(dims).toBe(shape.length - 1);
    }
  });

  it('channels-last: [H, W, C] and [W, C]', () => {
    for (const c of convCases) {
      const [x, w] = tensors(c);
      const dims = dimsOf(c);
      const C = c.input_shape[0],
        spatial = c.input_shape.slice(1);
      const xl = {
        data: channelsFirstToLast(
          x.data,
          1,
          C,
          spatial.reduce((a: number, b: number) => a * b, 1)
        ),
        shape: [...spatial, C],
      };
      const conv = dims === 2 ? conv2d : conv1d;
      const opts = { ...c.options, bias: c.bias, backend: 'js' as const };
      const y = conv(x, w, opts);
      const yl = conv(xl, w, { ...opts, layout: dims === 2 ? ('NHWC' as const) : ('NWC' as const) });
      const K = c.output_shape[0],
        out = c.output_shape.slice(1);
      expect(yl.shape, c.name).toEqual([...out, K]);
      expect(yl.data).toEqual(
        channelsFirstToLast(
          y.data,
          1,
          K,
          out.reduce((a: number, b: number) => a * b, 1)
        )
      );
    }
  });

  it('other ranks are still a RangeError naming input.shape and both accepted ranks', () => {
    const w2 = { data: new Float32Array(2 * 3 * 9), shape: [2, 3, 3, 3] };
    const w1 = { data: new Float32Array(2 * 3 * 3), shape: [2, 3, 3] };
    expect(() => conv2d({ data: new Float32Array(27), shape: [3, 9] }, w2)).toThrow(
      /input\.shape must have rank 4.*or 3, unbatched.*rank 2/
    );
    expect(() => conv1d({ data: new Float32Array(27), shape: [1, 1, 3, 9] }, w1)).toThrow(RangeError);
    expect(() => conv1d({ data: new Float32Array(27), shape: [1, 1, 3, 9] }, w1)).toThrow(
      /input\.shape must have rank 3.*or 2, unbatched.*rank 4/
    );
    expect(() => conv2d({ data: new Float32Array(36), shape: [4, 3, 3] }, w2)).toThrow(/weight\.shape\[1\].*C\/groups/);
  });
});

describe('empty batch (N = 0)', () => {
  const empty = (shape: number[]): Tensor => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
  const w = { data: Float32Array.from({ length: 2 * 3 * 9 }, (_, i) => i / 7 - 2), shape: [2, 3, 3, 3] };

  for (const backend of backends()) {
    it.skipIf(skipsBackend(backend))(
      backendTestName(
        backend,
        `backend '${backend}': empty outputs in every layout, sync and async; zero weight and bias gradients`
      ),
      async () => {
        expect(outputShape([0, 3, 5, 5], w.shape, { padding: 1 })).toEqual([0, 2, 5, 5]);
        const y = conv2d(empty([0, 3, 5, 5]), w, { backend, padding: 1, bias: new Float32Array([1, 2]) });
        expect(y.shape).toEqual([0, 2, 5, 5]);
        expect(y.data.length).toBe(0);
        expect((await conv2dAsync(empty([0, 3, 6, 5]), w, { backend, tune: true })).shape).toEqual([0, 2, 4, 3]);
        expect(conv2d(empty([0, 6, 5, 3]), w, { backend, layout: 'NHWC', stride: 2 }).shape).toEqual([0, 2, 2, 2]);
        expect(
          conv1d(empty([0, 3, 9]), { data: new Float32Array(24), shape: [4, 3, 2] }, { backend, dilation: 2 }).shape
        ).toEqual([0, 4, 7]);
        expect(
          convTranspose2d(empty([0, 3, 5, 5]), { data: new Float32Array(54), shape: [3, 2, 3, 3] }, { backend, stride: 2 }).shape
        ).toEqual([0, 2, 11, 11]);
        for (const g of [
          conv2dBackward(empty([0, 3, 5, 5]), w, empty([0, 2, 3, 3]), { backend, bias: new Float32Array(2) }),
          await conv2dBackwardAsync(empty([0, 3, 5, 5]), w, empty([0, 2, 3, 3]), { backend, bias: new Float32Array(2) }),
        ]) {
          expect(g.gradInput!.shape).toEqual([0, 3, 5, 5]);
          expect(g.gradInput!.data.length).toBe(0);
          expect(g.gradWeight!.shape).toEqual([2, 3, 3, 3]);
          expect(Array.from(g.gradWeight!.data)).toEqual(new Array(54).fill(0));
          expect(Array.from(g.gradBias!)).toEqual([0, 0]);
        }
      }
    );
  }

  it('a layer runs an empty batch and accumulates no gradient', () => {
    const layer = new Conv2d({ inChannels: 3, outChannels: 2, kernelSize: 3, activation: 'relu', seed: 1 });
    expect(layer.forward(empty([0, 3, 5, 5])).shape).toEqual([0, 2, 3, 3]);
    const g = layer.backward(empty([0, 2, 3, 3]));
    expect(g.gradInput!.shape).toEqual([0, 3, 5, 5]);
    expect(layer.weight.grad.every((v) => v === 0)).toBe(true);
  });

  it('pooling: empty outputs, indices and input gradients in both layouts', () => {
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const xs = layout === 'NCHW' ? [0, 3, 8, 8] : [0, 8, 8, 3],
        ys = layout === 'NCHW' ? [0, 3, 4, 4] : [0, 4, 4, 3];
      const r = maxPool2d(empty(xs), { kernelSize: 2, returnIndices: true, layout });
      expect([r.output.shape, r.indices.shape, r.output.data.length]).toEqual([ys, ys, 0]);
      expect(avgPool2d(empty(xs), { kernelSize: 2, layout }).shape).toEqual(ys);
      expect(maxPool2dBackward(empty(ys), empty(xs), { kernelSize: 2, indices: r.indices, layout }).shape).toEqual(xs);
      expect(avgPool2dBackward(empty(ys), empty(xs), { kernelSize: 2, layout }).shape).toEqual(xs);
    }
  });

  it('only the batch may be empty, and only when there is one', () => {
    expect(() => conv2d(empty([1, 0, 5, 5]), w)).toThrow(/input\.shape\[1\] must be an integer >= 1, got 0/);
    expect(() => conv2d(empty([0, 3, 0, 5]), w)).toThrow(/input\.shape\[2\] must be an integer >= 1, got 0/);
    expect(() => conv2d(empty([0, 5, 5]), w)).toThrow(/input\.shape\[0\] must be an integer >= 1, got 0/);
    expect(() => conv2d(empty([2, 3, 5, 5]), { data: new Float32Array(0), shape: [0, 3, 3, 3] })).toThrow(/weight\.shape\[0\]/);
  });
});
