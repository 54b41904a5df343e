// Elementwise kernels that sit between the convolutions of CNNs (ReLU, ReLU6, clipByValue for
// tf.layers' ReLU(maxValue), inference BatchNorm, residual Add). On the unevaluated output of a forward
// convolution they extend its epilogue (deferred.ts), so conv + batchNorm + relu + clip is one pass.
// Otherwise, where tfjs-backend-cpu runs a generic per-element callback into a fresh array, they are
// single monomorphic loops into the backend's recycled arrays, the clamps branch-free on bit patterns
// (bits.ts). Anything else (other dtypes, broadcasting other than per-channel) is tfjs-backend-cpu's kernel.

import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { FastconvBackend } from './backend.js';
import { runCpuKernel } from './backend.js';
import type { BitsActivation } from './bits.js';
import { activateBits, bitsOf, clipBits, clipNonNegativeBits, nonNegativeBounds } from './bits.js';
import type { PendingConv } from './deferred.js';
import { pendingConvOf, pendingTensor, withActivation, withAddend, withBatchNorm } from './deferred.js';

type Args = { inputs: NamedTensorInfoMap; backend: FastconvBackend; attrs?: NamedAttrMap };

const cpu = (name: string, args: Args): TensorInfo => runCpuKernel(name, args);

function floats(backend: FastconvBackend, t: TensorInfo | undefined | null): Float32Array | null {
  if (t?.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId)?.values;
  return v instanceof Float32Array ? v : null;
}

/**
 * A unary float32 kernel on bit patterns. On a pending convolution (deferred.ts) `extend` tries to append
 * the op to its epilogue; otherwise `loop` gets the input's array too (clip asks the backend what it knows
 * of it) and returns false, before writing, to leave the call to the cpu kernel.
 */
function unary(
  name: string,
  nonNegativeOutput: boolean,
  extend: (p: PendingConv, attrs: NamedAttrMap) => PendingConv | null,
  loop: (x: Int32Array, y: Int32Array, attrs: NamedAttrMap, xv: Float32Array, backend: FastconvBackend) => boolean
): KernelConfig {
  return {
    kernelName: name,
    backendName: 'fastconv',
    kernelFunc: ((args: Args): TensorInfo => {
      const x = args.inputs.x as TensorInfo | undefined;
      const pending = pendingConvOf(args.backend, x);
      const extended = pending && extend(pending, args.attrs ?? {});
      if (x && extended) return pendingTensor(args.backend, x.shape.slice(), extended);
      const xv = floats(args.backend, x);
      if (!x || !xv) return cpu(name, args);
      const y = args.backend.alloc(xv.length);
      if (!loop(bitsOf(xv), bitsOf(y), args.attrs ?? {}, xv, args.backend)) return cpu(name, args);
      if (nonNegativeOutput) args.backend.markNonNegative(y);
      return args.backend.makeTensorInfo(x.shape.slice(), 'float32', y);
    }) as unknown as KernelFunc,
  };
}

/** clipByValue's bounds when this code takes them: numbers, lo <= hi (NaN or lo > hi: the cpu kernel's order of tests decides). */
function clipBounds(attrs: NamedAttrMap): [number, number] | null {
  const lo = attrs.clipValueMin,
    hi = attrs.clipValueMax;
  return typeof lo === 'number' && typeof hi === 'number' && lo <= hi ? [lo, hi] : null;
}

const activation = (act: BitsActivation) => (x: Int32Array, y: Int32Array) => {
  activateBits(x, y, act);
  return true;
};
const relu = unary('Relu', true, (p) => withActivation(p, 'relu'), activation('relu'));
const relu6 = unary('Relu6', true, (p) => withActivation(p, 'relu6'), activation('relu6'));
const clip = unary(
  'ClipByValue',
  false,
  (p, attrs) => {
    const b = clipBounds(attrs);
    return b ? withActivation(p, 'clip', b[0], b[1]) : null;
  },
  (x, y, attrs, xv, backend) => {
    const b = clipBounds(attrs);
    if (!b) return false;
    // tf.layers' ReLU(maxValue) is relu then clipByValue(0, maxValue): the clip of a ReLU's output is cheaper.
    if (backend.isNonNegative(xv) && nonNegativeBounds(b[0], b[1])) clipNonNegativeBits(x, y, b[0], b[1]);
    else clipBits(x, y, b[0], b[1]);
    return true;
  }
);

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Add of two float32 tensors of one shape, or of a tensor and a vector along its last dim (a bias). A
 * same-shape add onto a pending convolution (a residual connection) joins its epilogue.
 */
