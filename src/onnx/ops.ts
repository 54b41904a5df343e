// The runner's non-convolution operators. Each op reads and checks its attributes once, at load time
// (prepare), and returns a kernel over concrete values; the compiler runs the kernel at load for constant
// inputs (folding) and at run time otherwise. An attribute an op does not read is an error naming it.

import type { AttrValue, DType, OnnxNode, Value } from './parse.js';
import { ATTR, OnnxError } from './parse.js';
import { alloc, binary, broadcastShape, copyBlock, normAxis, numel, stridesOf, transpose } from './tensor.js';

export type Kernel = (inputs: (Value | undefined)[]) => Value[];

export class Attrs {
  private readonly used = new Set<string>();
  constructor(private readonly node: OnnxNode) {}

  fail(attr: string, msg: string): never {
    throw new OnnxError(`${this.node.label}: attribute '${attr}' ${msg}`);
  }

  private get(name: string, types: number[]): AttrValue | undefined {
    const a = this.node.attrs.get(name);
    if (!a) return undefined;
    this.used.add(name);
    if (!types.includes(a.type)) this.fail(name, `has attribute type ${a.type}, expected ${types.join(' or ')}`);
    return a.value;
  }

  has(name: string): boolean {
    return this.node.attrs.has(name);
  }
  int(name: string, d: number): number {
    return (this.get(name, [ATTR.INT]) as number | undefined) ?? d;
  }
  intOpt(name: string): number | undefined {
    return this.get(name, [ATTR.INT]) as number | undefined;
  }
  float(name: string, d: number): number {
    return (this.get(name, [ATTR.FLOAT]) as number | undefined) ?? d;
  }
  floatOpt(name: string): number | undefined {
    return this.get(name, [ATTR.FLOAT]) as number | undefined;
  }
  ints(name: string): number[] | undefined {
    return this.get(name, [ATTR.INTS]) as number[] | undefined;
  }
  floats(name: string): number[] | undefined {
    return this.get(name, [ATTR.FLOATS]) as number[] | undefined;
  }
  string(name: string, d: string): string {
    return (this.get(name, [ATTR.STRING]) as string | undefined) ?? d;
  }
  tensor(name: string): Value | undefined {
    return this.get(name, [ATTR.TENSOR]) as Value | undefined;
  }
  /** An attribute that only changes training behaviour (momentum, seed): read so it is not rejected. */
  ignore(...names: string[]): void {
    for (const n of names) if (this.node.attrs.has(n)) this.used.add(n);
  }
  /** Must hold `ok`, else an error naming the attribute and its value. */
  expect(name: string, ok: (v: AttrValue) => boolean, want: string): void {
    const a = this.node.attrs.get(name);
    if (a && !ok(a.value)) this.fail(name, `= ${JSON.stringify(a.value)} is not supported (${want})`);
    if (a) this.used.add(name);
  }
  unread(): string[] {
    return [...this.node.attrs.keys()].filter((k) => !this.used.has(k));
  }
}

export interface OpContext {
  node: OnnxNode;
  opset: number;
  at: Attrs;
  /** Whether input i is given (ONNX marks an omitted optional input with an empty name). */
  present(i: number): boolean;
  /** Input i's value when it is known at load time (a constant), else undefined. */
  constant(i: number): Value | undefined;
  /** Input i, which this op needs at load time (a shape, axes, pads...): an error if it is computed at run time. */
  requireConst(i: number, what: string): Value | undefined;
  fail(msg: string): never;
  /** fastconv's 2-D pools (PyTorch semantics: symmetric padding of at most half the kernel). */
  pool2d?: Pool2dApi;
}

export interface Pool2dApi {
  maxPool2d(x: { data: Float32Array; shape: number[] }, o: object): { data: Float32Array; shape: number[] };
  avgPool2d(x: { data: Float32Array; shape: number[] }, o: object): { data: Float32Array; shape: number[] };
}

type Prepare = (c: OpContext) => Kernel;

// Free functions (not c.fail) so TypeScript narrows after them inside the contextually typed op closures.
function fail(c: OpContext, msg: string): never {
  return c.fail(msg);
}
function afail(c: OpContext, attr: string, msg: string): never {
  return c.at.fail(attr, msg);
}

const ints = (v: Value): number[] => Array.from(v.data);

/** Input i, which this op needs at load time and which must be given (the caller checked c.present(i)). */
function constInput(c: OpContext, i: number, what: string): Value {
  const v = c.requireConst(i, what);
  if (!v) fail(c, `input ${i} (${what}) is missing`);
  return v;
}
const F32 = 'float32';

function wantFloat(c: OpContext, x: Value | undefined): Value {
  if (!x) fail(c, 'a required input is missing');
  return x;
}

function unary(f: (x: number) => number, keepType = false): Prepare {
  return (c) =>
    ([x]) => {
      const v = wantFloat(c, x),
        out = alloc(keepType ? v.dtype : F32, v.shape.slice()),
        o = out.data,
        d = v.data;
      for (let i = 0; i < d.length; i++) o[i] = f(d[i]);
      return [out];
    };
}

type ArithOp = 'add' | 'sub' | 'mul' | 'div';

/** Same-shape, scalar or per-channel ([1, C, 1, 1] / [C, 1, 1]) float arithmetic in dedicated loops, else null. */
function fastArith(op: ArithOp, a: Value, b: Value): Value | null {
  if (a.dtype !== F32 || b.dtype !== F32 || a.shape.length < b.shape.length) return null;
  const x = a.data,
    y = b.data,
    n = x.length;
  const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
  let per = 0,
    C = 0; // b varies along one channel axis 1 (run length per = H*W)
  if (!sameShape && y.length > 1) {
    const off = a.shape.length - b.shape.length,
      bs = b.shape;
    const axis = bs.findIndex((d) => d !== 1);
    if (axis < 0 || bs.some((d, i) => i !== axis && d !== 1) || axis + off !== 1 || bs[axis] !== a.shape[1]) return null;
    C = a.shape[1];
    per = numel(a.shape.slice(2));
  }
  const o = new Float32Array(n);
  if (sameShape) {
    switch (op) {
      case 'add':
        for (let i = 0; i < n; i++) o[i] = x[i] + y[i];
        break;
      case 'sub':
        for (let i = 0; i < n; i++) o[i] = x[i] - y[i];
        break;
      case 'mul':
        for (let i = 0; i < n; i++) o[i] = x[i] * y[i];
        break;
      case 'div':
        for (let i = 0; i < n; i++) o[i] = x[i] / y[i];
        break;
    }
  } else if (per === 0) {
    const v = y[0];
    switch (op) {
      case 'add':
        for (let i = 0; i < n; i++) o[i] = x[i] + v;
        break;
      case 'sub':
        for (let i = 0; i < n; i++) o[i] = x[i] - v;
        break;
      case 'mul':
        for (let i = 0; i < n; i++) o[i] = x[i] * v;
        break;
      case 'div':
        for (let i = 0; i < n; i++) o[i] = x[i] / v;
        break;
    }
  } else {
    for (let base = 0, ch = 0; base < n; base += per, ch = (ch + 1) % C) {
      const v = y[ch],
        e = base + per;
      switch (op) {
        case 'add':
          for (let i = base; i < e; i++) o[i] = x[i] + v;
          break;
        case 'sub':
          for (let i = base; i < e; i++) o[i] = x[i] - v;
          break;
        case 'mul':
          for (let i = base; i < e; i++) o[i] = x[i] * v;
          break;
        case 'div':
          for (let i = base; i < e; i++) o[i] = x[i] / v;
          break;
      }
    }
  }
  return { dtype: F32, shape: a.shape.slice(), data: o };
}

