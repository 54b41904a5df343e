// A forward convolution captured with its inputs (a ConvJob, deferred.ts): what fastconv runs, and how.
//
// Two paths, both on fastconv's NCHW kernels:
// - pointwise (NHWC 1x1, no padding): x [M pixels, C] times the HWIO filter [C, K] is NHWC y [M, K]
//   directly. fastconv computes out[k][p] = sum_c w[k][c] in[c][p]; with the pixels as its output channels
//   (weight = x as [M, C, 1, 1]) and the filter as its input ([1, C, 1, K]: K "pixels"), its NCHW output
//   [1, M, 1, K] is y, so neither side is transposed. A bias becomes one more input channel: a column of
//   ones after x's C channels and the bias as the filter's last row (fastconv's own bias would be per pixel).
//   Strided, the sampled pixels are gathered. No padding means no skipped taps: NaN/Inf anywhere give
//   TF.js's results.
// - general: the filter transposed to [K, C/groups, R, S] and kept with fastconv's transformed weights (a
//   PackedConv per filter tensor and attributes); NHWC staged through reused channels-first scratch arrays.
//
// A batch norm after the convolution (the usual tf.layers conv -> batchNormalization) is folded in when
// the job is pending: weights scaled per output channel by k = scale / sqrt(variance + eps), bias
// (bias - mean) * k + offset, computed once per filter and statistics tensors and kept with them. Folding changes the float rounding (products of scaled
// weights instead of a scaled sum: within a few float32 ulps of the output's magnitude, as TF.js's own
// converter does when it folds batch norms into graph models). A ReLU or ReLU6 after that runs inside
// fastconv's kernel.

import type { DataId } from '@tensorflow/tfjs-core';
import { convolve } from '../conv.js';
import type { FastconvBackend } from './backend.js';
import { bitsOf, clipNonNegativeBits, firstToLast, lastToFirst } from './bits.js';
import type { ConvJob, Epilogue } from './deferred.js';
import { applyEpilogue } from './deferred.js';
import type { ConvGeometry } from './geometry.js';
import { allFinite } from './geometry.js';

/** A batch norm's per-channel factors and the tensors they came from. */
export interface BatchNormFold {
  k: Float64Array;
  m: Float64Array;
  o: Float64Array;
  /** The statistics tensors (mean, variance, and scale/offset when given) and epsilon, which key the cache. */
  deps: DataId[];
  eps: number;
}

/** What a job is made of (kept so that a batch norm can be folded into it later). */
export interface ConvSpec {
  pointwise: boolean;
  depthwise: boolean;
  g: ConvGeometry;
  xv: Float32Array;
  filterId: DataId;
  /** The filter's values as TF.js holds them (HWIO, or depthwise [R, S, C, M]). */
  filter: Float32Array;
  /** The filter as fastconv's [K, C/groups, R, S] (general path only). */
  kcrs: Float32Array | null;
  bias: Float32Array | null;
  biasId: DataId | null;
}

const idOf = (d: DataId | null) => (d === null ? '-' : String((d as { id?: number }).id ?? '?'));

/** The weights and bias the job hands fastconv, after folding `bn` (null: non-finite after folding). */
function effective(spec: ConvSpec, bn: BatchNormFold | null): { weight: Float32Array; bias: Float32Array | null } | null {
  const { g } = spec;
  const K = g.info.outChannels;
  // A copy: a pending job may run after the bias tensor (and its array) is gone.
  let bias = spec.bias?.slice() ?? null;
  if (bn) {
    const b = new Float32Array(K);
    for (let c = 0; c < K; c++) b[c] = ((bias ? bias[c] : 0) - bn.m[c]) * bn.k[c] + bn.o[c];
    bias = b;
  }
  let weight: Float32Array;
  if (spec.pointwise) {
    // [C (+1 for the bias row), K]: output channel k is column k.
    const C = g.info.inChannels;
    weight = new Float32Array((C + (bias ? 1 : 0)) * K);
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < K; k++) weight[c * K + k] = bn ? spec.filter[c * K + k] * bn.k[k] : spec.filter[c * K + k];
    }
    if (bias) weight.set(bias, C * K);
    bias = null;
  } else {
    const src = spec.kcrs as Float32Array;
    const per = src.length / K;
    weight = bn ? new Float32Array(src.length) : src;
    if (bn) for (let k = 0; k < K; k++) for (let j = 0; j < per; j++) weight[k * per + j] = src[k * per + j] * bn.k[k];
  }
  if (bn && (!allFinite(weight) || (bias && !allFinite(bias)))) return null;
  return { weight, bias };
}

