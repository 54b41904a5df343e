// The TF.js backend 'fastconv' (src/tfjs) against tfjs-backend-cpu: every kernel it registers, through
// TF.js's public ops (forward, and tf.grads for the backprop kernels), on randomized attributes (every pad
// form, strides, dilations, NHWC/NCHW, fused activations, batch 0-3, odd sizes, depthwise multipliers),
// on fastconv's native and wasm engines. Values agree within 1e-4 of the output's magnitude; NaN and ±Inf
// positions exactly. kernelCounts shows the fast path ran, not the cpu fallback.

// The union package: tfjs-core's Node build registers no gradients, @tensorflow/tfjs does.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendInfo, setBackend } from '../src/index.node.js';
import type { PendingConv } from '../src/tfjs/deferred.js';
import { BACKEND_NAME, FASTCONV_KERNEL_NAMES, FastconvBackend } from '../src/tfjs/index.node.js';
import { kernelCounts } from '../src/tfjs/kernels.js';
import { matmulCounts } from '../src/tfjs/matmul.js';
import { poolCounts } from '../src/tfjs/pool.js';
import { Rng } from './random.js';

tf.env().set('IS_TEST', true); // no console advice from TF.js

// Wasm always loads in Node; the addon may not have built (CI's no-native leg runs without it).
const { available } = backendInfo();
const ENGINES = [...(available.native ? ['native' as const] : []), 'wasm' as const];
const REL = 1e-4;
// Per kernel and engine: random attribute sets through the forward ops, and through tf.grads.
const FORWARD_CASES = 500,
  GRAD_CASES = 300;

type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  N: number;
  H: number;
  W: number;
  C: number;
  K: number;
  R: number;
  S: number;
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat: 'NHWC' | 'NCHW';
  /** Depthwise multiplier (K is then C * M). */
  M: number;
  activation: 'linear' | 'relu' | 'relu6' | 'prelu' | 'leakyrelu' | 'elu' | 'sigmoid';
  bias: 'none' | 'vector' | 'scalar';
  special: boolean;
}

function randomCase(rng: Rng, o: { depthwise: boolean; grad: boolean; nchw: boolean }): Case {
  const C = rng.int(1, 5),
    M = rng.int(1, 3);
  const K = o.depthwise ? C * M : rng.int(1, 6);
  const R = rng.int(1, 4),
    S = rng.int(1, 4);
  // TF.js ops take stride > 1 or dilation > 1, not both; its gradients take dilation 1 only.
  const dilated = !o.grad && rng.chance(0.3);
  const strides: [number, number] = dilated ? [1, 1] : [rng.int(1, 3), rng.int(1, 3)];
  const dilations: [number, number] = dilated ? [rng.int(1, 3), rng.int(1, 3)] : [1, 1];
  const dataFormat = o.nchw && rng.chance(0.5) ? 'NCHW' : 'NHWC';
  const H = rng.int(1, 9) + (R - 1) * dilations[0],
    W = rng.int(1, 9) + (S - 1) * dilations[1];
  const kind = rng.int(0, 3);
  let pad: Pad;
  let dimRoundingMode: Case['dimRoundingMode'];
  if (kind === 0) pad = 'valid';
  else if (kind === 1) pad = 'same';
  else if (kind === 2) pad = rng.int(0, 2);
  else {
    const p = () => [rng.int(0, 2), rng.int(0, 2)] as [number, number];
    pad = dataFormat === 'NHWC' ? [[0, 0], p(), p(), [0, 0]] : [[0, 0], [0, 0], p(), p()];
  }
  if (typeof pad !== 'string' && rng.chance(0.5)) dimRoundingMode = rng.pick(['floor', 'round', 'ceil'] as const);
  return {
    N: rng.pick([0, 1, 1, 2, 3]),
    H,
    W,
    C,
    K,
    R,
    S,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    dataFormat,
    M,
    activation: rng.pick(['linear', 'relu', 'relu6', 'prelu', 'leakyrelu', 'elu', 'sigmoid'] as const),
    bias: rng.pick(['none', 'vector', 'vector', 'scalar'] as const),
    special: rng.chance(0.1),
  };
}

/** Random data, with a few NaN/±Inf in special cases. */
function data(rng: Rng, n: number, special: boolean): Float32Array {
  const a = rng.floats(n);
  if (special && n > 0) for (let i = 0; i < 2; i++) a[rng.int(0, n - 1)] = rng.pick([NaN, Infinity, -Infinity]);
  return a;
}

/** Every element: NaN where the reference has NaN, the same infinity, else within REL of the reference's magnitude. */
function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let scale = 0;
  for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const tol = REL * Math.max(scale, 1e-6);
  for (let i = 0; i < want.length; i++) {
    const a = got[i],
      b = want[i];
    if (Number.isNaN(b) || !Number.isFinite(b)) {
      if (!Object.is(a, b)) throw new Error(`${what}: element ${i} is ${a}, TF.js cpu gives ${b}`);
    } else if (!(Math.abs(a - b) <= tol)) {
      throw new Error(`${what}: element ${i} is ${a}, TF.js cpu gives ${b} (tolerance ${tol})`);
    }
  }
}

/** Runs `f` on a backend with fresh tensors; returns the outputs' data, or the error message. */
async function on(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[] | string> {
  await tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => t.dataSync() as Float32Array);
    });
  } catch (e) {
    return (e as Error).message;
  }
}

async function compare(what: string, f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const want = await on('cpu', f);
  const got = await on(BACKEND_NAME, f);
  if (typeof want === 'string' || typeof got === 'string') {
    expect(got, `${what}: errors`).toEqual(want);
    return;
  }
  for (let i = 0; i < want.length; i++) expectClose(got[i], want[i], `${what} output ${i}`);
}

const nhwcToNchw = (t: tf.Tensor4D) => tf.transpose(t, [0, 3, 1, 2]);
const nchwToNhwc = (t: tf.Tensor4D) => tf.transpose(t, [0, 2, 3, 1]);

