// The 'fastconv' TF.js backend under whole tf.layers models (predict equal to tfjs-backend-cpu's, tensor
// count flat over repeated predicts, filter cache emptied on dispose, a training step equal), and under
// hostile calls through TF.js (wrong dtypes, shapes, attributes): the same answer or the same error as the
// cpu backend, never a crash.

import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { backendInfo, setBackend } from '../src/index.node.js';
import type { FastconvBackend } from '../src/tfjs/index.node.js';
import { BACKEND_NAME } from '../src/tfjs/index.node.js';
import { kernelCounts } from '../src/tfjs/kernels.js';
import { Rng } from './random.js';

tf.env().set('IS_TEST', true);

const ENGINES = [...(backendInfo().available.native ? ['native' as const] : []), 'wasm' as const];

afterAll(() => setBackend('auto'));

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0,
    diff = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

/** A small CNN touching every kernel fastconv registers in inference: conv, depthwise, separable, transposed, fused activations. */
function smallCnn(): tf.Sequential {
  const m = tf.sequential();
  m.add(
    tf.layers.conv2d({
      inputShape: [17, 19, 3],
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    })
  );
  m.add(
    tf.layers.depthwiseConv2d({
      kernelSize: 3,
      depthMultiplier: 2,
      padding: 'same',
      activation: 'relu6' as never,
      depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }),
    })
  );
  m.add(tf.layers.batchNormalization());
  m.add(
    tf.layers.separableConv2d({
      filters: 12,
      kernelSize: [3, 2],
      dilationRate: 2,
      padding: 'valid',
      activation: 'elu',
      depthwiseInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      pointwiseInitializer: tf.initializers.glorotUniform({ seed: 4 }),
    })
  );
  m.add(
    tf.layers.conv2dTranspose({
      filters: 6,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
    })
  );
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(
    tf.layers.conv2d({
      filters: 4,
      kernelSize: 1,
      activation: 'linear',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }),
    })
  );
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 5, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }));
  return m;
}

/**
 * The conv -> batchNormalization -> ReLU shape of tf.layers CNNs (MobileNetV2 blocks with a residual add,
 * a ResNet-like 3x3 with bias), which the backend runs as deferred convolutions with the batch norms folded.
 */
function bnCnn(): tf.LayersModel {
  const L = tf.layers;
  let seed = 40;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const bn = () =>
    L.batchNormalization({
      betaInitializer: init(),
      gammaInitializer: init(),
      movingMeanInitializer: init(),
      movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed++ }),
    });
  type S = tf.SymbolicTensor;
  const input = tf.input({ shape: [13, 11, 4] });
  let x = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init() }).apply(
    input
  ) as S;
  x = L.reLU({ maxValue: 6 }).apply(bn().apply(x)) as S;
  let y = L.conv2d({ filters: 16, kernelSize: 1, useBias: false, kernelInitializer: init() }).apply(x) as S;
  y = L.reLU({ maxValue: 6 }).apply(bn().apply(y)) as S;
  y = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init() }).apply(y) as S;
  y = L.reLU({ maxValue: 6 }).apply(bn().apply(y)) as S;
  y = bn().apply(L.conv2d({ filters: 8, kernelSize: 1, useBias: false, kernelInitializer: init() }).apply(y) as S) as S;
  x = L.add().apply([x, y]) as S;
  x = L.activation({ activation: 'relu' }).apply(
    bn().apply(L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init() }).apply(x) as S) as S
  ) as S;
  x = L.globalAveragePooling2d({}).apply(x) as S;
  return tf.model({ inputs: input, outputs: L.dense({ units: 3, kernelInitializer: init() }).apply(x) as S });
}

