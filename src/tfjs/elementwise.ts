// Elementwise kernels that sit between the convolutions of CNNs (ReLU, ReLU6, clipByValue for
// tf.layers' ReLU(maxValue), inference BatchNorm, residual Add). tfjs-backend-cpu runs them through a
// generic per-element callback; on float32 tensors these monomorphic loops do the same arithmetic several
// times faster (bench/tfjs.ts: they took most of MobileNetV2's time once its convolutions ran on fastconv).
// Anything else (other dtypes, broadcasting other than per-channel) is tfjs-backend-cpu's kernel.

import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernel } from '@tensorflow/tfjs-core';
import type { FastconvBackend } from './backend.js';

type Args = { inputs: NamedTensorInfoMap; backend: FastconvBackend; attrs?: NamedAttrMap };

function cpu(name: string, args: Args): TensorInfo {
  const k = getKernel(name, 'cpu');
  if (!k) throw new Error(`fastconv/tfjs: tfjs-backend-cpu has no '${name}' kernel registered (import '@tensorflow/tfjs-backend-cpu')`);
  return k.kernelFunc(args as Parameters<KernelFunc>[0]) as TensorInfo;
}

function floats(backend: FastconvBackend, t: TensorInfo | undefined | null): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId)?.values;
  return v instanceof Float32Array ? v : null;
}

/** A unary float32 kernel with the cpu backend's formula written as one loop. */
function unary(name: string, loop: (x: Float32Array, y: Float32Array, attrs: NamedAttrMap) => void): KernelConfig {
  return {
    kernelName: name, backendName: 'fastconv',
    kernelFunc: ((args: Args): TensorInfo => {
      const x = args.inputs.x as TensorInfo | undefined;
      const xv = floats(args.backend, x);
      if (!xv) return cpu(name, args);
      const y = new Float32Array(xv.length);
      loop(xv, y, args.attrs ?? {});
      return args.backend.makeTensorInfo(x!.shape.slice(), 'float32', y);
    }) as unknown as KernelFunc,
  };
}

const relu = unary('Relu', (x, y) => { for (let i = 0; i < x.length; i++) y[i] = Math.max(0, x[i]); });
const relu6 = unary('Relu6', (x, y) => { for (let i = 0; i < x.length; i++) y[i] = Math.min(Math.max(0, x[i]), 6); });
const clip = unary('ClipByValue', (x, y, attrs) => {
  const lo = attrs.clipValueMin as number, hi = attrs.clipValueMax as number;
  for (let i = 0; i < x.length; i++) { const v = x[i]; y[i] = v > hi ? hi : v < lo ? lo : v; }
});

/** Add of two float32 tensors of one shape, or of a tensor and a vector along its last dim (a bias). */
const add: KernelConfig = {
  kernelName: 'Add', backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const { a, b } = args.inputs as Record<string, TensorInfo>;
    const av = floats(args.backend, a), bv = floats(args.backend, b);
    if (!av || !bv) return cpu('Add', args);
    const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    if (same) {
      const y = new Float32Array(av.length);
      for (let i = 0; i < y.length; i++) y[i] = av[i] + bv[i];
      return args.backend.makeTensorInfo(a.shape.slice(), 'float32', y);
    }
    const C = a.shape[a.shape.length - 1];
    if (b.shape.length === 1 && a.shape.length >= 1 && b.shape[0] === C && C > 0) {
      const y = new Float32Array(av.length);
      for (let i = 0; i < y.length; i += C) for (let c = 0; c < C; c++) y[i + c] = av[i + c] + bv[c];
      return args.backend.makeTensorInfo(a.shape.slice(), 'float32', y);
    }
    return cpu('Add', args);
  }) as unknown as KernelFunc,
};

/**
 * Inference BatchNorm with per-channel (last dim) statistics: offset + (x - mean) * (scale / sqrt(var + eps)),
 * the cpu formula with the per-channel factor computed once (it rounds within an ulp of the cpu's).
 */
const batchNorm: KernelConfig = {
  kernelName: 'FusedBatchNorm', backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const { x, mean, variance, scale, offset } = args.inputs as Record<string, TensorInfo | undefined>;
    const xv = floats(args.backend, x), mv = floats(args.backend, mean), vv = floats(args.backend, variance);
    const sv = scale ? floats(args.backend, scale) : new Float32Array([1]);
    const ov = offset ? floats(args.backend, offset) : new Float32Array([0]);
    if (!x || !xv || !mv || !vv || !sv || !ov || x.shape.length === 0) return cpu('FusedBatchNorm', args);
    // The cpu kernel's rank checks (and their errors) stay its own.
    if (mean!.shape.length !== variance!.shape.length || (offset && offset.shape.length !== mean!.shape.length)
        || (scale && scale.shape.length !== mean!.shape.length)) return cpu('FusedBatchNorm', args);
    const C = x.shape[x.shape.length - 1];
    const perChannel = (v: Float32Array) => v.length === C || v.length === 1;
    if (C < 1 || !perChannel(mv) || !perChannel(vv) || !perChannel(sv) || !perChannel(ov)) return cpu('FusedBatchNorm', args);
    const eps = (args.attrs?.varianceEpsilon as number | undefined) ?? 0.001;
    const at = (v: Float32Array, c: number) => (v.length === 1 ? v[0] : v[c]);
    const k = new Float64Array(C), m = new Float64Array(C), o = new Float64Array(C);
    for (let c = 0; c < C; c++) { k[c] = at(sv, c) / Math.sqrt(at(vv, c) + eps); m[c] = at(mv, c); o[c] = at(ov, c); }
    const y = new Float32Array(xv.length);
    for (let i = 0; i < y.length; i += C) for (let c = 0; c < C; c++) y[i + c] = o[c] + (xv[i + c] - m[c]) * k[c];
    return args.backend.makeTensorInfo(x.shape.slice(), 'float32', y);
  }) as unknown as KernelFunc,
};

export const ELEMENTWISE_KERNELS: KernelConfig[] = [relu, relu6, clip, add, batchNorm];