function arith(f: (x: number, y: number) => number, intF?: (x: number, y: number) => number, fast?: ArithOp): Prepare {
  return (c) =>
    ([a, b]) => {
      if (!a || !b) fail(c, 'needs two inputs');
      if (fast) {
        const r = fastArith(fast, a, b) ?? (fast === 'add' || fast === 'mul' ? fastArith(fast, b, a) : null);
        if (r) return [r];
      }
      const isInt = a.dtype !== F32 && b.dtype !== F32;
      return [binary(a, b, isInt ? 'int' : F32, isInt && intF ? intF : f, c.node.label)];
    };
}

function compare(f: (x: number, y: number) => boolean): Prepare {
  return (c) =>
    ([a, b]) => {
      if (!a || !b) fail(c, 'needs two inputs');
      return [binary(a, b, 'bool', (x, y) => (f(x, y) ? 1 : 0), c.node.label)];
    };
}

// ---- activations: in place on float data, one monomorphic loop each (a shared loop calling f(x) per
// element ran Clip at a tenth of memory speed), so they also serve as a convolution's epilogue. Clamps
// are Math.min/max, not comparisons: on conv outputs the branches mispredict (1.7x slower measured). ----

export type InPlace = (d: Float32Array) => void;

/** 2^(i - 127) for the exponent part of fastExpNeg. */
const POW2 = Float64Array.from({ length: 256 }, (_, i) => 2 ** (i - 127));

/**
 * exp(-v) as 2^k * p(f) (t = -v log2 e = k + f, |f| <= 1/2, p of degree 6): within 2.5e-7 relative,
 * float32's own rounding, and 2-3x faster than Math.exp, which took 13-20 ns per element here (the SiLU
 * epilogues were most of EfficientNet's time). Saturates past |t| = 126; NaN stays NaN.
 */
function fastExpNeg(v: number): number {
  let t = -v * Math.LOG2E;
  t = Math.min(126, Math.max(-126, t));
  const k = Math.round(t),
    f = t - k;
  const p =
    1 +
    f *
      (Math.LN2 +
        f *
          (0.2402265069591007 +
            f * (0.05550410866482158 + f * (0.009618129107628477 + f * (0.0013333558146428443 + f * 0.00015403530393381606)))));
  return p * POW2[k + 127];
}

export const sigmoidInPlace: InPlace = (d) => {
  const n = d.length;
  for (let i = 0; i < n; i++) d[i] = 1 / (1 + fastExpNeg(d[i]));
};
export const siluInPlace: InPlace = (d) => {
  const n = d.length;
  for (let i = 0; i < n; i++) {
    const v = d[i];
    d[i] = v / (1 + fastExpNeg(v));
  }
};

function clampLoop(lo: number, hi: number): InPlace {
  return (d) => {
    const n = d.length;
    for (let i = 0; i < n; i++) d[i] = Math.min(Math.max(d[i], lo), hi);
  };
}

/** The in-place form of an activation node (attributes read and checked), or undefined for other ops. */
export function activationOf(c: OpContext): InPlace | undefined {
  switch (c.node.op) {
    case 'Relu':
      return (d) => {
        const n = d.length;
        for (let i = 0; i < n; i++) d[i] = Math.max(d[i], 0);
      };
    case 'Clip': {
      const [lo, hi] = clipBounds(c);
      return clampLoop(lo, hi);
    }
    case 'LeakyRelu': {
      const a = c.at.float('alpha', 0.01);
      if (a >= 0 && a <= 1)
        return (d) => {
          const n = d.length;
          for (let i = 0; i < n; i++) {
            const v = d[i];
            d[i] = Math.max(v, a * v);
          }
        };
      return (d) => {
        const n = d.length;
        for (let i = 0; i < n; i++) if (d[i] < 0) d[i] *= a;
      };
    }
    case 'Sigmoid':
      return sigmoidInPlace;
    case 'Tanh':
      return (d) => {
        for (let i = 0; i < d.length; i++) d[i] = Math.tanh(d[i]);
      };
    case 'HardSigmoid': {
      const a = c.at.float('alpha', 0.2),
        b = c.at.float('beta', 0.5);
      return (d) => {
        const n = d.length;
        for (let i = 0; i < n; i++) d[i] = Math.min(Math.max(a * d[i] + b, 0), 1);
      };
    }
    case 'HardSwish':
      return (d) => {
        const n = d.length;
        for (let i = 0; i < n; i++) {
          const x = d[i];
          d[i] = x * Math.min(Math.max(x / 6 + 0.5, 0), 1);
        }
      };
    default:
      return undefined;
  }
}

function activationOp(c: OpContext): Kernel {
  const f = activationOf(c);
  if (!f) fail(c, 'is not an elementwise activation');
  return ([x]) => {
    const v = wantFloat(c, x);
    const data = v.dtype === F32 ? new Float32Array(v.data) : Float32Array.from(v.data);
    f(data);
    return [{ dtype: F32, shape: v.shape.slice(), data }];
  };
}

// ---- pooling ----------------------------------------------------------------------------------------

interface PoolGeom {
  k: number[];
  s: number[];
  d: number[];
  pb: number[];
  pe: number[];
  out: number[];
}

function poolGeometry(
  c: OpContext,
  inSpatial: number[],
  kernel: number[],
  strides: number[],
  dil: number[],
  pads: number[] | undefined,
  autoPad: string,
  ceil: boolean
): PoolGeom {
  const r = inSpatial.length,
    pb: number[] = [],
    pe: number[] = [],
    out: number[] = [];
  for (let i = 0; i < r; i++) {
    const n = inSpatial[i],
      k = kernel[i],
      s = strides[i],
      d = dil[i],
      ext = (k - 1) * d + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const o = Math.ceil(n / s),
        total = Math.max(0, (o - 1) * s + ext - n);
      const small = Math.floor(total / 2);
      pb.push(autoPad === 'SAME_UPPER' ? small : total - small);
      pe.push(total - pb[i]);
      out.push(o);
      continue;
    }
    const b = autoPad === 'VALID' ? 0 : (pads?.[i] ?? 0),
      e = autoPad === 'VALID' ? 0 : (pads?.[i + r] ?? 0);
    const span = n + b + e - ext;
    if (span < 0) fail(c, `the pooling window (${ext}) is larger than the padded input (${n + b + e})`);
    let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    // As PyTorch (and onnxruntime): in ceil mode the last window must start inside the input or the left padding.
    if (ceil && (o - 1) * s >= n + b) o--;
    pb.push(b);
    pe.push(e);
    out.push(o);
  }
  return { k: kernel, s: strides, d: dil, pb, pe, out };
}