function counts(): Record<string, number> {
  return { ...kernelCounts.fastconv };
}
function ran(before: Record<string, number>, name: string): number {
  return (kernelCounts.fastconv[name] ?? 0) - (before[name] ?? 0);
}

afterAll(() => setBackend('auto'));

describe('registration', () => {
  it("registers 'fastconv' at the highest priority, as TF.js's default", async () => {
    expect(tf.findBackendFactory(BACKEND_NAME)).not.toBeNull();
    await tf.setBackend(BACKEND_NAME);
    expect(tf.backend()).toBeInstanceOf(FastconvBackend);
    const ours = [
      'Conv2D',
      'FusedConv2D',
      'DepthwiseConv2dNative',
      'FusedDepthwiseConv2D',
      'Conv2DBackpropInput',
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'Relu',
      'Relu6',
      'ClipByValue',
      'Add',
      'FusedBatchNorm',
      'MaxPool',
      'AvgPool',
      'MaxPoolGrad',
      'AvgPoolGrad',
      'Mean',
      'BatchMatMul',
      '_FusedMatMul',
    ];
    expect([...FASTCONV_KERNEL_NAMES].sort()).toEqual([...ours].sort());
    for (const k of ours) expect(tf.getKernel(k, BACKEND_NAME)?.kernelFunc, k).not.toBe(tf.getKernel(k, 'cpu')?.kernelFunc);
    // Every other cpu kernel is registered too (wrapped: see FastconvBackend.noteOutputs), with the cpu's results.
    const cpuNames = tf
      .getKernelsForBackend('cpu')
      .map((k) => k.kernelName)
      .sort();
    expect(
      tf
        .getKernelsForBackend(BACKEND_NAME)
        .map((k) => k.kernelName)
        .sort()
    ).toEqual(cpuNames);
    const sub = await on(BACKEND_NAME, () => tf.sub(tf.tensor1d([5, 2.5]), tf.tensor1d([1, 0.5])));
    expect(sub).toEqual([new Float32Array([4, 2])]);
  });
});

