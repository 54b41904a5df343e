// Pooling kernels with TF.js's semantics, as channels-innermost loops over NHWC float32: MaxPool, AvgPool,
// MaxPoolGrad, AvgPoolGrad, and Mean (global average pooling is Mean over H and W in tf.layers).
//
// TF.js's rules, which differ from PyTorch's (src/pool.ts) and are mirrored here, not re-derived:
// - windows come from computePool2DInfo: 'same' may pad more after than before, explicit and numeric pads
//   and dimRoundingMode are allowed; a window is clipped to the input, never padded with values;
// - MaxPool ignores NaN (a tap wins only if greater) and gives -Infinity for a window without a winner;
//   MaxPoolGrad sends dy to the first tap (row-major) holding the strict maximum;
// - AvgPool divides by the taps inside the input (padding excluded), but AvgPoolGrad spreads dy with
//   1 / (filterHeight * filterWidth) (padding included), and computes its windows without dimRoundingMode;
// - sums in float64, as tfjs-backend-cpu's loops do, in the same order, so results are the cpu's bit for bit.
// Calls these loops do not take (other dtypes, shapes TF.js rejects, identity pools) go to tfjs-backend-cpu.

import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { FastconvBackend } from './backend.js';
import { runCpuKernel } from './backend.js';

type Args = { inputs: NamedTensorInfoMap; backend: FastconvBackend; attrs?: NamedAttrMap };

/** Calls per kernel that these loops ran (the tests check that the fast path is the one they exercise). */
export const poolCounts: Record<string, number> = {};

function floats(backend: FastconvBackend, t: TensorInfo | undefined): Float32Array | null {
  if (t?.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId)?.values;
  return v instanceof Float32Array ? v : null;
}

interface Window {
  N: number;
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
  eh: number;
  ew: number;
  fh: number;
  fw: number;
}

const isCount = (v: number, min: number) => Number.isInteger(v) && v >= min;

/** TF.js's pooling windows for x's shape, or null where the cpu kernel should decide (and maybe throw). */
function windowOf(shape: number[], attrs: NamedAttrMap, rounding: boolean): Window | null {
  if (shape.length !== 4) return null;
  let info: backend_util.Conv2DInfo;
  try {
    info = backend_util.computePool2DInfo(
      shape as [number, number, number, number],
      attrs.filterSize as [number, number],
      attrs.strides as [number, number],
      1,
      attrs.pad as 'same',
      rounding ? (attrs.dimRoundingMode as 'floor') : undefined
    );
  } catch {
    return null;
  }
  const w: Window = {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
    eh: info.effectiveFilterHeight,
    ew: info.effectiveFilterWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
  };
  if (!isCount(w.N, 0) || !isCount(w.H, 0) || !isCount(w.W, 0) || !isCount(w.C, 0) || !isCount(w.OH, 0) || !isCount(w.OW, 0))
    return null;
  if (!isCount(w.sh, 1) || !isCount(w.sw, 1) || !isCount(w.fh, 1) || !isCount(w.fw, 1) || w.eh !== w.fh || w.ew !== w.fw)
    return null;
  if (!Number.isInteger(w.top) || !Number.isInteger(w.left)) return null;
  return w;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const outShape = (w: Window) => [w.N, w.OH, w.OW, w.C];

/** The forward kernels' own shortcut: a 1x1 pool that keeps the shape is the identity (the cpu's, sharing the data). */
function isIdentity(w: Window): boolean {
  return w.fh === 1 && w.fw === 1 && w.OH === w.H && w.OW === w.W;
}

/** The rows [r0, r1) and columns [c0, c1) of output (oh, ow)'s window inside the input. */
function rows(w: Window, oh: number): [number, number] {
  const corner = oh * w.sh - w.top;
  return [Math.max(0, corner), Math.min(w.H, corner + w.eh)];
}
function cols(w: Window, ow: number): [number, number] {
  const corner = ow * w.sw - w.left;
  return [Math.max(0, corner), Math.min(w.W, corner + w.ew)];
}

function maxPoolLoop(x: Float32Array, w: Window, y: Float32Array): void {
  const { N, H, W, C, OH, OW } = w;
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const [r0, r1] = rows(w, oh);
      for (let ow = 0; ow < OW; ow++, o += C) {
        const [c0, c1] = cols(w, ow);
        y.fill(-Infinity, o, o + C);
        for (let r = r0; r < r1; r++) {
          for (let s = c0; s < c1; s++) {
            const src = ((n * H + r) * W + s) * C;
            for (let c = 0; c < C; c++) {
              const v = x[src + c];
              if (v > y[o + c]) y[o + c] = v;
            }
          }
        }
      }
    }
  }
}