function poolAttrs(c: OpContext, rank: number, withDilation: boolean) {
  const at: Attrs = c.at,
    kernel = at.ints('kernel_shape');
  if (!kernel || kernel.length !== rank) at.fail('kernel_shape', `must list ${rank} sizes for a ${rank}-D pool`);
  const strides = at.ints('strides') ?? kernel.map(() => 1);
  const dil = (withDilation ? at.ints('dilations') : undefined) ?? kernel.map(() => 1);
  const pads = at.ints('pads');
  const autoPad = at.string('auto_pad', 'NOTSET');
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad))
    at.fail('auto_pad', `= '${autoPad}' is not an ONNX auto_pad value`);
  if (strides.length !== rank || dil.length !== rank || (pads && pads.length !== 2 * rank))
    fail(c, `strides, dilations and pads must match the ${rank}-D kernel`);
  if (
    [...kernel, ...strides, ...dil].some((v) => !Number.isInteger(v) || v < 1) ||
    (pads ?? []).some((p) => !Number.isInteger(p) || p < 0)
  ) {
    fail(c, 'kernel_shape, strides and dilations must be positive and pads non-negative');
  }
  const ceil = at.int('ceil_mode', 0) === 1;
  return { kernel, strides, dil, pads, autoPad, ceil };
}

/** 1-D and 2-D max/average pooling over [N, C, (H,) W] with ONNX's asymmetric pads, dilation and ceil mode. */
function pool(kind: 'max' | 'avg'): Prepare {
  return (c) => {
    const rankOf = (x: Value) => x.shape.length - 2;
    const kernel = c.at.ints('kernel_shape');
    const rank = kernel?.length ?? 0;
    if (rank !== 1 && rank !== 2)
      afail(c, 'kernel_shape', `must have 1 or 2 sizes (1-D and 2-D pools are supported), got ${JSON.stringify(kernel)}`);
    const p = poolAttrs(c, rank, kind === 'max');
    const countPad = kind === 'avg' && c.at.int('count_include_pad', 0) === 1;
    if (kind === 'max') c.at.expect('storage_order', (v) => v === 0, 'only 0, row-major');
    if (c.node.outputs.length > 1 && c.node.outputs[1] !== '') fail(c, 'the Indices output of MaxPool is not supported');
    return ([x]) => {
      const v = wantFloat(c, x);
      if (rankOf(v) !== rank) fail(c, `input rank ${v.shape.length} does not match the ${rank}-D kernel`);
      const [N, C] = v.shape,
        sp = v.shape.slice(2),
        H = rank === 2 ? sp[0] : 1,
        W = sp[rank - 1];
      const g = poolGeometry(c, sp, p.kernel, p.strides, p.dil, p.pads, p.autoPad, p.ceil);
      if (kind === 'max' && g.d.every((d) => d === 1) && v.dtype === F32) {
        const out = alloc(F32, [N, C, ...g.out]);
        maxPoolSeparable(
          v.data as Float32Array,
          out.data as Float32Array,
          N * C,
          H,
          W,
          rank === 2 ? g.k[0] : 1,
          g.k[rank - 1],
          rank === 2 ? g.s[0] : 1,
          g.s[rank - 1],
          rank === 2 ? g.pb[0] : 0,
          g.pb[rank - 1],
          rank === 2 ? g.out[0] : 1,
          g.out[rank - 1]
        );
        return [out];
      }
      if (
        kind === 'avg' &&
        rank === 2 &&
        c.pool2d &&
        v.dtype === F32 &&
        g.pb.every((b, i) => b === g.pe[i] && b <= Math.floor(g.k[i] / 2))
      ) {
        const y = c.pool2d.avgPool2d(
          { data: v.data as Float32Array, shape: v.shape },
          { kernelSize: g.k, stride: g.s, padding: g.pb, ceilMode: p.ceil, countIncludePad: countPad }
        );
        if (y.shape.every((d, i) => d === [N, C, ...g.out][i])) return [{ dtype: F32, shape: y.shape, data: y.data }];
      }
      const kH = rank === 2 ? g.k[0] : 1,
        kW = g.k[rank - 1],
        sH = rank === 2 ? g.s[0] : 1,
        sW = g.s[rank - 1];
      const dH = rank === 2 ? g.d[0] : 1,
        dW = g.d[rank - 1],
        bH = rank === 2 ? g.pb[0] : 0,
        bW = g.pb[rank - 1];
      const eH = rank === 2 ? g.pe[0] : 0,
        eW = g.pe[rank - 1];
      const OH = rank === 2 ? g.out[0] : 1,
        OW = g.out[rank - 1];
      const out = alloc(F32, [N, C, ...g.out]),
        o = out.data,
        d = v.data;
      for (let pl = 0; pl < N * C; pl++) {
        const base = pl * H * W;
        for (let oh = 0; oh < OH; oh++) {
          const h0 = oh * sH - bH;
          for (let ow = 0; ow < OW; ow++) {
            const w0 = ow * sW - bW;
            let acc = kind === 'max' ? -Infinity : 0,
              cnt = 0;
            for (let i = 0; i < kH; i++) {
              const h = h0 + i * dH;
              if (h < 0 || h >= H) continue;
              for (let j = 0; j < kW; j++) {
                const w = w0 + j * dW;
                if (w < 0 || w >= W) continue;
                const val = d[base + h * W + w];
                if (kind === 'max') {
                  // biome-ignore lint/suspicious/noSelfCompare: the NaN test of the pooling inner loop, a compare rather than a call per element
                  if (val > acc || val !== val) acc = val;
                } else {
                  acc += val;
                  cnt++;
                }
              }
            }
            if (kind === 'avg') {
              if (countPad) {
                // The window clipped to the padded input, as PyTorch's pool_size.
                const hs = Math.max(h0, -bH),
                  he = Math.min(h0 + kH, H + eH),
                  ws = Math.max(w0, -bW),
                  we = Math.min(w0 + kW, W + eW);
                cnt = Math.max(he - hs, 0) * Math.max(we - ws, 0);
              }
              acc = cnt > 0 ? acc / cnt : 0;
            }
            o[(pl * OH + oh) * OW + ow] = acc;
          }
        }
      }
      return [out];
    };
  };
}

/**
 * Undilated max pooling as a row pass (max over kW columns per output column) then a column pass (max
 * over kH of those rows): kH + kW comparisons per output instead of kH * kW. Math.max propagates NaN, as
 * PyTorch does.
 */
function maxPoolSeparable(
  d: Float32Array,
  o: Float32Array,
  planes: number,
  H: number,
  W: number,
  kH: number,
  kW: number,
  sH: number,
  sW: number,
  bH: number,
  bW: number,
  OH: number,
  OW: number
): void {
  const rows = new Float32Array(H * OW);
  // Output columns whose window lies inside the row take the unbranched path (2- and 3-wide unrolled).
  const inLo = Math.ceil(bW / sW),
    inHi = Math.min(OW, Math.floor((W - kW + bW) / sW) + 1);
  for (let p = 0; p < planes; p++) {
    const base = p * H * W,
      ob = p * OH * OW;
    for (let h = 0; h < H; h++) {
      const r = base + h * W,
        ro = h * OW;
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * sW - bW;
        if (ow >= inLo && ow < inHi && kW <= 3) {
          const j = r + w0;
          rows[ro + ow] = kW === 3 ? Math.max(Math.max(d[j], d[j + 1]), d[j + 2]) : kW === 2 ? Math.max(d[j], d[j + 1]) : d[j];
          continue;
        }
        const a = Math.max(0, w0),
          e = Math.min(W, w0 + kW);
        let m = -Infinity;
        for (let j = r + a; j < r + e; j++) m = Math.max(m, d[j]);
        rows[ro + ow] = m;
      }
    }
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sH - bH,
        a = Math.max(0, h0),
        e = Math.min(H, h0 + kH),
        t = ob + oh * OW;
      if (e - a === 3) {
        const r0 = a * OW,
          r1 = r0 + OW,
          r2 = r1 + OW;
        for (let ow = 0; ow < OW; ow++) o[t + ow] = Math.max(Math.max(rows[r0 + ow], rows[r1 + ow]), rows[r2 + ow]);
        continue;
      }
      for (let ow = 0; ow < OW; ow++) o[t + ow] = -Infinity;
      for (let h = a; h < e; h++) {
        const r = h * OW;
        for (let ow = 0; ow < OW; ow++) o[t + ow] = Math.max(o[t + ow], rows[r + ow]);
      }
    }
  }
}