for (const engine of ENGINES) {
  describe(`on fastconv's ${engine} engine`, () => {
    beforeAll(() => {
      setBackend(engine);
      expect(backendInfo().selected).toBe(engine);
    });

    it('Conv2D and FusedConv2D forward on random attribute sets', async () => {
      const rng = new Rng(engine === 'native' ? 1901 : 1902);
      const before = counts();
      let expectedFast = 0;
      for (let i = 0; i < FORWARD_CASES; i++) {
        const c = randomCase(rng, { depthwise: false, grad: false, nchw: true });
        const xShape = c.dataFormat === 'NHWC' ? [c.N, c.H, c.W, c.C] : [c.N, c.C, c.H, c.W];
        const x = data(
            rng,
            xShape.reduce((a, b) => a * b, 1),
            c.special
          ),
          w = data(rng, c.R * c.S * c.C * c.K, c.special && rng.chance(0.5));
        const b = rng.floats(c.K),
          alpha = rng.floats(c.K),
          leak = rng.next();
        const what = `seed ${rng.seed} case ${i} ${JSON.stringify(c)}`;
        await compare(`${what} conv2d`, () =>
          tf.conv2d(
            tf.tensor4d(x, xShape as never),
            tf.tensor4d(w, [c.R, c.S, c.C, c.K]),
            c.strides,
            c.pad,
            c.dataFormat,
            c.dilations,
            c.dimRoundingMode
          )
        );
        await compare(`${what} fused`, () =>
          tf.fused.conv2d({
            x: tf.tensor4d(x, xShape as never),
            filter: tf.tensor4d(w, [c.R, c.S, c.C, c.K]),
            strides: c.strides,
            pad: c.pad,
            dataFormat: c.dataFormat,
            dilations: c.dilations,
            dimRoundingMode: c.dimRoundingMode,
            bias: c.bias === 'none' ? undefined : c.bias === 'scalar' ? tf.scalar(b[0]) : tf.tensor1d(b),
            activation: c.activation,
            preluActivationWeights: c.activation === 'prelu' ? tf.tensor1d(alpha) : undefined,
            leakyreluAlpha: leak,
          })
        );
        if (c.special === false) expectedFast++;
      }
      // Fallbacks: filters with NaN/Inf, and outputs TF.js makes empty; most cases run on fastconv.
      expect(ran(before, 'Conv2D')).toBeGreaterThan(expectedFast * 0.8);
      expect(ran(before, 'FusedConv2D')).toBeGreaterThan(expectedFast * 0.8);
    });

    it('DepthwiseConv2dNative and FusedDepthwiseConv2D forward (NCHW checked against cpu on NHWC)', async () => {
      const rng = new Rng(engine === 'native' ? 1911 : 1912);
      const before = counts();
      for (let i = 0; i < FORWARD_CASES; i++) {
        const c = randomCase(rng, { depthwise: true, grad: false, nchw: true });
        const nhwc = [c.N, c.H, c.W, c.C] as [number, number, number, number];
        const x = data(
            rng,
            nhwc.reduce((a, b) => a * b, 1),
            c.special
          ),
          w = data(rng, c.R * c.S * c.C * c.M, c.special && rng.chance(0.5));
        const b = rng.floats(c.K),
          alpha = rng.floats(c.K),
          leak = rng.next();
        const what = `seed ${rng.seed} case ${i} ${JSON.stringify(c)}`;
        // tfjs-backend-cpu reads depthwise data as NHWC whatever dataFormat says ("only NHWC is supported");
        // fastconv honours NCHW, so NCHW is compared as the transposed NHWC problem.
        const nchw = c.dataFormat === 'NCHW';
        const padNhwc: Pad = nchw && Array.isArray(c.pad) ? [[0, 0], c.pad[2], c.pad[3], [0, 0]] : c.pad;
        const want = await on('cpu', () => [
          tf.depthwiseConv2d(
            tf.tensor4d(x, nhwc),
            tf.tensor4d(w, [c.R, c.S, c.C, c.M]),
            c.strides,
            padNhwc as never,
            'NHWC',
            c.dilations,
            c.dimRoundingMode
          ),
          tf.fused.depthwiseConv2d({
            x: tf.tensor4d(x, nhwc),
            filter: tf.tensor4d(w, [c.R, c.S, c.C, c.M]),
            strides: c.strides,
            pad: padNhwc as never,
            dilations: c.dilations,
            dimRoundingMode: c.dimRoundingMode,
            bias: c.bias === 'none' ? undefined : c.bias === 'scalar' ? tf.scalar(b[0]) : tf.tensor1d(b),
            activation: c.activation,
            preluActivationWeights: c.activation === 'prelu' ? tf.tensor1d(alpha) : undefined,
            leakyreluAlpha: leak,
          }),
        ]);
        const got = await on(BACKEND_NAME, () => {
          const xt = nchw ? nhwcToNchw(tf.tensor4d(x, nhwc)) : tf.tensor4d(x, nhwc);
          const back = (t: tf.Tensor4D) => (nchw ? nchwToNhwc(t) : t);
          return [
            back(
              tf.depthwiseConv2d(
                xt,
                tf.tensor4d(w, [c.R, c.S, c.C, c.M]),
                c.strides,
                c.pad as never,
                c.dataFormat,
                c.dilations,
                c.dimRoundingMode
              )
            ),
            // TF.js's fused depthwise op reads the channels from NHWC's last dim whatever dataFormat says.
            tf.fused.depthwiseConv2d({
              x: tf.tensor4d(x, nhwc),
              filter: tf.tensor4d(w, [c.R, c.S, c.C, c.M]),
              strides: c.strides,
              pad: padNhwc as never,
              dilations: c.dilations,
              dimRoundingMode: c.dimRoundingMode,
              bias: c.bias === 'none' ? undefined : c.bias === 'scalar' ? tf.scalar(b[0]) : tf.tensor1d(b),
              activation: c.activation,
              preluActivationWeights: c.activation === 'prelu' ? tf.tensor1d(alpha) : undefined,
              leakyreluAlpha: leak,
            }),
          ];
        });
        if (typeof want === 'string' || typeof got === 'string') {
          expect(got, `${what}: errors`).toEqual(want);
          continue;
        }
        for (let j = 0; j < want.length; j++) expectClose(got[j], want[j], `${what} output ${j}`);
      }
      expect(ran(before, 'DepthwiseConv2dNative')).toBeGreaterThan(FORWARD_CASES * 0.6);
      expect(ran(before, 'FusedDepthwiseConv2D')).toBeGreaterThan(FORWARD_CASES * 0.6);
    });

    it('Conv2DBackpropInput/Filter through tf.grads of conv2d (NHWC, NCHW) and fused conv2d', async () => {
      const rng = new Rng(engine === 'native' ? 1921 : 1922);
      const before = counts();
      for (let i = 0; i < GRAD_CASES; i++) {
        const c = randomCase(rng, { depthwise: false, grad: true, nchw: true });
        const xShape = (c.dataFormat === 'NHWC' ? [c.N, c.H, c.W, c.C] : [c.N, c.C, c.H, c.W]) as [
          number,
          number,
          number,
          number,
        ];
        const x = data(
            rng,
            xShape.reduce((a, b) => a * b, 1),
            c.special
          ),
          w = rng.floats(c.R * c.S * c.C * c.K);
        const what = `seed ${rng.seed} case ${i} ${JSON.stringify(c)}`;
        const f = (xt: tf.Tensor4D, wt: tf.Tensor4D) => tf.conv2d(xt, wt, c.strides, c.pad, c.dataFormat, 1, c.dimRoundingMode);
        // dy drawn from the output's shape; the same numbers on both backends.
        const outShape = await on('cpu', () => f(tf.zeros(xShape), tf.zeros([c.R, c.S, c.C, c.K])));
        if (typeof outShape === 'string') continue;
        const dyData = data(rng, outShape[0].length, c.special && rng.chance(0.5));
        await compare(`${what} grads`, () => {
          const xt = tf.tensor4d(x, xShape),
            wt = tf.tensor4d(w, [c.R, c.S, c.C, c.K]);
          const y = f(xt, wt);
          return tf.grads(((a: tf.Tensor4D, b: tf.Tensor4D) => f(a, b)) as never)([xt, wt], tf.tensor(dyData, y.shape));
        });
        if (c.dataFormat === 'NHWC' && c.activation !== 'prelu') {
          // The fused op's gradient (bias included): its own conv2DBackpropInput/Filter calls.
          const b = rng.floats(c.K);
          const act =
            c.activation === 'relu' ||
            c.activation === 'linear' ||
            c.activation === 'relu6' ||
            c.activation === 'elu' ||
            c.activation === 'sigmoid' ||
            c.activation === 'leakyrelu'
              ? c.activation
              : 'linear';
          await compare(`${what} fused grads`, () => {
            const xt = tf.tensor4d(x, xShape),
              wt = tf.tensor4d(w, [c.R, c.S, c.C, c.K]),
              bt = tf.tensor1d(b);
            const g = (a: tf.Tensor4D, fw: tf.Tensor4D, bb: tf.Tensor1D) =>
              tf.fused.conv2d({
                x: a,
                filter: fw,
                strides: c.strides,
                pad: c.pad,
                dimRoundingMode: c.dimRoundingMode,
                bias: bb,
                activation: act,
              });
            const y = g(xt, wt, bt);
            return tf.grads(g as never)([xt, wt, bt], tf.tensor(dyData, y.shape));
          });
        }
      }
      expect(ran(before, 'Conv2DBackpropInput')).toBeGreaterThan(GRAD_CASES * 0.6);
      expect(ran(before, 'Conv2DBackpropFilter')).toBeGreaterThan(GRAD_CASES * 0.6);
    });

    it('DepthwiseConv2dNativeBackpropInput/Filter through tf.grads of depthwiseConv2d', async () => {
      const rng = new Rng(engine === 'native' ? 1931 : 1932);
      const before = counts();
      for (let i = 0; i < GRAD_CASES; i++) {
        const c = randomCase(rng, { depthwise: true, grad: true, nchw: false });
        const xShape = [c.N, c.H, c.W, c.C] as [number, number, number, number];
        const x = data(
            rng,
            xShape.reduce((a, b) => a * b, 1),
            c.special
          ),
          w = rng.floats(c.R * c.S * c.C * c.M);
        const what = `seed ${rng.seed} case ${i} ${JSON.stringify(c)}`;
        const f = (xt: tf.Tensor4D, wt: tf.Tensor4D) =>
          tf.depthwiseConv2d(xt, wt, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode);
        const outShape = await on('cpu', () => f(tf.zeros(xShape), tf.zeros([c.R, c.S, c.C, c.M])));
        if (typeof outShape === 'string') continue;
        const dyData = data(rng, outShape[0].length, c.special && rng.chance(0.5));
        await compare(`${what} grads`, () => {
          const xt = tf.tensor4d(x, xShape),
            wt = tf.tensor4d(w, [c.R, c.S, c.C, c.M]);
          const y = f(xt, wt);
          return tf.grads(((a: tf.Tensor4D, b: tf.Tensor4D) => f(a, b)) as never)([xt, wt], tf.tensor(dyData, y.shape));
        });
      }
      expect(ran(before, 'DepthwiseConv2dNativeBackpropInput')).toBeGreaterThan(GRAD_CASES * 0.6);
      expect(ran(before, 'DepthwiseConv2dNativeBackpropFilter')).toBeGreaterThan(GRAD_CASES * 0.6);
    });

    it('NHWC 1x1 convolutions (one matrix product over the pixels, strided ones gathered): NaN/Inf filters included', async () => {
      const rng = new Rng(engine === 'native' ? 1961 : 1962);
      const before = counts();
      const CASES = 300;
      let nonEmpty = 0,
        quirky = 0;
      for (let i = 0; i < CASES; i++) {
        const N = rng.pick([0, 1, 1, 2, 3]),
          H = rng.int(1, 9),
          W = rng.int(1, 9),
          C = rng.int(1, 9),
          K = rng.int(1, 9);
        const strides: [number, number] = [rng.int(1, 3), rng.int(1, 3)];
        const pad: Pad = rng.pick([
          'valid',
          'same',
          0,
          [
            [0, 0],
            [0, 0],
            [0, 0],
            [0, 0],
          ],
        ] as Pad[]);
        const special = rng.chance(0.2);
        const x = data(rng, N * H * W * C, special),
          w = data(rng, C * K, special && rng.chance(0.5));
        const b = rng.floats(K),
          alpha = rng.floats(K),
          leak = rng.next();
        const activation = rng.pick(['linear', 'relu', 'relu6', 'prelu', 'leakyrelu', 'elu', 'sigmoid'] as const);
        const biasKind = rng.pick(['none', 'vector', 'scalar'] as const);
        const what = `seed ${rng.seed} case ${i} ${JSON.stringify({ N, H, W, C, K, strides, pad, activation, biasKind, special })}`;
        await compare(`${what} conv2d`, () =>
          tf.conv2d(tf.tensor4d(x, [N, H, W, C]), tf.tensor4d(w, [1, 1, C, K]), strides, pad)
        );
        await compare(`${what} fused`, () =>
          tf.fused.conv2d({
            x: tf.tensor4d(x, [N, H, W, C]),
            filter: tf.tensor4d(w, [1, 1, C, K]),
            strides,
            pad,
            bias: biasKind === 'none' ? undefined : biasKind === 'scalar' ? tf.scalar(b[0]) : tf.tensor1d(b),
            activation,
            preluActivationWeights: activation === 'prelu' ? tf.tensor1d(alpha) : undefined,
            leakyreluAlpha: leak,
          })
        );
        if (N > 0) nonEmpty++;
        // A number pad sizes the width by the stride height too (computeOutputShape2D): where that differs
        // from the real windows, TF.js's own kernel runs.
        if (typeof pad === 'number' && strides[0] !== strides[1]) quirky++;
      }
      // Every other call runs on fastconv, the NaN/Inf filters too (no padded taps to skip).
      expect(ran(before, 'Conv2D')).toBeGreaterThanOrEqual(CASES - quirky);
      expect(ran(before, 'FusedConv2D')).toBeGreaterThanOrEqual(CASES - quirky);
      expect(nonEmpty).toBeGreaterThan(CASES * 0.7);
    });

    it("keeps fastconv's transformed weights per filter tensor and frees them with it", async () => {
      await tf.setBackend(BACKEND_NAME);
      const be = tf.backend() as FastconvBackend;
      const base = be.cachedFilters,
        baseBytes = be.packedWeightBytes;
      const x = tf.randomNormal([1, 20, 20, 16]) as tf.Tensor4D,
        f = tf.randomNormal([3, 3, 16, 32]) as tf.Tensor4D;
      const y1 = tf.conv2d(x, f, 1, 'same');
      // The convolution runs when its output is read (deferred outputs).
      y1.dataSync();
      const bytes = be.packedWeightBytes - baseBytes;
      expect(bytes).toBeGreaterThan(0);
      // The same filter and attributes again: nothing new is packed.
      const y2 = tf.conv2d(x, f, 1, 'same');
      expect(y2.dataSync()).toEqual(y1.dataSync());
      expect(be.packedWeightBytes - baseBytes).toBe(bytes);
      expect(be.cachedFilters).toBe(base + 1);
      f.dispose();
      expect(be.cachedFilters).toBe(base);
      expect(be.packedWeightBytes).toBe(baseBytes);
      tf.dispose([x, y1, y2]);
    });

    it('dilated depthwise backprop kernels (tfjs-backend-cpu ignores their dilations): the adjoint identities', async () => {
      // <depthwise(x, f), dy> = <x, backpropInput(dy, f)> = <f, backpropFilter(x, dy)>, in float64.
      const rng = new Rng(1941);
      await tf.setBackend(BACKEND_NAME);
      for (let i = 0; i < 40; i++) {
        const c = randomCase(rng, { depthwise: true, grad: false, nchw: false });
        if (c.N === 0) c.N = 1;
        const xShape = [c.N, c.H, c.W, c.C] as [number, number, number, number],
          fShape = [c.R, c.S, c.C, c.M] as [number, number, number, number];
        const attrs = { strides: c.strides, dilations: c.dilations, pad: c.pad, dimRoundingMode: c.dimRoundingMode };
        tf.tidy(() => {
          const x = tf.tensor4d(rng.floats(xShape.reduce((a, b) => a * b, 1)), xShape),
            f = tf.tensor4d(rng.floats(fShape.reduce((a, b) => a * b, 1)), fShape);
          const y = tf.depthwiseConv2d(x, f, c.strides, c.pad, 'NHWC', c.dilations, c.dimRoundingMode);
          const dy = tf.tensor(rng.floats(y.size), y.shape);
          const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, {
            ...attrs,
            inputShape: xShape,
          } as never) as tf.Tensor;
          const df = tf
            .engine()
            .runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape } as never) as tf.Tensor;
          const dot = (a: tf.Tensor, b: tf.Tensor) => {
            const p = a.dataSync(),
              q = b.dataSync();
            let s = 0;
            for (let j = 0; j < p.length; j++) s += p[j] * q[j];
            return s;
          };
          const ydy = dot(y, dy);
          const tol = 1e-4 * Math.max(1, Math.abs(ydy));
          expect(Math.abs(dot(x, dx) - ydy), `case ${i} ${JSON.stringify(c)} input`).toBeLessThan(tol);
          expect(Math.abs(dot(f, df) - ydy), `case ${i} ${JSON.stringify(c)} filter`).toBeLessThan(tol);
        });
      }
    });
  });
}

