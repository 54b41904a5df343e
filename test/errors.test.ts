// Bad arguments: each must throw the right error class with a message naming the argument (and saying
// what was expected), on every backend, before any backend runs. The native addon's own re-validation
// is tested in hostile.test.ts (raw addon calls in a child process).

import { describe, expect, it } from 'vitest';
import { conv1d, conv1dAsync, conv2d, conv2dAsync, outputShape } from '../src/index.node.js';
import type { ConvOptions, Tensor } from '../src/shape.js';

const t = (shape: number[], fill = 0.5): Tensor => ({
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill),
  shape,
});
const x = t([1, 4, 8, 8]);
const w = t([6, 4, 3, 3]);
const x1 = t([2, 4, 10]);
const w1 = t([3, 4, 3]);

type Bad = [label: string, call: () => unknown, cls: typeof TypeError | typeof RangeError, names: RegExp];

const c2 = (input: unknown, weight: unknown, o?: unknown) => () => conv2d(input as Tensor, weight as Tensor, o as ConvOptions);
const c1 = (input: unknown, weight: unknown, o?: unknown) => () => conv1d(input as Tensor, weight as Tensor, o as ConvOptions);

const shared = new Float32Array(1000);
const detached = (() => {
  const a = new Float32Array(4 * 64);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
})();