function globalPool(kind: 'max' | 'avg'): Prepare {
  return (c) =>
    ([x]) => {
      const v = wantFloat(c, x);
      if (v.shape.length < 3) fail(c, `input must be [N, C, ...spatial], got rank ${v.shape.length}`);
      if (v.dtype !== F32) fail(c, 'needs a float input');
      const [N, C] = v.shape,
        S = numel(v.shape.slice(2));
      const out = alloc(F32, [N, C, ...v.shape.slice(2).map(() => 1)]),
        o = out.data,
        d = v.data;
      // One loop per kind, on the float32 data: a loop shared by both kinds over either array type was
      // most of EfficientNet's squeeze-excitation time.
      const f = d as Float32Array;
      if (kind === 'avg') {
        for (let i = 0; i < N * C; i++) {
          let acc = 0;
          for (let j = i * S, e = j + S; j < e; j++) acc += f[j];
          o[i] = acc / S;
        }
      } else {
        for (let i = 0; i < N * C; i++) {
          let acc = -Infinity;
          for (let j = i * S, e = j + S; j < e; j++) acc = Math.max(acc, f[j]);
          o[i] = acc;
        }
      }
      return [out];
    };
}

// ---- reductions, softmax -----------------------------------------------------------------------------

function reduce(kind: 'mean' | 'sum' | 'max' | 'min'): Prepare {
  return (c) => {
    const axesAsInput = (kind === 'sum' && c.opset >= 13) || c.opset >= 18;
    const attrAxes = axesAsInput ? undefined : c.at.ints('axes');
    const inputAxes = axesAsInput && c.present(1) ? ints(constInput(c, 1, 'axes')) : undefined;
    const keep = c.at.int('keepdims', 1) === 1;
    const noop = c.at.int('noop_with_empty_axes', 0) === 1;
    return ([x]) => {
      const v = wantFloat(c, x),
        r = v.shape.length;
      let axes = (attrAxes ?? inputAxes ?? []).map((a) => normAxis(a, r, c.node.label));
      if (axes.length === 0) {
        if (noop) return [v];
        axes = v.shape.map((_, i) => i);
      }
      const red = new Set(axes);
      const outShape = v.shape.map((d, i) => (red.has(i) ? 1 : d));
      const out = alloc(v.dtype, outShape),
        o = out.data,
        d = v.data;
      o.fill(kind === 'max' ? -Infinity : kind === 'min' ? Infinity : 0);
      const os = stridesOf(outShape).map((s, i) => (red.has(i) ? 0 : s)),
        idx = new Array<number>(r).fill(0);
      let dst = 0;
      for (let i = 0; i < d.length; i++) {
        const val = d[i];
        o[dst] = kind === 'max' ? Math.max(o[dst], val) : kind === 'min' ? Math.min(o[dst], val) : o[dst] + val;
        for (let k = r - 1; k >= 0; k--) {
          if (++idx[k] < v.shape[k]) {
            dst += os[k];
            break;
          }
          dst -= os[k] * (v.shape[k] - 1);
          idx[k] = 0;
        }
      }
      if (kind === 'mean') {
        const cnt = d.length / Math.max(o.length, 1);
        for (let i = 0; i < o.length; i++) o[i] /= cnt;
      }
      return [{ ...out, shape: keep ? outShape : v.shape.filter((_, i) => !red.has(i)) }];
    };
  };
}

function softmax(log: boolean): Prepare {
  return (c) => {
    const axisAttr = c.at.int('axis', c.opset >= 13 ? -1 : 1);
    return ([x]) => {
      const v = wantFloat(c, x),
        r = v.shape.length,
        axis = normAxis(axisAttr, r, c.node.label);
      // Before opset 13 the input is coerced to 2-D at `axis`: one softmax over all trailing dimensions.
      const len = c.opset >= 13 ? v.shape[axis] : numel(v.shape.slice(axis));
      const inner = c.opset >= 13 ? numel(v.shape.slice(axis + 1)) : 1,
        outer = v.data.length / Math.max(len * inner, 1);
      const out = alloc(F32, v.shape.slice()),
        o = out.data,
        d = v.data;
      for (let a = 0; a < outer; a++) {
        for (let b = 0; b < inner; b++) {
          const base = a * len * inner + b;
          let m = -Infinity;
          for (let i = 0; i < len; i++) m = Math.max(m, d[base + i * inner]);
          let s = 0;
          for (let i = 0; i < len; i++) {
            const e = Math.exp(d[base + i * inner] - m);
            o[base + i * inner] = e;
            s += e;
          }
          for (let i = 0; i < len; i++) {
            const j = base + i * inner;
            o[j] = log ? d[j] - m - Math.log(s) : o[j] / s;
          }
        }
      }
      return [out];
    };
  };
}

// ---- matrix products ---------------------------------------------------------------------------------

/** C[M,N] = A[M,K] B[K,N] on slices of flat arrays (i-k-j order: unit stride in the inner loop). */
function gemmInto(
  A: ArrayLike<number>,
  aOff: number,
  B: ArrayLike<number>,
  bOff: number,
  C: Float32Array | Float64Array,
  cOff: number,
  M: number,
  K: number,
  N: number
): void {
  const row = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    row.fill(0);
    for (let k = 0; k < K; k++) {
      const a = A[aOff + i * K + k];
      if (a === 0) continue;
      const bo = bOff + k * N;
      for (let j = 0; j < N; j++) row[j] += a * B[bo + j];
    }
    for (let j = 0; j < N; j++) C[cOff + i * N + j] = row[j];
  }
}

export function matmul(label: string, a: Value, b: Value): Value {
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape,
    bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const M = as[as.length - 2],
    K = as[as.length - 1],
    K2 = bs[bs.length - 2],
    N = bs[bs.length - 1];
  if (K !== K2) throw new OnnxError(`${label}: inner dimensions differ (${K} and ${K2})`);
  const batch = broadcastShape(as.slice(0, -2), bs.slice(0, -2), label);
  const nb = numel(batch),
    out = alloc(F32, [...batch, M, N]);
  const aBatch = numel(as.slice(0, -2)),
    bBatch = numel(bs.slice(0, -2));
  const ai = batchIndex(as.slice(0, -2), batch),
    bi = batchIndex(bs.slice(0, -2), batch);
  for (let t = 0; t < nb; t++)
    gemmInto(
      a.data,
      (aBatch === 1 ? 0 : ai[t]) * M * K,
      b.data,
      (bBatch === 1 ? 0 : bi[t]) * K * N,
      out.data,
      t * M * N,
      M,
      K,
      N
    );
  let shape = [...batch, M, N];
  if (a.shape.length === 1) shape = [...batch, N];
  if (b.shape.length === 1) shape = a.shape.length === 1 ? batch : [...batch, M];
  return { ...out, shape };
}