describe('elementwise kernels (Relu, Relu6, ClipByValue, Add, FusedBatchNorm)', () => {
  it('equal tfjs-backend-cpu on random shapes, NaN/±Inf included, and broadcasts they leave to it', async () => {
    const rng = new Rng(1951);
    for (let i = 0; i < 150; i++) {
      const rank = rng.int(0, 4);
      const shape = Array.from({ length: rank }, () => rng.int(rank === 4 && rng.chance(0.1) ? 0 : 1, 6));
      const n = shape.reduce((a, b) => a * b, 1),
        C = rank ? shape[rank - 1] : 1;
      const x = data(rng, n, rng.chance(0.3)),
        y = data(rng, n, rng.chance(0.3));
      const vec = (len: number) => data(rng, len, rng.chance(0.1));
      const m = vec(C),
        v = rng.floats(C).map(Math.abs),
        s = vec(C),
        o = vec(C),
        bias = vec(C);
      const lo = rng.next() - 1,
        hi = rng.next() * 6;
      const what = `case ${i} shape [${shape}]`;
      await compare(`${what} relu/relu6/clip`, () => [
        tf.relu(tf.tensor(x, shape)),
        tf.relu6(tf.tensor(x, shape)),
        tf.clipByValue(tf.tensor(x, shape), lo, hi),
      ]);
      await compare(`${what} add`, () => [
        tf.add(tf.tensor(x, shape), tf.tensor(y, shape)),
        tf.add(tf.tensor(x, shape), tf.tensor1d(bias)),
        tf.add(tf.tensor1d(bias), tf.tensor(x, shape)),
        tf.add(tf.tensor(x, shape), tf.scalar(0.5)),
        tf.add(tf.cast(tf.tensor(x, shape), 'int32'), tf.cast(tf.tensor(y, shape), 'int32')),
      ]);
      if (rank >= 1) {
        await compare(`${what} batchNorm`, () => [
          tf.batchNorm(tf.tensor(x, shape), tf.tensor1d(m), tf.tensor1d(v), tf.tensor1d(o), tf.tensor1d(s), 1e-3),
          tf.batchNorm(tf.tensor(x, shape), tf.tensor1d(m), tf.tensor1d(v)),
          tf.batchNorm(tf.tensor(x, shape), tf.scalar(0.1), tf.scalar(2), undefined, undefined, 0.01),
        ]);
      }
    }
  });
});