const add: KernelConfig = {
  kernelName: 'Add',
  backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const { a, b } = args.inputs as Record<string, TensorInfo>;
    const { backend } = args;
    if (a?.dtype === 'float32' && b?.dtype === 'float32' && sameShape(a.shape, b.shape)) {
      for (const [p, other] of [
        [a, b],
        [b, a],
      ] as const) {
        if (!pendingConvOf(backend, p)) continue;
        const ov = floats(backend, other);
        // Reading the other operand may have evaluated this one (add(y, y)).
        const pending = pendingConvOf(backend, p);
        const extended = ov && pending && withAddend(pending, ov);
        if (extended) return pendingTensor(backend, a.shape.slice(), extended);
      }
    }
    const av = floats(backend, a),
      bv = floats(backend, b);
    if (!av || !bv) return cpu('Add', args);
    if (sameShape(a.shape, b.shape)) {
      const y = backend.alloc(av.length);
      addSame(av, bv, y);
      return backend.makeTensorInfo(a.shape.slice(), 'float32', y);
    }
    const C = a.shape[a.shape.length - 1];
    if (b.shape.length === 1 && a.shape.length >= 1 && b.shape[0] === C && C > 0) {
      const y = backend.alloc(av.length);
      addPerChannel(av, bv, C, y);
      return backend.makeTensorInfo(a.shape.slice(), 'float32', y);
    }
    return cpu('Add', args);
  }) as unknown as KernelFunc,
};

function addSame(a: Float32Array, b: Float32Array, y: Float32Array): void {
  const n = y.length;
  for (let i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/** One flat loop with a channel counter: V8 keeps it tight where a nested per-pixel loop is ~2.5x slower. */
function addPerChannel(a: Float32Array, b: Float32Array, C: number, y: Float32Array): void {
  const n = y.length;
  let c = 0;
  for (let i = 0; i < n; i++) {
    y[i] = a[i] + b[c];
    if (++c === C) c = 0;
  }
}

/**
 * Inference BatchNorm with per-channel (last dim) statistics: offset + (x - mean) * (scale / sqrt(var + eps)),
 * the cpu formula with the per-channel factor computed once (it rounds within an ulp of the cpu's). On a
 * pending channels-last convolution it joins the epilogue.
 */
const batchNorm: KernelConfig = {
  kernelName: 'FusedBatchNorm',
  backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const { backend } = args;
    const { x, mean, variance, scale, offset } = args.inputs as Record<string, TensorInfo | undefined>;
    const mv = floats(backend, mean),
      vv = floats(backend, variance);
    const sv = scale ? floats(backend, scale) : new Float32Array([1]);
    const ov = offset ? floats(backend, offset) : new Float32Array([0]);
    if (x?.dtype !== 'float32' || !mean || !variance || !mv || !vv || !sv || !ov || x.shape.length === 0)
      return cpu('FusedBatchNorm', args);
    // The cpu kernel's rank checks (and their errors) stay its own.
    if (
      mean.shape.length !== variance.shape.length ||
      (offset && offset.shape.length !== mean.shape.length) ||
      (scale && scale.shape.length !== mean.shape.length)
    )
      return cpu('FusedBatchNorm', args);
    const C = x.shape[x.shape.length - 1];
    const perChannel = (v: Float32Array) => v.length === C || v.length === 1;
    if (C < 1 || !perChannel(mv) || !perChannel(vv) || !perChannel(sv) || !perChannel(ov)) return cpu('FusedBatchNorm', args);
    const eps = (args.attrs?.varianceEpsilon as number | undefined) ?? 0.001;
    const at = (v: Float32Array, c: number) => (v.length === 1 ? v[0] : v[c]);
    const k = new Float64Array(C),
      m = new Float64Array(C),
      o = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      k[c] = at(sv, c) / Math.sqrt(at(vv, c) + eps);
      m[c] = at(mv, c);
      o[c] = at(ov, c);
    }
    const pending = pendingConvOf(backend, x);
    const deps = [mean.dataId, variance.dataId, ...(scale ? [scale.dataId] : []), ...(offset ? [offset.dataId] : [])];
    const extended = pending && withBatchNorm(pending, C, { m, k, o, deps, eps });
    if (extended) return pendingTensor(backend, x.shape.slice(), extended);
    const xv = floats(backend, x);
    if (!xv) return cpu('FusedBatchNorm', args);
    const y = backend.alloc(xv.length);
    normalize(xv, m, k, o, C, y);
    return backend.makeTensorInfo(x.shape.slice(), 'float32', y);
  }) as unknown as KernelFunc,
};

function normalize(x: Float32Array, m: Float64Array, k: Float64Array, o: Float64Array, C: number, y: Float32Array): void {
  const n = y.length;
  let c = 0;
  for (let i = 0; i < n; i++) {
    y[i] = o[c] + (x[i] - m[c]) * k[c];
    if (++c === C) c = 0;
  }
}

export const ELEMENTWISE_KERNELS: KernelConfig[] = [relu, relu6, clip, add, batchNorm];