for (const engine of ENGINES) {
  describe(`a tf.sequential CNN on fastconv's ${engine} engine`, () => {
    it("predict equals tfjs-backend-cpu's; numTensors stays flat over repeated predicts; the filter cache empties on dispose", async () => {
      setBackend(engine);
      await tf.setBackend('cpu');
      const model = smallCnn();
      const input = new Rng(7).floats(2 * 17 * 19 * 3);
      const predict = () =>
        tf.tidy(() => (model.predict(tf.tensor4d(input, [2, 17, 19, 3])) as tf.Tensor).dataSync() as Float32Array);
      const want = predict();
      await tf.setBackend(BACKEND_NAME);
      const convsBefore = kernelCounts.fastconv.FusedConv2D ?? 0;
      const got = predict();
      expect(maxRelDiff(got, want)).toBeLessThan(1e-4);
      expect((kernelCounts.fastconv.FusedConv2D ?? 0) - convsBefore).toBeGreaterThan(0);

      const tensors = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) predict();
      expect(tf.memory().numTensors).toBe(tensors);
      const be = tf.backend() as FastconvBackend;
      expect(be.cachedFilters).toBeGreaterThan(0);
      model.dispose();
      expect(be.cachedFilters).toBe(0);
    });

    it('conv + batchNormalization + ReLU blocks: predict equals cpu with the batch norms folded, caches freed on dispose', async () => {
      setBackend(engine);
      await tf.setBackend('cpu');
      // Built on each backend (the seeded initializers give the same weights): weights moved from cpu inside
      // the dense layer's fused matMul op trip TF.js's IS_TEST leak check, which counts moves per kernel only.
      const reference = bnCnn();
      const input = new Rng(8).floats(2 * 13 * 11 * 4);
      const predictOn = (m: tf.LayersModel) =>
        tf.tidy(() => (m.predict(tf.tensor4d(input, [2, 13, 11, 4])) as tf.Tensor).dataSync() as Float32Array);
      const want = predictOn(reference);
      reference.dispose();
      await tf.setBackend(BACKEND_NAME);
      const model = bnCnn();
      const predict = () => predictOn(model);
      const be = tf.backend() as FastconvBackend;
      const evaluations = be.evaluations;
      const got = predict();
      expect(maxRelDiff(got, want)).toBeLessThan(1e-4);
      // One evaluation per convolution: the batch norms, ReLUs and the residual add ran inside them.
      expect(be.evaluations - evaluations).toBe(5);
      const tensors = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) expect(maxRelDiff(predict(), want)).toBeLessThan(1e-4);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(be.packedWeightBytes).toBeGreaterThan(0);
      model.dispose();
      expect(be.cachedFilters).toBe(0);
      expect(be.packedWeightBytes).toBe(0);
      expect(be.pinnedBuffers).toBe(0);
    });

    it('model.fit of the batch-norm CNN (batch statistics in training) gives the same weights as on cpu', async () => {
      setBackend(engine);
      const rng = new Rng(12);
      const xs = rng.floats(4 * 13 * 11 * 4),
        ys = rng.floats(4 * 3);
      const train = async (backend: string) => {
        await tf.setBackend(backend);
        const m = bnCnn();
        m.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
        const x = tf.tensor4d(xs, [4, 13, 11, 4]),
          y = tf.tensor2d(ys, [4, 3]);
        await m.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
        const w = m.getWeights().map((t) => t.dataSync().slice() as Float32Array);
        tf.dispose([x, y]);
        m.dispose();
        return w;
      };
      const want = await train('cpu');
      const got = await train(BACKEND_NAME);
      // The last conv's bias stays at rounding noise (~1e-10: the batch norm after it cancels its gradient),
      // so differences are measured against at least 1e-3.
      for (let i = 0; i < want.length; i++)
        expect(maxDiff(got[i], want[i]) / Math.max(maxAbs(want[i]), 1e-3), `weight ${i}`).toBeLessThan(1e-4);
      expect((tf.backend() as FastconvBackend).pinnedBuffers).toBe(0);
    });

    it('a training step (model.fit, SGD) gives the same weights as on cpu', async () => {
      setBackend(engine);
      const rng = new Rng(11);
      const xs = rng.floats(4 * 12 * 12 * 2),
        labels = new Float32Array(4 * 3);
      for (let i = 0; i < 4; i++) labels[i * 3 + (i % 3)] = 1;
      const train = async (backend: string) => {
        await tf.setBackend(backend);
        const m = tf.sequential();
        m.add(
          tf.layers.conv2d({
            inputShape: [12, 12, 2],
            filters: 4,
            kernelSize: 3,
            strides: 2,
            padding: 'same',
            activation: 'relu',
            kernelInitializer: tf.initializers.glorotUniform({ seed: 21 }),
          })
        );
        m.add(
          tf.layers.depthwiseConv2d({
            kernelSize: 3,
            padding: 'valid',
            depthwiseInitializer: tf.initializers.glorotUniform({ seed: 22 }),
          })
        );
        m.add(tf.layers.flatten());
        m.add(
          tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 23 }) })
        );
        m.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
        const x = tf.tensor4d(xs, [4, 12, 12, 2]),
          y = tf.tensor2d(labels, [4, 3]);
        await m.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 });
        const w = m.getWeights().map((t) => t.dataSync().slice() as Float32Array);
        tf.dispose([x, y]);
        m.dispose();
        return w;
      };
      const want = await train('cpu');
      const filtersBefore = kernelCounts.fastconv.Conv2DBackpropFilter ?? 0;
      const got = await train(BACKEND_NAME);
      expect((kernelCounts.fastconv.Conv2DBackpropFilter ?? 0) - filtersBefore).toBeGreaterThan(0);
      for (let i = 0; i < want.length; i++) expect(maxRelDiff(got[i], want[i]), `weight ${i}`).toBeLessThan(1e-4);
    });
  });
}