describe('filter cache', () => {
  it('keeps one transposed copy per filter tensor and frees it with the tensor', async () => {
    await tf.setBackend(BACKEND_NAME);
    const be = tf.backend() as FastconvBackend;
    const base = be.cachedFilters;
    const x = tf.randomNormal([1, 8, 8, 3]) as tf.Tensor4D,
      f = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
    const y1 = tf.conv2d(x, f, 1, 'same'),
      y2 = tf.conv2d(x, f, 2, 'valid');
    expect(be.cachedFilters).toBe(base + 1);
    f.dispose();
    expect(be.cachedFilters).toBe(base);
    tf.dispose([x, y1, y2]);
  });
});

/** Element for element the same numbers (any NaN for a NaN, -0 for -0): the loops mirror the cpu's. */
function expectIdentical(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const same = Number.isNaN(want[i]) ? Number.isNaN(got[i]) : Object.is(got[i], want[i]);
    if (!same)
      throw new Error(
        `${what}: element ${i} is ${Object.is(got[i], -0) ? '-0' : got[i]}, TF.js cpu gives ${Object.is(want[i], -0) ? '-0' : want[i]}`
      );
  }
}

async function compareIdentical(what: string, f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const want = await on('cpu', f);
  const got = await on(BACKEND_NAME, f);
  if (typeof want === 'string' || typeof got === 'string') {
    expect(got, `${what}: errors`).toEqual(want);
    return;
  }
  for (let i = 0; i < want.length; i++) expectIdentical(got[i], want[i], `${what} output ${i}`);
}