function avgPoolLoop(x: Float32Array, w: Window, y: Float32Array): void {
  const { N, H, W, C, OH, OW } = w;
  const acc = new Float64Array(C);
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const [r0, r1] = rows(w, oh);
      for (let ow = 0; ow < OW; ow++, o += C) {
        const [c0, c1] = cols(w, ow);
        acc.fill(0);
        for (let r = r0; r < r1; r++) {
          for (let s = c0; s < c1; s++) {
            const src = ((n * H + r) * W + s) * C;
            for (let c = 0; c < C; c++) acc[c] += x[src + c];
          }
        }
        // An empty window (a 'ceil' output past the input) is 0 / 0 = NaN, as on the cpu.
        const count = Math.max(0, r1 - r0) * Math.max(0, c1 - c0);
        for (let c = 0; c < C; c++) y[o + c] = acc[c] / count;
      }
    }
  }
}

function forwardPool(name: 'MaxPool' | 'AvgPool'): KernelConfig {
  return {
    kernelName: name,
    backendName: 'fastconv',
    kernelFunc: ((args: Args): TensorInfo => {
      const x = args.inputs.x as TensorInfo | undefined;
      const xv = floats(args.backend, x);
      const w = x && xv ? windowOf(x.shape, args.attrs ?? {}, true) : null;
      if (!xv || !w || isIdentity(w)) return runCpuKernel(name, args);
      poolCounts[name] = (poolCounts[name] ?? 0) + 1;
      const y = args.backend.alloc(w.N * w.OH * w.OW * w.C);
      (name === 'MaxPool' ? maxPoolLoop : avgPoolLoop)(xv, w, y);
      return args.backend.makeTensorInfo(outShape(w), 'float32', y);
    }) as unknown as KernelFunc,
  };
}

/** dx of max pooling: each output's dy goes to its window's first strict maximum (none if no tap beats -Inf). */
function maxPoolGradLoop(x: Float32Array, dy: Float32Array, w: Window, dx: Float64Array): void {
  const { N, H, W, C, OH, OW } = w;
  const best = new Float64Array(C),
    at = new Int32Array(C);
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const [r0, r1] = rows(w, oh);
      for (let ow = 0; ow < OW; ow++, o += C) {
        const [c0, c1] = cols(w, ow);
        best.fill(-Infinity);
        at.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let s = c0; s < c1; s++) {
            const src = ((n * H + r) * W + s) * C;
            for (let c = 0; c < C; c++) {
              const v = x[src + c];
              if (v > best[c]) {
                best[c] = v;
                at[c] = src + c;
              }
            }
          }
        }
        for (let c = 0; c < C; c++) if (at[c] >= 0) dx[at[c]] += dy[o + c];
      }
    }
  }
}

/** dx of average pooling, TF.js's way: the sum of dy over every window covering the tap, times 1 / (fh * fw). */
function avgPoolGradLoop(dy: Float32Array, w: Window, dx: Float64Array): void {
  const { N, H, W, C, OH, OW } = w;
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const [r0, r1] = rows(w, oh);
      for (let ow = 0; ow < OW; ow++, o += C) {
        const [c0, c1] = cols(w, ow);
        for (let r = r0; r < r1; r++) {
          for (let s = c0; s < c1; s++) {
            const dst = ((n * H + r) * W + s) * C;
            for (let c = 0; c < C; c++) dx[dst + c] += dy[o + c];
          }
        }
      }
    }
  }
}