const BAD: Bad[] = [
  ['input not an object', c2(null, w), TypeError, /input/],
  ['input a bare Float32Array', c2(new Float32Array(256), w), TypeError, /input\.shape|input/],
  ['input.data a plain array', c2({ data: [1, 2], shape: [1, 1, 1, 2] }, w), TypeError, /input\.data.*Float32Array/],
  [
    'input.data a Float64Array',
    c2({ data: new Float64Array(256), shape: [1, 4, 8, 8] }, w),
    TypeError,
    /input\.data.*Float32Array.*Float64Array/,
  ],
  [
    'weight.data an Int32Array',
    c2(x, { data: new Int32Array(216), shape: [6, 4, 3, 3] }),
    TypeError,
    /weight\.data.*Float32Array/,
  ],
  ['input.shape missing', c2({ data: x.data }, w), TypeError, /input\.shape/],
  ['input rank 2 for conv2d', c2(t([8, 8]), w), RangeError, /input\.shape.*rank 4.*rank 2/],
  ['weight rank 2', c2(x, t([6, 36])), RangeError, /weight\.shape.*rank 4/],
  ['conv1d input rank 4', c1(x, w1), RangeError, /input\.shape.*rank 3/],
  [
    'input data too short',
    c2({ data: new Float32Array(255), shape: [1, 4, 8, 8] }, w),
    RangeError,
    /input\.data length must be 256.*255/,
  ],
  [
    'weight data too long',
    c2(x, { data: new Float32Array(217), shape: [6, 4, 3, 3] }),
    RangeError,
    /weight\.data length must be 216.*217/,
  ],
  ['zero size', c2({ data: new Float32Array(0), shape: [1, 4, 0, 8] }, w), RangeError, /input\.shape\[2\].*>= 1.*0/],
  ['negative size', c2(x, { data: w.data, shape: [6, 4, -3, -3] }), RangeError, /weight\.shape\[2\]/],
  ['fractional size', c2({ data: x.data, shape: [1, 4, 8.5, 7.5] }, w), RangeError, /input\.shape\[2\].*8\.5/],
  ['NaN size', c2({ data: x.data, shape: [1, 4, NaN, 8] }, w), RangeError, /input\.shape\[2\].*NaN/],
  ['string size', c2({ data: x.data, shape: [1, '4', 8, 8] }, w), TypeError, /input\.shape\[1\].*string/],
  ['element count overflows 2^31', c2({ data: x.data, shape: [65536, 65536, 1, 1] }, w), RangeError, /input\.shape.*elements/],
  ['detached input buffer', c2({ data: detached, shape: [1, 4, 8, 8] }, w), RangeError, /input\.data length.*detached/],
  ['weight C/groups mismatch', c2(x, t([6, 3, 3, 3])), RangeError, /weight\.shape\[1\].*C\/groups.*4.*3/],
  ['groups does not divide C', c2(x, t([6, 1, 3, 3]), { groups: 3 }), RangeError, /groups \(3\).*C \(4\)/],
  ['groups does not divide K', c2(x, t([6, 2, 3, 3]), { groups: 4 }), RangeError, /groups \(4\).*K/],
  ['groups zero', c2(x, w, { groups: 0 }), RangeError, /groups.*>= 1.*0/],
  ['groups fractional', c2(x, w, { groups: 1.5 }), RangeError, /groups.*1\.5/],
  ['bias wrong length', c2(x, w, { bias: new Float32Array(5) }), RangeError, /bias length must be K = 6.*5/],
  ['bias not Float32Array', c2(x, w, { bias: [0, 0, 0, 0, 0, 0] }), TypeError, /bias.*Float32Array/],
  ['stride zero', c2(x, w, { stride: 0 }), RangeError, /stride.*>= 1.*0/],
  ['stride negative per-dim', c2(x, w, { stride: [1, -2] }), RangeError, /stride\[1\]/],
  ['stride wrong length', c2(x, w, { stride: [1, 1, 1] }), RangeError, /stride must have 2 entries/],
  ['stride a string', c2(x, w, { stride: '2' }), TypeError, /stride/],
  ['dilation zero', c2(x, w, { dilation: 0 }), RangeError, /dilation.*>= 1/],
  ['padding negative', c2(x, w, { padding: -1 }), RangeError, /padding.*>= 0.*-1/],
  ['padding array of 3', c2(x, w, { padding: [1, 1, 1] }), RangeError, /padding array must be/],
  ['padding unknown string', c2(x, w, { padding: 'full' }), RangeError, /padding.*"full"/],
  ["padding 'same' with stride 2", c2(x, w, { padding: 'same', stride: 2 }), RangeError, /padding 'same' requires stride 1/],
  ['kernel larger than padded input', c2(t([1, 4, 2, 2]), w), RangeError, /weight: kernel height 3.*padded input height 2/],
  ['dilated kernel larger than input', c2(x, w, { dilation: 4 }), RangeError, /weight: kernel.*dilated: 9.*8/],
  ['conv1d kernel larger than input', c1(t([1, 4, 2]), w1), RangeError, /weight: kernel width 3.*2/],
  ['out too small', c2(x, w, { out: new Float32Array(10) }), RangeError, /out must hold at least 216.*10/],
  [
    'out overlaps input',
    c2({ data: shared.subarray(0, 256), shape: [1, 4, 8, 8] }, w, { out: shared.subarray(100, 316) }),
    RangeError,
    /out must not overlap input/,
  ],
  [
    'out overlaps weight',
    c2(x, { data: shared.subarray(400, 616), shape: [6, 4, 3, 3] }, { out: shared.subarray(600, 816) }),
    RangeError,
    /out must not overlap weight/,
  ],
  [
    'out overlaps bias',
    c2(x, w, { bias: shared.subarray(900, 906), out: shared.subarray(700, 916) }),
    RangeError,
    /out must not overlap bias/,
  ],
  ['out a Float64Array', c2(x, w, { out: new Float64Array(216) }), TypeError, /out must be a Float32Array/],
  ['unknown layout', c2(x, w, { layout: 'CHWN' }), RangeError, /layout must be one of/],
  ['conv2d layout for conv1d', c1(x1, w1, { layout: 'NHWC' }), RangeError, /layout must be one of "NCW", "NWC"/],
  ['unknown activation', c2(x, w, { activation: 'gelu' }), RangeError, /activation must be one of/],
  ['unknown backend', c2(x, w, { backend: 'gpu' }), RangeError, /backend must be one of/],
  ['unknown algorithm', c2(x, w, { algorithm: 'magic' }), RangeError, /algorithm must be one of/],
  ['misspelled option', c2(x, w, { strides: 2 }), TypeError, /options\.strides is not a known option/],
  ['options not an object', c2(x, w, 3), TypeError, /options must be an object/],
  [
    'winograd forced on a 5x5 kernel',
    c2(x, t([6, 4, 5, 5]), { algorithm: 'winograd', padding: 2 }),
    RangeError,
    /algorithm 'winograd'/,
  ],
  [
    'fft forced with stride 2',
    c2(t([1, 4, 16, 16]), w, { algorithm: 'fft', stride: 2, backend: 'js' }),
    RangeError,
    /algorithm 'fft'/,
  ],
  ['outputShape rank 5', () => outputShape([1, 1, 1, 1, 1], [1, 1, 1, 1, 1]), RangeError, /inputShape.*rank 3.*or 4/],
  ['outputShape weight rank mismatch', () => outputShape([1, 4, 8, 8], [6, 4, 3]), RangeError, /weightShape.*rank 4/],
  ['outputShape kernel too large', () => outputShape([1, 4, 8, 8], [6, 4, 9, 9]), RangeError, /kernel height 9.*8/],
];

describe('bad arguments', () => {
  it(`the table has ${BAD.length} cases`, () => expect(BAD.length).toBeGreaterThanOrEqual(40));
  for (const [label, call, cls, names] of BAD) {
    it(label, () => {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err, 'expected an error').toBeInstanceOf(cls);
      expect((err as Error).message).toMatch(names);
    });
  }

  it('async variants reject (not throw) with the same errors', async () => {
    await expect(conv2dAsync(x, t([6, 3, 3, 3]))).rejects.toThrow(/weight\.shape\[1\]/);
    await expect(conv1dAsync(x1, w1, { bias: new Float32Array(2) })).rejects.toBeInstanceOf(RangeError);
  });

  it('inputs are never modified, even by failing calls', () => {
    const xi = t([1, 4, 8, 8], 0.25),
      wi = t([6, 4, 3, 3], -0.5),
      b = new Float32Array(6).fill(3);
    const copies = [xi.data.slice(), wi.data.slice(), b.slice()];
    conv2d(xi, wi, { bias: b, activation: 'relu' });
    expect(() => conv2d(xi, wi, { bias: b, out: new Float32Array(3) })).toThrow(RangeError);
    expect([xi.data, wi.data, b]).toEqual(copies);
  });
});