/** For each index of the broadcast batch shape, the flat index into `shape` (right-aligned, size-1 dims repeat). */
function batchIndex(shape: number[], batch: number[]): number[] {
  const n = numel(batch),
    s = stridesOf(shape),
    off = batch.length - shape.length,
    res: number[] = [];
  for (let t = 0; t < n; t++) {
    let rem = t,
      idx = 0;
    for (let d = batch.length - 1; d >= 0; d--) {
      const i = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
      if (d >= off && shape[d - off] !== 1) idx += i * s[d - off];
    }
    res.push(idx);
  }
  return res;
}

const gemm: Prepare = (c) => {
  const alpha = c.at.float('alpha', 1),
    beta = c.at.float('beta', 1),
    tA = c.at.int('transA', 0),
    tB = c.at.int('transB', 0);
  if (c.opset < 7) c.at.ignore('broadcast');
  return ([a, b, bias]) => {
    if (!a || !b || a.shape.length !== 2 || b.shape.length !== 2) fail(c, 'A and B must be 2-D');
    const A = tA ? transpose(a, [1, 0]) : a,
      B = tB ? transpose(b, [1, 0]) : b;
    const y = matmul(c.node.label, A, B);
    if (alpha !== 1) for (let i = 0; i < y.data.length; i++) y.data[i] *= alpha;
    if (!bias) return [y];
    return [binary(y, bias, F32, (u, v) => u + beta * v, c.node.label)];
  };
};

// ---- shape and data movement -------------------------------------------------------------------------

function reshapeTo(c: OpContext, x: Value, spec: number[], allowZero: boolean): Value {
  const shape = spec.map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
  const neg = shape.filter((d) => d === -1).length;
  if (neg > 1 || shape.some((d) => d === undefined || d < -1 || !Number.isInteger(d)))
    fail(c, `shape [${spec.join(', ')}] is not a valid target for [${x.shape.join(', ')}]`);
  if (neg === 1) {
    const known = numel(shape.filter((d) => d !== -1));
    const i = shape.indexOf(-1);
    shape[i] = known === 0 ? 0 : x.data.length / known;
  }
  if (numel(shape) !== x.data.length || shape.some((d) => !Number.isInteger(d)))
    fail(c, `cannot reshape [${x.shape.join(', ')}] to [${spec.join(', ')}]`);
  return { dtype: x.dtype, shape, data: x.data };
}

const reshape: Prepare = (c) => {
  const allowZero = c.at.int('allowzero', 0) === 1;
  const attrShape = c.opset < 5 ? c.at.ints('shape') : undefined;
  if (c.opset >= 5) c.requireConst(1, 'shape');
  return ([x, s]) => [reshapeTo(c, wantFloatOrInt(c, x), attrShape ?? ints(wantFloatOrInt(c, s)), allowZero)];
};

function wantFloatOrInt(c: OpContext, x: Value | undefined): Value {
  if (!x) fail(c, 'a required input is missing');
  return x;
}

function axesFrom(c: OpContext, attr: string, inputIndex: number): number[] | undefined {
  if (c.opset >= 13) return c.present(inputIndex) ? ints(constInput(c, inputIndex, 'axes')) : undefined;
  return c.at.ints(attr);
}

const unsqueeze: Prepare = (c) => {
  const axes = axesFrom(c, 'axes', 1);
  if (!axes) fail(c, 'needs axes');
  return ([x]) => {
    const v = wantFloatOrInt(c, x),
      r = v.shape.length + axes.length;
    const norm = new Set(axes.map((a) => normAxis(a, r, c.node.label)));
    if (norm.size !== axes.length) fail(c, 'repeats an axis');
    const shape: number[] = [];
    for (let i = 0, j = 0; i < r; i++) shape.push(norm.has(i) ? 1 : v.shape[j++]);
    return [{ ...v, shape }];
  };
};

const squeeze: Prepare = (c) => {
  const axes = axesFrom(c, 'axes', 1);
  return ([x]) => {
    const v = wantFloatOrInt(c, x);
    const drop = new Set(
      axes ? axes.map((a) => normAxis(a, v.shape.length, c.node.label)) : v.shape.flatMap((d, i) => (d === 1 ? [i] : []))
    );
    for (const i of drop) if (v.shape[i] !== 1) fail(c, `cannot squeeze axis ${i} of size ${v.shape[i]}`);
    return [{ ...v, shape: v.shape.filter((_, i) => !drop.has(i)) }];
  };
};

const flatten: Prepare = (c) => {
  const axisAttr = c.at.int('axis', 1);
  return ([x]) => {
    const v = wantFloatOrInt(c, x),
      axis = normAxis(axisAttr, v.shape.length, c.node.label, true);
    return [{ ...v, shape: [numel(v.shape.slice(0, axis)), numel(v.shape.slice(axis))] }];
  };
};

const transposeOp: Prepare = (c) => {
  const perm = c.at.ints('perm');
  return ([x]) => {
    const v = wantFloatOrInt(c, x),
      p = perm ?? v.shape.map((_, i) => v.shape.length - 1 - i);
    if (p.length !== v.shape.length || new Set(p).size !== p.length || p.some((i) => i < 0 || i >= p.length))
      afail(c, 'perm', `[${p.join(', ')}] is not a permutation of rank ${v.shape.length}`);
    return [transpose(v, p)];
  };
};

const concat: Prepare = (c) => {
  const axisAttr = c.at.intOpt('axis');
  if (axisAttr === undefined) afail(c, 'axis', 'is required');
  return (xs) => {
    const vs = xs.filter((v): v is Value => v !== undefined);
    if (vs.length === 0) fail(c, 'has no inputs');
    const r = vs[0].shape.length,
      axis = normAxis(axisAttr, r, c.node.label);
    for (const v of vs) {
      if (v.shape.length !== r || v.shape.some((d, i) => i !== axis && d !== vs[0].shape[i]))
        fail(c, `inputs [${vs.map((u) => u.shape.join('x')).join(', ')}] differ off axis ${axis}`);
    }
    const shape = vs[0].shape.slice();
    shape[axis] = vs.reduce((a, v) => a + v.shape[axis], 0);
    const dtype = vs.some((v) => v.dtype === F32) ? F32 : vs[0].dtype;
    const out = alloc(dtype, shape),
      outer = numel(shape.slice(0, axis)),
      inner = numel(shape.slice(axis + 1));
    let off = 0;
    for (const v of vs) {
      copyBlock(v.data, out.data, outer, v.shape[axis], shape[axis], v.shape[axis], 0, off, inner);
      off += v.shape[axis];
    }
    return [out];
  };
};