describe('pooling kernels (MaxPool, AvgPool, MaxPoolGrad, AvgPoolGrad) and Mean', () => {
  it('equal tfjs-backend-cpu exactly on random attribute sets, forward and through tf.grads', async () => {
    const rng = new Rng(1971);
    const before = { ...poolCounts };
    const CASES = 400;
    for (let i = 0; i < CASES; i++) {
      const N = rng.pick([0, 1, 1, 2, 3]),
        C = rng.int(1, 5);
      const fh = rng.int(1, 4),
        fw = rng.int(1, 4);
      const H = rng.int(1, 10) + fh - 1,
        W = rng.int(1, 10) + fw - 1;
      const strides: [number, number] = [rng.int(1, 3), rng.int(1, 3)];
      const kind = rng.int(0, 3);
      let pad: Pad;
      if (kind === 0) pad = 'valid';
      else if (kind === 1) pad = 'same';
      else if (kind === 2) pad = rng.int(0, 2);
      else
        pad = [
          [0, 0],
          [rng.int(0, 2), rng.int(0, 2)],
          [rng.int(0, 2), rng.int(0, 2)],
          [0, 0],
        ];
      const rounding = typeof pad !== 'string' && rng.chance(0.5) ? rng.pick(['floor', 'round', 'ceil'] as const) : undefined;
      const special = rng.chance(0.15);
      const x = data(rng, N * H * W * C, special);
      const what = `seed ${rng.seed} case ${i} ${JSON.stringify({ N, H, W, C, fh, fw, strides, pad, rounding, special })}`;
      const xt = () => tf.tensor4d(x, [N, H, W, C]);
      await compareIdentical(`${what} forward`, () => [
        tf.maxPool(xt(), [fh, fw], strides, pad as never, rounding),
        tf.avgPool(xt(), [fh, fw], strides, pad as never, rounding),
      ]);
      const shape = await on('cpu', () => tf.maxPool(xt(), [fh, fw], strides, pad as never, rounding));
      if (typeof shape === 'string') continue;
      const dy = data(rng, shape[0].length, special && rng.chance(0.5));
      for (const [op, pool] of [
        ['maxPool', tf.maxPool],
        ['avgPool', tf.avgPool],
      ] as const) {
        await compareIdentical(`${what} ${op} grad`, () => {
          const f = (a: tf.Tensor4D) => pool(a, [fh, fw], strides, pad as never, rounding);
          const y = f(xt());
          return tf.grad(f as never)(xt(), tf.tensor(dy, y.shape));
        });
      }
    }
    const ranPool = (k: string) => (poolCounts[k] ?? 0) - (before[k] ?? 0);
    // Identity pools (1x1, same shape) and the gradients of rounded avg pools go to the cpu kernels.
    expect(ranPool('MaxPool')).toBeGreaterThan(CASES * 0.8);
    expect(ranPool('AvgPool')).toBeGreaterThan(CASES * 0.8);
    expect(ranPool('MaxPoolGrad')).toBeGreaterThan(CASES * 0.6);
    expect(ranPool('AvgPoolGrad')).toBeGreaterThan(CASES * 0.5);
  });

  it('Mean equals the cpu exactly over contiguous axes (and leaves other axes to it)', async () => {
    const rng = new Rng(1972);
    const before = poolCounts.Mean ?? 0;
    for (let i = 0; i < 150; i++) {
      const rank = rng.int(1, 4);
      const shape = Array.from({ length: rank }, () => rng.int(1, 7));
      const x = data(
        rng,
        shape.reduce((a, b) => a * b, 1),
        rng.chance(0.1)
      );
      const first = rng.int(0, rank - 1),
        last = rng.int(first, rank - 1);
      const axes = Array.from({ length: last - first + 1 }, (_, j) => first + j);
      const keepDims = rng.chance(0.5);
      await compareIdentical(`case ${i} shape [${shape}] axes [${axes}] keepDims ${keepDims}`, () => [
        tf.mean(tf.tensor(x, shape), axes, keepDims),
        tf.mean(tf.tensor(x, shape)),
        tf.mean(tf.tensor(x, shape), rank > 2 ? [0, rank - 1] : -1),
        tf.mean(tf.cast(tf.tensor(x, shape), 'int32'), axes),
      ]);
    }
    expect((poolCounts.Mean ?? 0) - before).toBeGreaterThan(250);
  });
});

describe('bit-pattern activations', () => {
  it('Relu, Relu6 and ClipByValue give the cpu formulas exactly on NaN, signed zeros, infinities, subnormals, bounds', async () => {
    const special = [
      NaN,
      -NaN,
      0,
      -0,
      1,
      -1,
      6,
      6.000001,
      5.999999,
      1e-45,
      -1e-45,
      1.1754942e-38,
      -3.4028235e38,
      3.4028235e38,
      Infinity,
      -Infinity,
      0.1,
      -0.1,
      0.5,
      -2.5,
      1e30,
      -1e30,
    ];
    const x = new Float32Array(8192);
    const rng = new Rng(1981);
    for (let i = 0; i < x.length; i++) x[i] = rng.chance(0.5) ? rng.pick(special) : (rng.next() * 2 - 1) * 10;
    // A NaN with the sign bit set (what x86 produces for 0 * Inf): Float32Array keeps the bits.
    new Int32Array(x.buffer)[7] = 0xffc00000 | 0;
    const bounds: [number, number][] = [
      [0, 6],
      [-1, 1],
      [0.1, 0.1],
      [-Infinity, Infinity],
      [-0, 0],
      [0, -0],
      [-5, -1],
      [1, 3e38],
      [0.1, 0.2],
      [-3.4028235e38, -1e-45],
      [1e-45, 1e-45],
    ];
    await compareIdentical('relu/relu6', () => [tf.relu(tf.tensor1d(x)), tf.relu6(tf.tensor1d(x))]);
    for (const [lo, hi] of bounds) {
      // Directly, and of a ReLU's output (tf.layers' ReLU(maxValue): the backend knows it holds no negatives).
      await compareIdentical(`clip [${lo}, ${hi}]`, () => [
        tf.clipByValue(tf.tensor1d(x), lo, hi),
        tf.clipByValue(tf.relu(tf.tensor1d(x)), lo, hi),
        tf.clipByValue(tf.relu6(tf.tensor1d(x)), lo, hi),
      ]);
    }
  });
});