const maxPoolGrad: KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const { dy, input } = args.inputs as Record<string, TensorInfo | undefined>;
    const xv = floats(args.backend, input),
      dyv = floats(args.backend, dy);
    const w = input && xv && dyv ? windowOf(input.shape, args.attrs ?? {}, true) : null;
    if (!input || !dy || !xv || !dyv || !w || !sameShape(dy.shape, outShape(w))) return runCpuKernel('MaxPoolGrad', args);
    poolCounts.MaxPoolGrad = (poolCounts.MaxPoolGrad ?? 0) + 1;
    const acc = new Float64Array(xv.length);
    maxPoolGradLoop(xv, dyv, w, acc);
    const dx = args.backend.alloc(acc.length);
    for (let i = 0; i < acc.length; i++) dx[i] = acc[i];
    return args.backend.makeTensorInfo(input.shape.slice(), 'float32', dx);
  }) as unknown as KernelFunc,
};

const avgPoolGrad: KernelConfig = {
  kernelName: 'AvgPoolGrad',
  backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const { dy, input } = args.inputs as Record<string, TensorInfo | undefined>;
    const dyv = floats(args.backend, dy);
    // TF.js's AvgPoolGrad computes its windows without dimRoundingMode.
    const w = dyv && input && input.dtype === 'float32' ? windowOf(input.shape, args.attrs ?? {}, false) : null;
    if (!input || !dy || !dyv || !w || !sameShape(dy.shape, outShape(w))) return runCpuKernel('AvgPoolGrad', args);
    poolCounts.AvgPoolGrad = (poolCounts.AvgPoolGrad ?? 0) + 1;
    const acc = new Float64Array(w.N * w.H * w.W * w.C);
    avgPoolGradLoop(dyv, w, acc);
    const k = 1 / (w.fh * w.fw);
    const dx = args.backend.alloc(acc.length);
    for (let i = 0; i < acc.length; i++) dx[i] = acc[i] * k;
    return args.backend.makeTensorInfo(input.shape.slice(), 'float32', dx);
  }) as unknown as KernelFunc,
};

/**
 * Mean of float32 over one contiguous run of axes (tf.layers' global average pooling: axes [1, 2] of
 * NHWC). As the cpu kernel: each element divided by the count in float32 first, then summed in float64.
 */
const mean: KernelConfig = {
  kernelName: 'Mean',
  backendName: 'fastconv',
  kernelFunc: ((args: Args): TensorInfo => {
    const x = args.inputs.x as TensorInfo | undefined;
    const xv = floats(args.backend, x);
    if (!x || !xv) return runCpuKernel('Mean', args);
    const shape = x.shape;
    let axes: number[];
    try {
      axes = util
        .parseAxisParam(args.attrs?.axis as number[], shape)
        .slice()
        .sort((a, b) => a - b);
    } catch {
      return runCpuKernel('Mean', args);
    }
    const contiguous = axes.length > 0 && axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
    if (!contiguous) return runCpuKernel('Mean', args);
    const first = axes[0],
      last = axes[axes.length - 1];
    const outer = shape.slice(0, first).reduce((a, b) => a * b, 1);
    const mid = shape.slice(first, last + 1).reduce((a, b) => a * b, 1);
    const inner = shape.slice(last + 1).reduce((a, b) => a * b, 1);
    if (mid === 0) return runCpuKernel('Mean', args);
    poolCounts.Mean = (poolCounts.Mean ?? 0) + 1;
    const keep = args.attrs?.keepDims === true;
    const out = keep ? shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : shape.filter((_, i) => i < first || i > last);
    const y = args.backend.alloc(outer * inner);
    const acc = new Float64Array(inner);
    for (let a = 0; a < outer; a++) {
      acc.fill(0);
      let src = a * mid * inner;
      for (let m = 0; m < mid; m++, src += inner) {
        for (let i = 0; i < inner; i++) acc[i] += Math.fround(xv[src + i] / mid);
      }
      for (let i = 0; i < inner; i++) y[a * inner + i] = acc[i];
    }
    return args.backend.makeTensorInfo(out, 'float32', y);
  }) as unknown as KernelFunc,
};

export const POOL_KERNELS: KernelConfig[] = [forwardPool('MaxPool'), forwardPool('AvgPool'), maxPoolGrad, avgPoolGrad, mean];
