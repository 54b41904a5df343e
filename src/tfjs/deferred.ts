// Deferred convolution outputs. A tf.layers CNN runs conv -> batchNorm -> relu (-> clipByValue, -> add) as
// separate kernels, each a full pass over memory into a new array; TF.js cannot tell a kernel what comes
// next. So a forward convolution returns its tensor unevaluated (FastconvBackend.makePending), and the
// elementwise kernels that follow, when their input is such a tensor, return another unevaluated tensor:
// the same convolution with a longer epilogue. Whichever tensor is read first (by a later convolution, a
// cpu kernel, dataSync) runs the convolution and its epilogue in one pass over the output. Tensors of the
// chain that are never read are never computed; one read after its successor was computed runs the
// convolution again (correct, only slower; tf.layers models do not read them).
//
// A batch norm right after the convolution is folded into its weights (convjob.ts); otherwise each stage
// keeps TF.js's arithmetic and float32 rounding, so the results are those of the separate kernels: batch
// norm's offset + (x - mean) * (scale / sqrt(variance + eps)), then a same-shape add, then relu / relu6 /
// relu followed by clipByValue(lo >= 0, hi) on the bit patterns (the ReLU inside fastconv's kernel where
// nothing comes before it).

import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { FastconvBackend } from './backend.js';
import { bitsOf, f32bits, nonNegativeBounds } from './bits.js';
import type { BatchNormFold } from './convjob.js';

export type EpilogueActivation = 'linear' | 'relu' | 'relu6' | 'reluclip';

export interface Epilogue {
  /** Batch norm per channel (last dim): o + (x - m) * k. Channels-last outputs only. */
  affine: { m: Float64Array; k: Float64Array; o: Float64Array } | null;
  /** A same-shape tensor's values added after the affine (a residual connection). */
  addend: Float32Array | null;
  act: EpilogueActivation;
  /** reluclip's bounds (0 <= lo <= hi as float32). */
  lo: number;
  hi: number;
}

export const LINEAR: Epilogue = { affine: null, addend: null, act: 'linear', lo: 0, hi: 0 };

/** A convolution captured with its inputs, run into `out` with an epilogue. */
export interface ConvJob {
  /** Output elements. */
  size: number;
  /** Output channels, and whether they are the last dim (else NCHW). */
  K: number;
  channelsLast: boolean;
  /** The tensors' arrays `run` reads (to be kept from recycling until it ran). */
  pins: Float32Array[];
  /** This convolution with a batch norm folded into its weights and bias, or null where it does not fold. */
  fold?: (bn: BatchNormFold) => ConvJob | null;
  run(out: Float32Array, epi: Epilogue): void;
}

/** What a pending tensor is: a job and the epilogue that gives this tensor's values. */
export interface PendingConv {
  job: ConvJob;
  epi: Epilogue;
}

/** The tensor p describes, unevaluated (see FastconvBackend.makePending). */
export function pendingTensor(backend: FastconvBackend, shape: number[], p: PendingConv): TensorInfo {
  const pins = p.epi.addend ? [...p.job.pins, p.epi.addend] : p.job.pins;
  return backend.makePending(shape, p, () => evaluate(backend, p), pins);
}

/** p's values now, into an array of the backend's pool. */
export function evaluate(backend: FastconvBackend, p: PendingConv): Float32Array {
  const out = backend.alloc(p.job.size);
  p.job.run(out, p.epi);
  if (nonNegative(p.epi)) backend.markNonNegative(out);
  return out;
}

/** The pending conv behind a float32 tensor, if it is one. */
export function pendingConvOf(backend: FastconvBackend, t: TensorInfo | undefined | null): PendingConv | undefined {
  return t?.dtype === 'float32' ? (backend.pendingMeta(t.dataId) as PendingConv | undefined) : undefined;
}

/**
 * batchNorm after the pending conv: folded into its weights where it can be, else a stage of the epilogue;
 * null where it does not compose (it then runs on the values).
 */
export function withBatchNorm(p: PendingConv, lastDim: number, bn: BatchNormFold): PendingConv | null {
  const e = p.epi;
  if (!p.job.channelsLast || lastDim !== p.job.K || e.affine || e.addend || e.act !== 'linear') return null;
  const folded = p.job.fold?.(bn);
  if (folded) return { job: folded, epi: e };
  return { job: p.job, epi: { ...e, affine: { m: bn.m, k: bn.k, o: bn.o } } };
}

/** A same-shape add after the pending conv, or null. */
export function withAddend(p: PendingConv, addend: Float32Array): PendingConv | null {
  const e = p.epi;
  if (e.addend || e.act !== 'linear' || addend.length !== p.job.size) return null;
  return { job: p.job, epi: { ...e, addend } };
}

/** relu, relu6 or clipByValue after the pending conv, or null where the pair has no single form here. */
export function withActivation(p: PendingConv, op: 'relu' | 'relu6' | 'clip', lo = 0, hi = 0): PendingConv | null {
  const e = p.epi;
  let act: EpilogueActivation | null = null;
  let nlo = e.lo,
    nhi = e.hi;
  if (op === 'relu') act = e.act === 'linear' ? 'relu' : e.act;
  else if (op === 'relu6') act = e.act === 'linear' || e.act === 'relu' || e.act === 'relu6' ? 'relu6' : null;
  else if (e.act === 'relu' && nonNegativeBounds(lo, hi)) {
    act = 'reluclip';
    nlo = lo;
    nhi = hi;
  }
  return act ? { job: p.job, epi: { ...e, act, lo: nlo, hi: nhi } } : null;
}

/** Whether values under this epilogue hold no negative number and no -0. */
export function nonNegative(e: Epilogue): boolean {
  return e.act !== 'linear';
}

const SIX = 0x40c00000;

/**
 * The epilogue over y in place. Channels-last: channel i % K (a flat loop with a channel counter, which
 * V8 keeps tight); NCHW outputs take no per-channel stage.
 */
export function applyEpilogue(y: Float32Array, e: Epilogue, K: number, channelsLast: boolean): void {
  const n = y.length;
  const { affine, addend } = e;
  if (affine) {
    if (!channelsLast) throw new Error('fastconv/tfjs: a per-channel epilogue on an NCHW output');
    const { m, k, o } = affine;
    let c = 0;
    for (let i = 0; i < n; i++) {
      let v = Math.fround(o[c] + (y[i] - m[c]) * k[c]);
      if (addend) v += addend[i];
      y[i] = v;
      if (++c === K) c = 0;
    }
  } else if (addend) {
    for (let i = 0; i < n; i++) y[i] += addend[i];
  }
  const bits = bitsOf(y);
  if (e.act === 'relu') {
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
      bits[i] = b & ~((b >> 31) & ~nan);
    }
  } else if (e.act === 'relu6') {
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
      const d = (b & ~(b >> 31)) - SIX;
      bits[i] = (b & nan) | ((SIX + (d & (d >> 31))) & ~nan);
    }
  } else if (e.act === 'reluclip') {
    // relu, then clipNonNegativeBits's clamp, in one pass.
    const loBits = f32bits(e.lo),
      hiBits = f32bits(e.hi);
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
      const r = b & ~(b >> 31);
      const d = r - loBits;
      const t = loBits + (d & ~(d >> 31));
      const f = t - hiBits;
      bits[i] = (b & nan) | ((hiBits + (f & (f >> 31))) & ~nan);
    }
  }
}