describe("the backend's array pool", () => {
  it('recycles disposed outputs, but never an array handed out by dataSync() or viewed by another tensor', async () => {
    await tf.setBackend(BACKEND_NAME);
    const be = tf.backend() as FastconvBackend;
    const n = 10000;
    const x = tf.tensor1d(new Rng(1991).floats(n)),
      x2 = tf.tensor1d(new Rng(1992).floats(n));
    const want = ((await on('cpu', () => tf.relu(tf.tensor1d(new Rng(1991).floats(n))))) as Float32Array[])[0];
    await tf.setBackend(BACKEND_NAME);

    // An output disposed is reused by the next output of its size.
    const a = tf.relu(x);
    const pooled = be.pooledArrayBytes;
    a.dispose();
    expect(be.pooledArrayBytes).toBe(pooled + n * 4);
    const b = tf.relu(x2);
    expect(be.pooledArrayBytes).toBe(pooled);
    b.dispose();
    // Reshape passes the same data through with one more reference: still recycled once both are gone.
    const r = tf.relu(x),
      rr = tf.reshape(r, [100, 100]);
    r.dispose();
    expect(be.pooledArrayBytes).toBe(pooled);
    rr.dispose();
    expect(be.pooledArrayBytes).toBe(pooled + n * 4);

    // dataSync() returns the tensor's own array: after dispose it must keep its values.
    const c = tf.relu(x);
    const read = c.dataSync();
    c.dispose();
    const d = tf.relu(x2);
    expectIdentical(read as Float32Array, want, 'dataSync() result after dispose');

    // tfjs-backend-cpu's Slice returns a subarray of its input: the slice outlives the source.
    const e = tf.relu(x);
    const s = tf.slice(e, [100], [50]);
    e.dispose();
    const f = tf.relu(x2);
    expectIdentical(s.dataSync() as Float32Array, want.slice(100, 150), 'slice after its source was disposed');
    tf.dispose([x, x2, d, s, f]);
  });
});

describe('deferred convolution outputs (conv + batchNorm + add + relu/relu6/clip evaluated as one pass)', () => {
  /** One random chain: a conv (1x1 pointwise or 3x3 general, maybe fused), then elementwise ops on it. */
  function chain(rng: Rng) {
    const N = rng.int(1, 2),
      H = rng.int(2, 8),
      W = rng.int(2, 8),
      C = rng.int(1, 6),
      K = rng.int(1, 6);
    const R = rng.pick([1, 1, 3]),
      stride = rng.pick([1, 1, 2]);
    const depthwise = rng.chance(0.25);
    const Kout = depthwise ? C : K;
    const special = rng.chance(0.1);
    const x = data(rng, N * H * W * C, special),
      f = rng.floats(R * R * C * (depthwise ? 1 : K));
    const bias = rng.floats(Kout),
      m = rng.floats(Kout),
      v = rng.floats(Kout).map((t) => Math.abs(t) + 0.1),
      s = rng.floats(Kout),
      o = rng.floats(Kout);
    const fused = rng.pick(['none', 'linear', 'relu', 'relu6'] as const);
    const ops = Array.from({ length: rng.int(1, 4) }, () =>
      rng.pick([
        'bn',
        'bn',
        'bnZeroVariance',
        'relu',
        'relu6',
        'clip06',
        'clip',
        'add',
        'add',
        'addBias',
        'reluMax6',
        'reluMax6',
      ] as const)
    );
    const lo = rng.pick([0, 0.1, -0.5]),
      hi = rng.pick([6, 0.3, 1e30]);
    const what = JSON.stringify({ N, H, W, C, K, R, stride, depthwise, fused, ops, lo, hi, special });
    const residual = data(rng, N * Math.ceil(H / stride) * Math.ceil(W / stride) * Kout, special);
    const build = () => {
      const xt = tf.tensor4d(x, [N, H, W, C]);
      const ft = tf.tensor4d(f, depthwise ? [R, R, C, 1] : [R, R, C, K]);
      let y: tf.Tensor4D;
      if (depthwise)
        y =
          fused === 'none'
            ? tf.depthwiseConv2d(xt, ft, stride, 'same')
            : tf.fused.depthwiseConv2d({
                x: xt,
                filter: ft,
                strides: stride,
                pad: 'same',
                bias: tf.tensor1d(bias),
                activation: fused,
              });
      else
        y =
          fused === 'none'
            ? tf.conv2d(xt, ft, stride, 'same')
            : tf.fused.conv2d({ x: xt, filter: ft, strides: stride, pad: 'same', bias: tf.tensor1d(bias), activation: fused });
      const steps: tf.Tensor[] = [y];
      let t: tf.Tensor = y;
      for (const op of ops) {
        if (op === 'bn') t = tf.batchNorm(t, tf.tensor1d(m), tf.tensor1d(v), tf.tensor1d(o), tf.tensor1d(s), 1e-3);
        // variance + eps = 0: an infinite factor, which does not fold into the weights (an epilogue stage instead).
        else if (op === 'bnZeroVariance')
          t = tf.batchNorm(t, tf.tensor1d(m), tf.fill([Kout], -1e-3), tf.tensor1d(o), tf.tensor1d(s), 1e-3);
        else if (op === 'relu') t = tf.relu(t);
        else if (op === 'relu6') t = tf.relu6(t);
        else if (op === 'clip06') t = tf.clipByValue(t, 0, 6);
        // tf.layers' ReLU({ maxValue: 6 }).
        else if (op === 'reluMax6') t = tf.clipByValue(tf.relu(t), 0, 6);
        else if (op === 'clip') t = tf.clipByValue(t, lo, hi);
        else if (op === 'add') t = tf.add(t, tf.tensor(residual, t.shape));
        else t = tf.add(t, tf.tensor1d(bias));
        steps.push(t);
      }
      return steps;
    };
    return { what, build };
  }

  it('equal tfjs-backend-cpu at every step of random chains, whatever is read first, with the inputs disposed before the read', async () => {
    const rng = new Rng(2001);
    await tf.setBackend(BACKEND_NAME);
    const be = tf.backend() as FastconvBackend;
    let deferredEnds = 0;
    const composed = { folded: 0, affine: 0, addend: 0, reluclip: 0, relu6: 0 };
    for (let i = 0; i < 400; i++) {
      const { what, build } = chain(rng);
      const want = await on('cpu', build);
      if (typeof want === 'string') throw new Error(`${what}: ${want}`);
      await tf.setBackend(BACKEND_NAME);
      const order = rng.pick(['last first', 'first first', 'random'] as const);
      const got = tf.tidy(() => {
        const steps = build();
        if (be.pendingMeta(steps[steps.length - 1].dataId)) deferredEnds++;
        for (const t of steps) {
          const p = be.pendingMeta(t.dataId) as PendingConv | undefined;
          if (p && !p.job.fold) composed.folded++;
          if (p?.epi.affine) composed.affine++;
          if (p?.epi.addend) composed.addend++;
          if (p?.epi.act === 'reluclip') composed.reluclip++;
          if (p?.epi.act === 'relu6') composed.relu6++;
        }
        // Everything else is gone before the first read, and the pool gets the arrays back; new tensors of
        // the same sizes take them, so a pending tensor reading a recycled array would read garbage.
        const scrub = steps.map((t) => tf.relu(tf.fill(t.shape, 123.5)));
        const idx = steps.map((_, j) => j);
        if (order === 'last first') idx.reverse();
        else if (order === 'random')
          for (let j = idx.length - 1; j > 0; j--) {
            const r = rng.int(0, j);
            [idx[j], idx[r]] = [idx[r], idx[j]];
          }
        const out: Float32Array[] = [];
        for (const j of idx) out[j] = steps[j].dataSync() as Float32Array;
        tf.dispose(scrub);
        return out;
      });
      for (let j = 0; j < want.length; j++) expectClose(got[j], want[j], `${what} step ${j} (${order})`);
    }
    // Chains ending in an op that does not compose (a per-channel add, a clip of signed values, batchNorm
    // after an activation) end evaluated; the rest stay pending to the read.
    expect(deferredEnds).toBeGreaterThan(40);
    for (const [stage, k] of Object.entries(composed)) expect(k, stage).toBeGreaterThan(10);
    expect(be.pinnedBuffers).toBe(0);
  });

  it('evaluates a chain read only at its end once, and one never read not at all; the eager path agrees', async () => {
    await tf.setBackend(BACKEND_NAME);
    const be = tf.backend() as FastconvBackend;
    const rng = new Rng(2002);
    const x = tf.tensor4d(rng.floats(2 * 9 * 9 * 4), [2, 9, 9, 4]),
      f = tf.tensor4d(rng.floats(3 * 3 * 4 * 5), [3, 3, 4, 5]);
    const stats = [0, 1, 2, 3].map(() => tf.tensor1d(rng.floats(5).map((t) => Math.abs(t) + 0.5)));
    const run = () =>
      tf.tidy(() => {
        const y = tf.clipByValue(tf.relu(tf.batchNorm(tf.conv2d(x, f, 1, 'same'), stats[0], stats[1], stats[2], stats[3])), 0, 6);
        const unused = tf.relu(tf.conv2d(x, f, 2, 'valid'));
        expect(be.pendingMeta(unused.dataId) !== undefined).toBe(be.deferConvolutions);
        return (y.dataSync() as Float32Array).slice();
      });
    const before = be.evaluations;
    const deferred = run();
    expect(be.evaluations - before).toBe(1);
    be.deferConvolutions = false;
    try {
      const eager = run();
      expect(be.evaluations - before).toBe(1);
      // The batch norm folded into the weights rounds differently from the eager kernels.
      expectClose(deferred, eager, 'deferred vs eager');
    } finally {
      be.deferConvolutions = true;
    }
    tf.dispose([x, f, ...stats]);
    expect(be.pinnedBuffers).toBe(0);
  });
});