/** The job for `spec` with `bn` folded in (or none), its derived weights cached per filter tensor; null if bn does not fold. */
export function makeJob(backend: FastconvBackend, spec: ConvSpec, bn: BatchNormFold | null): ConvJob | null {
  const { g, pointwise, depthwise } = spec;
  const { info } = g;
  const C = info.inChannels,
    K = info.outChannels,
    N = info.batchSize,
    H = info.inHeight,
    W = info.inWidth;
  const OH = info.outHeight,
    OW = info.outWidth,
    R = info.filterHeight,
    S = info.filterWidth;
  const key =
    `${pointwise ? 'pw' : depthwise ? 'dw' : 'conv'} ${g.stride} ${g.dilation} ${g.padding} bias ${idOf(spec.biasId)}` +
    (bn ? ` bn ${bn.deps.map(idOf)} ${bn.eps}` : '');
  const deps = [...(spec.biasId ? [spec.biasId] : []), ...(bn ? bn.deps : [])];
  const conv = backend.packedConv(spec.filterId, key, deps);
  if (!conv) return null;
  if (!conv.data) {
    const e = effective(spec, bn);
    if (!e) return null;
    conv.data = e;
  }
  const { weight, bias } = conv.data;
  const M = N * OH * OW;
  const hasBiasRow = pointwise && weight.length === (C + 1) * K;
  const job: ConvJob = {
    // The weights are the PackedConv's copies; only the input array is TF.js's.
    size: N * K * OH * OW,
    K,
    channelsLast: g.channelsLast,
    pins: [spec.xv],
    fold: bn ? undefined : (next) => makeJob(backend, spec, next),
    run(out, epi) {
      if (job.size === 0) return;
      const activation = nativeActivation(epi);
      const nativeRelu = activation !== 'none';
      if (pointwise) {
        runPointwise(backend, spec, weight, hasBiasRow, out, activation, M);
        finish(out, epi, nativeRelu, K, true);
        return;
      }
      const options = { stride: g.stride, dilation: g.dilation, padding: g.padding, groups: depthwise ? C : 1, bias, activation };
      const w = { data: weight, shape: [K, depthwise ? 1 : C, R, S] };
      if (!g.channelsLast) {
        conv.forward({ data: spec.xv, shape: [N, C, H, W] }, w, { ...options, out });
        finish(out, epi, nativeRelu, K, false);
        return;
      }
      const xs = backend.scratch(0, N * C * H * W);
      lastToFirst(bitsOf(spec.xv), N, H * W, C, bitsOf(xs));
      const ys = backend.scratch(1, N * K * OH * OW);
      conv.forward({ data: xs, shape: [N, C, H, W] }, w, { ...options, out: ys });
      firstToLast(bitsOf(ys), N, K, OH * OW, bitsOf(out));
      finish(out, epi, nativeRelu, K, true);
    },
  };
  return job;
}

/**
 * fastconv's fused activation where the epilogue is only an activation: ReLU, ReLU6 (also relu then
 * clipByValue(0, 6), tf.layers' ReLU({ maxValue: 6 })), or ReLU before another clip.
 */
function nativeActivation(epi: Epilogue): 'none' | 'relu' | 'relu6' {
  if (epi.affine || epi.addend || epi.act === 'linear') return 'none';
  if (epi.act === 'relu6' || (epi.act === 'reluclip' && Object.is(epi.lo, 0) && epi.hi === 6)) return 'relu6';
  return 'relu';
}

/** What is left of the epilogue after fastconv's output: all of it, or after its ReLU another clip's bounds. */
function finish(out: Float32Array, epi: Epilogue, nativeRelu: boolean, K: number, channelsLast: boolean): void {
  if (!nativeRelu) {
    applyEpilogue(out, epi, K, channelsLast);
    return;
  }
  if (epi.act === 'reluclip' && !(Object.is(epi.lo, 0) && epi.hi === 6)) {
    const b = bitsOf(out);
    clipNonNegativeBits(b, b, epi.lo, epi.hi);
  }
}

function runPointwise(
  backend: FastconvBackend,
  spec: ConvSpec,
  weight: Float32Array,
  hasBiasRow: boolean,
  out: Float32Array,
  activation: 'none' | 'relu' | 'relu6',
  M: number
): void {
  const { g, xv } = spec;
  const { info } = g;
  const C = info.inChannels,
    K = info.outChannels,
    N = info.batchSize,
    H = info.inHeight,
    W = info.inWidth;
  const OH = info.outHeight,
    OW = info.outWidth,
    [sh, sw] = g.stride;
  const gather = sh !== 1 || sw !== 1 || OH !== H || OW !== W;
  const Ca = hasBiasRow ? C + 1 : C;
  let xs = xv;
  if (gather || hasBiasRow) {
    xs = backend.scratch(0, M * Ca);
    let o = 0;
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++, o += Ca) {
          const src = gather ? ((n * H + oh * sh) * W + ow * sw) * C : (n * OH * OW + oh * OW + ow) * C;
          xs.set(xv.subarray(src, src + C), o);
          if (hasBiasRow) xs[o + C] = 1;
        }
      }
    }
  }
  convolve(2, { data: weight, shape: [1, Ca, 1, K] }, { data: xs, shape: [M, Ca, 1, 1] }, { out, activation });
}