const split: Prepare = (c) => {
  const axisAttr = c.at.int('axis', 0);
  const sizes = c.opset >= 13 ? (c.present(1) ? ints(constInput(c, 1, 'split')) : undefined) : c.at.ints('split');
  const numOutputs = c.at.intOpt('num_outputs');
  const n = c.node.outputs.length;
  return ([x]) => {
    const v = wantFloatOrInt(c, x),
      axis = normAxis(axisAttr, v.shape.length, c.node.label),
      len = v.shape[axis];
    let parts = sizes;
    if (!parts) {
      const k = numOutputs ?? n,
        chunk = Math.ceil(len / k);
      parts = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(chunk, len - i * chunk)));
    }
    if (parts.length !== n || parts.reduce((a, b) => a + b, 0) !== len || parts.some((p) => p < 0))
      fail(c, `split sizes [${parts.join(', ')}] do not cover axis ${axis} (${len}) in ${n} outputs`);
    const outer = numel(v.shape.slice(0, axis)),
      inner = numel(v.shape.slice(axis + 1));
    let off = 0;
    return parts.map((p) => {
      const shape = v.shape.slice();
      shape[axis] = p;
      const out = alloc(v.dtype, shape);
      copyBlock(v.data, out.data, outer, len, p, p, off, 0, inner);
      off += p;
      return out;
    });
  };
};