describe('hostile calls through TF.js', () => {
  /** The outcome on a backend: the values, or the error (class and message). */
  async function outcome(backend: string, f: () => tf.Tensor): Promise<Float32Array | string> {
    await tf.setBackend(backend);
    try {
      return tf.tidy(() => f().dataSync() as Float32Array);
    } catch (e) {
      expect(e).toBeInstanceOf(Error);
      return `${(e as Error).name}: ${(e as Error).message}`;
    }
  }

  const x = () => tf.tensor4d(new Rng(3).floats(2 * 6 * 7 * 3), [2, 6, 7, 3]);
  const f = () => tf.tensor4d(new Rng(4).floats(3 * 3 * 3 * 4), [3, 3, 3, 4]);
  const cases: Record<string, () => tf.Tensor> = {
    'int32 input': () => tf.conv2d(tf.cast(x(), 'int32') as tf.Tensor4D, f(), 1, 'same'),
    'int32 filter': () => tf.conv2d(x(), tf.cast(f(), 'int32') as tf.Tensor4D, 1, 'same'),
    'bool input': () => tf.conv2d(tf.cast(x(), 'bool') as tf.Tensor4D, f(), 1, 'valid'),
    'complex input': () => tf.conv2d(tf.complex(x(), x()) as unknown as tf.Tensor4D, f(), 1, 'valid'),
    'string input': () => tf.conv2d(tf.tensor(['a']) as unknown as tf.Tensor4D, f(), 1, 'valid'),
    'channel mismatch': () => tf.conv2d(x(), tf.zeros([3, 3, 2, 4]) as tf.Tensor4D, 1, 'same'),
    'rank-3 filter': () => tf.conv2d(x(), tf.zeros([3, 3, 3]) as unknown as tf.Tensor4D, 1, 'same'),
    'rank-5 input': () => tf.conv2d(tf.zeros([1, 2, 6, 7, 3]) as unknown as tf.Tensor4D, f(), 1, 'same'),
    'filter larger than input (valid)': () => tf.conv2d(x(), tf.zeros([9, 9, 3, 4]) as tf.Tensor4D, 1, 'valid'),
    'empty input plane': () => tf.conv2d(tf.zeros([1, 0, 7, 3]) as tf.Tensor4D, f(), 1, 'same'),
    'pad string': () => tf.conv2d(x(), f(), 1, 'full' as never),
    'pad negative': () => tf.conv2d(x(), f(), 1, -1),
    'pad fractional': () => tf.conv2d(x(), f(), 1, 0.5),
    'pad NaN': () => tf.conv2d(x(), f(), 1, NaN),
    'explicit pad negative': () =>
      tf.conv2d(x(), f(), 1, [
        [0, 0],
        [-1, 0],
        [0, 0],
        [0, 0],
      ]),
    'explicit pad short': () =>
      tf.conv2d(x(), f(), 1, [
        [0, 0],
        [1, 1],
      ] as never),
    'stride and dilation both 2': () => tf.conv2d(x(), f(), 2, 'same', 'NHWC', 2),
    'stride 0': () => tf.conv2d(x(), f(), 0, 'valid'),
    'stride -1': () => tf.conv2d(x(), f(), -1, 'valid'),
    'dilation 0': () => tf.conv2d(x(), f(), 1, 'valid', 'NHWC', 0),
    'dataFormat bogus': () => tf.conv2d(x(), f(), 1, 'valid', 'NCWH' as never),
    'dimRoundingMode bogus': () => tf.conv2d(x(), f(), 1, 1, 'NHWC', 1, 'up' as never),
    'dimRoundingMode with same': () => tf.conv2d(x(), f(), 1, 'same', 'NHWC', 1, 'ceil'),
    'fused activation bogus': () =>
      tf.fused.conv2d({ x: x(), filter: f(), strides: 1, pad: 'same', activation: 'swish' as never }),
    'fused bias wrong length': () => tf.fused.conv2d({ x: x(), filter: f(), strides: 1, pad: 'same', bias: tf.zeros([3]) }),
    'fused bias broadcast [6, 7, 4]': () =>
      tf.fused.conv2d({ x: x(), filter: f(), strides: 1, pad: 'same', bias: tf.ones([6, 7, 4]), activation: 'relu' }),
    'fused prelu without weights': () => tf.fused.conv2d({ x: x(), filter: f(), strides: 1, pad: 'same', activation: 'prelu' }),
    'fused prelu weights [6, 7, 4]': () =>
      tf.fused.conv2d({
        x: x(),
        filter: f(),
        strides: 1,
        pad: 'same',
        activation: 'prelu',
        preluActivationWeights: tf.fill([6, 7, 4], 0.3),
      }),
    'depthwise channel mismatch': () => tf.depthwiseConv2d(x(), tf.zeros([3, 3, 2, 2]) as tf.Tensor4D, 1, 'same'),
    'NaN filter with padding': () => tf.conv2d(x(), tf.fill([3, 3, 3, 4], NaN) as tf.Tensor4D, 1, 'same'),
    'backprop input: wrong inputShape': () =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.zeros([2, 6, 7, 4]), filter: f() }, {
        inputShape: [2, 5, 5, 3],
        strides: 1,
        pad: 'same',
        dataFormat: 'NHWC',
      } as never) as tf.Tensor,
    'backprop filter: wrong filterShape': () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: x(), dy: tf.zeros([2, 6, 7, 4]) }, {
        filterShape: [3, 3, 2, 4],
        strides: 1,
        pad: 'same',
        dataFormat: 'NHWC',
      } as never) as tf.Tensor,
    'backprop input: no inputShape': () =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.zeros([2, 6, 7, 4]), filter: f() }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NHWC',
      } as never) as tf.Tensor,
  };

  for (const [name, call] of Object.entries(cases)) {
    it(`${name}: what tfjs-backend-cpu does`, async () => {
      const want = await outcome('cpu', call);
      const got = await outcome(BACKEND_NAME, call);
      if (typeof want === 'string' || typeof got === 'string') {
        expect(got).toEqual(want);
      } else {
        expect(got.length).toBe(want.length);
        for (let i = 0; i < want.length; i++) {
          if (Number.isNaN(want[i])) expect(got[i]).toBeNaN();
          else expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[i])));
        }
      }
    });
  }
});