describe('matrix products (BatchMatMul, _FusedMatMul) as fastconv 1x1 convolutions', () => {
  it('equal tfjs-backend-cpu on random shapes, transposes, batch dims, biases and activations, NaN/Inf included', async () => {
    const rng = new Rng(2011);
    const before = { ...matmulCounts };
    const CASES = 300;
    for (let i = 0; i < CASES; i++) {
      const M = rng.int(1, 9),
        N = rng.int(1, 9),
        K = rng.int(1, 12);
      const tA = rng.chance(0.3),
        tB = rng.chance(0.3);
      const outer = rng.pick([[], [1], [2], [3], [2, 2]] as number[][]);
      const bOuter = rng.chance(0.2) ? [] : outer;
      const aShape = [...outer, ...(tA ? [K, M] : [M, K])],
        bShape = [...bOuter, ...(tB ? [N, K] : [K, N])];
      const special = rng.chance(0.1);
      const a = data(
          rng,
          aShape.reduce((x, y) => x * y, 1),
          special
        ),
        b = data(
          rng,
          bShape.reduce((x, y) => x * y, 1),
          special
        );
      const bias = rng.floats(N),
        biasMatrix = rng.floats(M * N);
      const activation = rng.pick(['linear', 'relu', 'relu6', 'elu'] as const);
      const biasKind = rng.pick(['none', 'vector', 'scalar', 'matrix'] as const);
      const what = `case ${i} ${JSON.stringify({ aShape, bShape, tA, tB, activation, biasKind, special })}`;
      await compare(what, () => [
        tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), tA, tB),
        tf.fused.matMul({
          a: tf.tensor(a, aShape),
          b: tf.tensor(b, bShape),
          transposeA: tA,
          transposeB: tB,
          activation,
          bias:
            biasKind === 'none'
              ? undefined
              : biasKind === 'vector'
                ? tf.tensor1d(bias)
                : biasKind === 'scalar'
                  ? tf.scalar(bias[0])
                  : tf.tensor(biasMatrix, [M, N]),
        }),
      ]);
    }
    expect((matmulCounts.BatchMatMul ?? 0) - (before.BatchMatMul ?? 0)).toBeGreaterThan(CASES * 0.8);
    expect((matmulCounts._FusedMatMul ?? 0) - (before._FusedMatMul ?? 0)).toBeGreaterThan(CASES * 0.4);
  });
});