/** Per-dimension source index of every output index (Slice, Pad), then one gather over all dimensions. */
function gatherByMaps(x: Value, outShape: number[], maps: Int32Array[], fill: number): Value {
  const out = alloc(x.dtype, outShape),
    o = out.data,
    d = x.data,
    r = outShape.length;
  if (o.length === 0) return out;
  const s = stridesOf(x.shape),
    idx = new Array<number>(r).fill(0);
  const inner = outShape[r - 1],
    lastMap = maps[r - 1];
  for (let base = 0; base < o.length; base += inner) {
    let src = 0,
      valid = true;
    for (let k = 0; k < r - 1; k++) {
      const m = maps[k][idx[k]];
      if (m < 0) {
        valid = false;
        break;
      }
      src += m * s[k];
    }
    for (let j = 0; j < inner; j++) {
      const m = lastMap[j];
      o[base + j] = valid && m >= 0 ? d[src + m] : fill;
    }
    for (let k = r - 2; k >= 0; k--) {
      if (++idx[k] < outShape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

const slice: Prepare = (c) => {
  let fixed: { starts: number[]; ends: number[]; axes?: number[]; steps?: number[] } | undefined;
  if (c.opset < 10) {
    const starts = c.at.ints('starts'),
      ends = c.at.ints('ends');
    if (!starts || !ends) fail(c, 'needs starts and ends');
    fixed = { starts, ends, axes: c.at.ints('axes') };
  } else {
    for (let i = 1; i < 5; i++) if (c.present(i)) c.requireConst(i, ['starts', 'ends', 'axes', 'steps'][i - 1]);
  }
  return ([x, st, en, ax, sp]) => {
    const v = wantFloatOrInt(c, x),
      r = v.shape.length;
    const starts = fixed?.starts ?? ints(wantFloatOrInt(c, st)),
      ends = fixed?.ends ?? ints(wantFloatOrInt(c, en));
    const axes = (fixed ? fixed.axes : ax && ints(ax)) ?? starts.map((_, i) => i),
      steps = (sp && ints(sp)) ?? starts.map(() => 1);
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length)
      fail(c, 'starts, ends, axes and steps differ in length');
    const maps = v.shape.map((d) => Int32Array.from({ length: d }, (_, i) => i));
    const outShape = v.shape.slice();
    axes.forEach((a0, i) => {
      const a = normAxis(a0, r, c.node.label),
        dim = v.shape[a],
        step = steps[i];
      if (step === 0 || !Number.isInteger(step)) fail(c, 'steps must be non-zero integers');
      let s = starts[i] < 0 ? starts[i] + dim : starts[i],
        e = ends[i] < 0 ? ends[i] + dim : ends[i];
      if (step > 0) {
        s = Math.min(Math.max(s, 0), dim);
        e = Math.min(Math.max(e, 0), dim);
      } else {
        s = Math.min(Math.max(s, 0), dim - 1);
        e = Math.min(Math.max(e, -1), dim - 1);
      }
      const n = Math.max(0, Math.ceil((e - s) / step));
      outShape[a] = n;
      maps[a] = Int32Array.from({ length: n }, (_, j) => s + j * step);
    });
    return [gatherByMaps(v, outShape, maps, 0)];
  };
};

const pad: Prepare = (c) => {
  const mode = c.at.string('mode', 'constant');
  if (!['constant', 'reflect', 'edge'].includes(mode))
    afail(c, 'mode', `= '${mode}' is not supported (constant, reflect, edge are)`);
  const attrPads = c.opset < 11 ? c.at.ints('pads') : undefined;
  const attrValue = c.opset < 11 ? c.at.float('value', 0) : 0;
  if (c.opset >= 11) {
    c.requireConst(1, 'pads');
    if (c.present(2)) c.requireConst(2, 'constant_value');
    if (c.present(3)) c.requireConst(3, 'axes');
  }
  return ([x, p, cv, ax]) => {
    const v = wantFloatOrInt(c, x),
      r = v.shape.length;
    let pads = attrPads ?? ints(wantFloatOrInt(c, p));
    if (ax) {
      const axes = ints(ax).map((a) => normAxis(a, r, c.node.label)),
        full = new Array<number>(2 * r).fill(0);
      axes.forEach((a, i) => {
        full[a] = pads[i];
        full[a + r] = pads[i + axes.length];
      });
      pads = full;
    }
    if (pads.length !== 2 * r) fail(c, `pads has ${pads.length} entries, the rank-${r} input needs ${2 * r}`);
    const fill = cv && cv.data.length > 0 ? cv.data[0] : attrValue;
    const outShape = v.shape.map((d, i) => d + pads[i] + pads[i + r]);
    if (outShape.some((d) => d < 0)) fail(c, 'negative pads remove more than the input has');
    const maps = v.shape.map((d, i) =>
      Int32Array.from({ length: outShape[i] }, (_, j) => {
        let s = j - pads[i];
        if (s >= 0 && s < d) return s;
        if (mode === 'constant') return -1;
        if (mode === 'edge') return Math.min(Math.max(s, 0), d - 1);
        if (d === 1) return 0;
        const period = 2 * (d - 1);
        s = ((s % period) + period) % period;
        return s < d ? s : period - s;
      })
    );
    return [gatherByMaps(v, outShape, maps, fill)];
  };
};

const gather: Prepare = (c) => {
  const axisAttr = c.at.int('axis', 0);
  return ([x, ind]) => {
    const v = wantFloatOrInt(c, x),
      idx = wantFloatOrInt(c, ind),
      axis = normAxis(axisAttr, v.shape.length, c.node.label),
      dim = v.shape[axis];
    const outer = numel(v.shape.slice(0, axis)),
      inner = numel(v.shape.slice(axis + 1));
    const out = alloc(v.dtype, [...v.shape.slice(0, axis), ...idx.shape, ...v.shape.slice(axis + 1)]);
    const k = idx.data.length;
    for (let j = 0; j < k; j++) {
      let i = idx.data[j];
      if (i < 0) i += dim;
      if (!(i >= 0 && i < dim)) fail(c, `index ${idx.data[j]} is out of range for axis ${axis} of size ${dim}`);
      for (let o = 0; o < outer; o++)
        out.data.set(v.data.subarray((o * dim + i) * inner, (o * dim + i + 1) * inner), (o * k + j) * inner);
    }
    return [out];
  };
};

const expand: Prepare = (c) => {
  c.requireConst(1, 'shape');
  return ([x, s]) => {
    const v = wantFloatOrInt(c, x);
    return [expandTo(v, broadcastShape(v.shape, ints(wantFloatOrInt(c, s)), c.node.label), c.node.label)];
  };
};

function expandTo(v: Value, shape: number[], what: string): Value {
  return binary(v, alloc(v.dtype, shape), v.dtype, (a) => a, what);
}

const cast: Prepare = (c) => {
  const to = c.at.int('to', 0);
  c.at.ignore('saturate');
  const FLOATS = [1, 10, 11, 16],
    INTS = [2, 3, 4, 5, 6, 7, 12, 13];
  if (![...FLOATS, ...INTS, 9].includes(to)) afail(c, 'to', `= ${to} is not a supported element type`);
  return ([x]) => {
    const v = wantFloatOrInt(c, x);
    if (FLOATS.includes(to)) return [{ dtype: F32, shape: v.shape, data: Float32Array.from(v.data) }];
    if (to === 9) return [{ dtype: 'bool', shape: v.shape, data: Float64Array.from(v.data, (a) => (a !== 0 ? 1 : 0)) }];
    return [{ dtype: 'int', shape: v.shape, data: Float64Array.from(v.data, (a) => Math.trunc(a)) }];
  };
};

function constantOf(c: OpContext): Value {
  const at = c.at;
  const t = at.tensor('value');
  if (t) return t;
  const f = at.floatOpt('value_float');
  if (f !== undefined) return { dtype: F32, shape: [], data: Float32Array.of(f) };
  const i = at.intOpt('value_int');
  if (i !== undefined) return { dtype: 'int', shape: [], data: Float64Array.of(i) };
  const fs = at.floats('value_floats');
  if (fs) return { dtype: F32, shape: [fs.length], data: Float32Array.from(fs) };
  const is = at.ints('value_ints');
  if (is) return { dtype: 'int', shape: [is.length], data: Float64Array.from(is) };
  fail(c, 'has no value (sparse_value and string values are not supported)');
}

const batchNorm: Prepare = (c) => {
  const eps = c.at.float('epsilon', 1e-5);
  c.at.ignore('momentum');
  c.at.expect('training_mode', (v) => v === 0, 'only inference, 0');
  c.at.expect('spatial', (v) => v === 1, 'only 1');
  if (c.node.outputs.filter((o) => o !== '').length > 1) fail(c, 'the training outputs (running mean/var) are not supported');
  for (let i = 1; i < 5; i++) c.requireConst(i, ['scale', 'B', 'input_mean', 'input_var'][i - 1]);
  return ([x, scIn, bIn, meanIn, varIn]) => {
    const [sc, b, mean, vr] = [scIn, bIn, meanIn, varIn].map((t) => wantFloat(c, t));
    const v = wantFloat(c, x),
      C = v.shape[1],
      S = numel(v.shape.slice(2));
    const out = alloc(F32, v.shape.slice());
    for (let ch = 0; ch < C; ch++) {
      const a = sc.data[ch] / Math.sqrt(vr.data[ch] + eps),
        sh = b.data[ch] - mean.data[ch] * a;
      for (let n = 0; n < v.shape[0]; n++) {
        const base = (n * C + ch) * S;
        for (let j = base; j < base + S; j++) out.data[j] = v.data[j] * a + sh;
      }
    }
    return [out];
  };
};

/** The lower and upper bound of a Clip node, for fusion (null when they are computed at run time). */
export function clipBounds(c: OpContext): [number, number] {
  if (c.opset < 11) return [c.at.float('min', -Infinity), c.at.float('max', Infinity)];
  return [c.present(1) ? constInput(c, 1, 'min').data[0] : -Infinity, c.present(2) ? constInput(c, 2, 'max').data[0] : Infinity];
}

// ---- resize ------------------------------------------------------------------------------------------

const resize =
  (upsample: boolean): Prepare =>
  (c) => {
    const mode = c.at.string('mode', 'nearest');
    if (mode !== 'nearest' && mode !== 'linear' && !(upsample && mode === 'bilinear'))
      afail(c, 'mode', `= '${mode}' is not supported (nearest, linear are)`);
    const linear = mode !== 'nearest';
    const ctm = upsample || c.opset < 11 ? 'asymmetric' : c.at.string('coordinate_transformation_mode', 'half_pixel');
    if (!['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn'].includes(ctm))
      afail(c, 'coordinate_transformation_mode', `= '${ctm}' is not supported`);
    const nearestMode = upsample || c.opset < 11 ? 'floor' : c.at.string('nearest_mode', 'round_prefer_floor');
    if (!['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'].includes(nearestMode))
      afail(c, 'nearest_mode', `= '${nearestMode}' is not supported`);
    c.at.ignore('cubic_coeff_a', 'extrapolation_value');
    c.at.expect('exclude_outside', (v) => v === 0, 'only 0');
    c.at.expect('antialias', (v) => v === 0, 'only 0');
    c.at.expect('keep_aspect_ratio_policy', (v) => v === 'stretch', "only 'stretch'");
    if (c.at.has('axes')) afail(c, 'axes', 'is not supported');
    const attrScales = upsample && c.opset < 9 ? c.at.floats('scales') : undefined;
    const scalesAt = upsample || c.opset < 11 ? 1 : 2,
      sizesAt = upsample || c.opset < 11 ? -1 : 3;
    if (!attrScales && c.present(scalesAt)) c.requireConst(scalesAt, 'scales');
    if (sizesAt > 0 && c.present(sizesAt)) c.requireConst(sizesAt, 'sizes');
    return (xs) => {
      const v = wantFloat(c, xs[0]),
        r = v.shape.length;
      const scIn = xs[scalesAt],
        szIn = sizesAt > 0 ? xs[sizesAt] : undefined;
      const sc = attrScales ?? (scIn && scIn.data.length > 0 ? Array.from(scIn.data) : undefined);
      const sz = szIn && szIn.data.length > 0 ? ints(szIn) : undefined;
      const given = sc ?? sz;
      if (!given) fail(c, 'needs scales or sizes');
      if (given.length !== r) fail(c, `scales/sizes must have one entry per input dimension (${r})`);
      const outShape = sz ?? v.shape.map((d, i) => Math.floor(d * given[i]));
      const scales = sc ?? outShape.map((o, i) => o / v.shape[i]);
      if (r < 3 || outShape[0] !== v.shape[0] || outShape[1] !== v.shape[1])
        fail(c, 'only the spatial dimensions of [N, C, ...] may be resized');
      if (r > 4) fail(c, 'only 1-D and 2-D resizing is supported');
      // Per output coordinate: two source indices and the weight of the second.
      const axis = (i: number) => {
        const n = v.shape[i],
          o = outShape[i],
          s = scales[i],
          lo = new Int32Array(o),
          hi = new Int32Array(o),
          wt = new Float64Array(o);
        for (let x = 0; x < o; x++) {
          let src: number;
          switch (ctm) {
            case 'half_pixel':
              src = (x + 0.5) / s - 0.5;
              break;
            case 'pytorch_half_pixel':
              src = o > 1 ? (x + 0.5) / s - 0.5 : 0;
              break;
            case 'align_corners':
              src = o === 1 ? 0 : (x * (n - 1)) / (o - 1);
              break;
            case 'tf_half_pixel_for_nn':
              src = (x + 0.5) / s;
              break;
            default:
              src = x / s;
          }
          if (linear) {
            src = Math.min(Math.max(src, 0), n - 1);
            lo[x] = Math.floor(src);
            hi[x] = Math.min(lo[x] + 1, n - 1);
            wt[x] = src - lo[x];
          } else {
            let k: number;
            switch (nearestMode) {
              case 'floor':
                k = Math.floor(src);
                break;
              case 'ceil':
                k = Math.ceil(src);
                break;
              case 'round_prefer_ceil':
                k = Math.round(src);
                break;
              default:
                k = src === Math.floor(src) + 0.5 ? Math.floor(src) : Math.round(src);
            }
            lo[x] = hi[x] = Math.min(Math.max(k, 0), n - 1);
          }
        }
        return { lo, hi, wt };
      };
      const H = r === 4 ? v.shape[2] : 1,
        W = v.shape[r - 1],
        OH = r === 4 ? outShape[2] : 1,
        OW = outShape[r - 1];
      const ax = axis(r - 1),
        ay = r === 4 ? axis(2) : { lo: Int32Array.of(0), hi: Int32Array.of(0), wt: Float64Array.of(0) };
      const out = alloc(F32, outShape),
        o = out.data,
        d = v.data;
      for (let p = 0; p < v.shape[0] * v.shape[1]; p++) {
        const base = p * H * W;
        for (let y = 0; y < OH; y++) {
          const r0 = base + ay.lo[y] * W,
            r1 = base + ay.hi[y] * W,
            fy = ay.wt[y];
          for (let x = 0; x < OW; x++) {
            const fx = ax.wt[x],
              a = d[r0 + ax.lo[x]],
              b = d[r0 + ax.hi[x]],
              cc = d[r1 + ax.lo[x]],
              dd = d[r1 + ax.hi[x]];
            o[(p * OH + y) * OW + x] = linear ? (a * (1 - fx) + b * fx) * (1 - fy) + (cc * (1 - fx) + dd * fx) * fy : a;
          }
        }
      }
      return [out];
    };
  };

// ---- the table ---------------------------------------------------------------------------------------

export const OPS: Record<string, Prepare> = {
  Identity:
    (c) =>
    ([x]) => [wantFloatOrInt(c, x)],
  Dropout: (c) => {
    c.at.ignore('ratio', 'seed', 'is_test');
    if (c.node.outputs.length > 1 && c.node.outputs[1] !== '') fail(c, 'the mask output of Dropout is not supported');
    if (c.present(2)) {
      const t = c.requireConst(2, 'training_mode');
      if (t?.data[0]) fail(c, 'training_mode = true is not supported');
    }
    return ([x]) => [wantFloatOrInt(c, x)];
  },
  Constant: (c) => {
    const v = constantOf(c);
    return () => [v];
  },
  Shape: (c) => {
    const start = c.at.int('start', 0),
      end = c.at.intOpt('end');
    return ([x]) => {
      const s = wantFloatOrInt(c, x).shape,
        r = s.length;
      const clampI = (i: number) => Math.min(Math.max(i < 0 ? i + r : i, 0), r);
      const part = s.slice(clampI(start), end === undefined ? r : clampI(end));
      return [{ dtype: 'int', shape: [part.length], data: Float64Array.from(part) }];
    };
  },
  Size:
    (c) =>
    ([x]) => [{ dtype: 'int', shape: [], data: Float64Array.of(wantFloatOrInt(c, x).data.length) }],
  ConstantOfShape: (c) => {
    const t = c.at.tensor('value') ?? { dtype: F32, shape: [1], data: new Float32Array(1) };
    return ([s]) => {
      const out = alloc(t.dtype, ints(wantFloatOrInt(c, s)));
      out.data.fill(t.data[0]);
      return [out];
    };
  },
  Range:
    (c) =>
    ([aIn, bIn, dIn]) => {
      const [a, b, d] = [aIn, bIn, dIn].map((t) => wantFloatOrInt(c, t));
      const start = a.data[0],
        limit = b.data[0],
        delta = d.data[0];
      const n = Math.max(Math.ceil((limit - start) / delta), 0);
      if (!Number.isFinite(n) || n > 1e8) fail(c, 'the range is too long or infinite');
      const out = alloc(a.dtype, [n]);
      for (let i = 0; i < n; i++) out.data[i] = start + i * delta;
      return [out];
    },
  Cast: cast,
  Gather: gather,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Concat: concat,
  Split: split,
  Slice: slice,
  Pad: pad,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transposeOp,
  Expand: expand,
  Add: arith((x, y) => x + y, undefined, 'add'),
  Sub: arith((x, y) => x - y, undefined, 'sub'),
  Mul: arith((x, y) => x * y, undefined, 'mul'),
  Div: arith(
    (x, y) => x / y,
    (x, y) => Math.trunc(x / y),
    'div'
  ),
  Pow: arith((x, y) => x ** y),
  Max: arith((x, y) => Math.max(x, y)),
  Min: arith((x, y) => Math.min(x, y)),
  PRelu: arith((x, s) => (x < 0 ? x * s : x)),
  Equal: compare((x, y) => x === y),
  Less: compare((x, y) => x < y),
  Greater: compare((x, y) => x > y),
  Not: unary((x) => (x ? 0 : 1), true),
  Where:
    (c) =>
    ([cond, a, b]) => {
      if (!cond || !a || !b) fail(c, 'needs three inputs');
      const shape = broadcastShape(broadcastShape(cond.shape, a.shape, c.node.label), b.shape, c.node.label);
      const k = expandTo(cond, shape, c.node.label),
        x = expandTo(a, shape, c.node.label),
        y = expandTo(b, shape, c.node.label);
      const out = alloc(a.dtype === F32 || b.dtype === F32 ? F32 : a.dtype, shape);
      for (let i = 0; i < out.data.length; i++) out.data[i] = k.data[i] ? x.data[i] : y.data[i];
      return [out];
    },
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Sqrt: unary(Math.sqrt, true),
  Neg: unary((x) => -x, true),
  Abs: unary(Math.abs, true),
  Floor: unary(Math.floor, true),
  Ceil: unary(Math.ceil, true),
  Reciprocal: unary((x) => 1 / x),
  Elu: (c) => {
    const a = c.at.float('alpha', 1);
    return unary((x) => (x < 0 ? a * (Math.exp(x) - 1) : x))(c);
  },
  Relu: activationOp,
  Sigmoid: activationOp,
  Tanh: activationOp,
  LeakyRelu: activationOp,
  HardSigmoid: activationOp,
  HardSwish: activationOp,
  Clip: activationOp,
  BatchNormalization: batchNorm,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
  ReduceMean: reduce('mean'),
  ReduceSum: reduce('sum'),
  ReduceMax: reduce('max'),
  ReduceMin: reduce('min'),
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  MatMul:
    (c) =>
    ([a, b]) => [matmul(c.node.label, wantFloat(c, a), wantFloat(c, b))],
  Gemm: gemm,
  Resize: resize(false),
  Upsample: resize(true),
};

/** Ops that depend on their input's shape only, so they fold at load even when that input is computed at run time. */
export const SHAPE_ONLY = new Set(['Shape', 'Size']);
export type { DType };
