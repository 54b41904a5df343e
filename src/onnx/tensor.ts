// Small tensor helpers of the runner's non-convolution ops (NCHW, row-major).

import type { DType, Value } from './parse.js';
import { OnnxError } from './parse.js';

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function alloc(dtype: DType, shape: number[]): Value {
  const n = numel(shape);
  return { dtype, shape, data: dtype === 'float32' ? new Float32Array(n) : new Float64Array(n) };
}

export function broadcastShape(a: readonly number[], b: readonly number[], what: string): number[] {
  const r = Math.max(a.length, b.length),
    out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1,
      y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1)
      throw new OnnxError(`${what}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Strides of `shape` read as `out` (0 along broadcast dimensions). */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const s = stridesOf(shape),
    r = out.length,
    off = r - shape.length;
  return out.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]));
}

/**
 * out[i] = f(a[i'], b[i'']) with numpy broadcasting. Same shapes, a scalar side and a per-channel side
 * (the shapes conv nets broadcast) run as flat loops; the rest walks an odometer over the outer dims.
 */
export function binary(a: Value, b: Value, dtype: DType, f: (x: number, y: number) => number, what: string, into?: Value): Value {
  const shape = broadcastShape(a.shape, b.shape, what);
  const out = into ?? alloc(dtype, shape);
  const o = out.data,
    x = a.data,
    y = b.data,
    n = o.length;
  if (x.length === n && y.length === n) {
    for (let i = 0; i < n; i++) o[i] = f(x[i], y[i]);
    return out;
  }
  if (y.length === 1 && x.length === n) {
    const v = y[0];
    for (let i = 0; i < n; i++) o[i] = f(x[i], v);
    return out;
  }
  if (x.length === 1 && y.length === n) {
    const v = x[0];
    for (let i = 0; i < n; i++) o[i] = f(v, y[i]);
    return out;
  }
  const r = shape.length,
    sa = broadcastStrides(a.shape, shape),
    sb = broadcastStrides(b.shape, shape);
  const inner = shape[r - 1] ?? 1,
    ia = sa[r - 1] ?? 0,
    ib = sb[r - 1] ?? 0;
  const idx = new Array<number>(Math.max(r - 1, 0)).fill(0);
  let pa = 0,
    pb = 0;
  for (let base = 0; base < n; base += inner) {
    for (let j = 0, qa = pa, qb = pb; j < inner; j++, qa += ia, qb += ib) o[base + j] = f(x[qa], y[qb]);
    for (let d = r - 2; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        pa += sa[d];
        pb += sb[d];
        break;
      }
      pa -= sa[d] * (shape[d] - 1);
      pb -= sb[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
  return out;
}

export function transpose(x: Value, perm: number[]): Value {
  const shape = perm.map((p) => x.shape[p]);
  const out = alloc(x.dtype, shape);
  const s = stridesOf(x.shape),
    ps = perm.map((p) => s[p]),
    r = shape.length,
    o = out.data,
    d = x.data;
  const idx = new Array<number>(r).fill(0);
  let src = 0;
  for (let i = 0; i < o.length; i++) {
    o[i] = d[src];
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) {
        src += ps[k];
        break;
      }
      src -= ps[k] * (shape[k] - 1);
      idx[k] = 0;
    }
  }
  return out;
}

export function normAxis(axis: number, rank: number, what: string, forInsert = false): number {
  const r = forInsert ? rank + 1 : rank;
  if (!Number.isInteger(axis) || axis < -r || axis >= Math.max(r, 1))
    throw new OnnxError(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + r : axis;
}

/** Copies the [outer, mid, inner] block view: used by Concat, Split and Slice along one axis. */
export function copyBlock(
  src: Float32Array | Float64Array,
  dst: Float32Array | Float64Array,
  outer: number,
  srcMid: number,
  dstMid: number,
  len: number,
  srcOff: number,
  dstOff: number,
  inner: number
): void {
  for (let o = 0; o < outer; o++) {
    const s = (o * srcMid + srcOff) * inner,
      t = (o * dstMid + dstOff) * inner;
    dst.set(src.subarray(s, s + len * inner), t);
  }
}
