// The oracle of the hostile property layer (runs in the child process). Two halves:
//  - rules: what a call means, given the *semantic* arguments (what the caller meant, with every
//    presentation trick removed): PyTorch's argument rules and output-size formulas, written here from
//    the definitions and independently of src/shape.ts, returning the expected geometry, or that the
//    call is invalid (and which arguments an error should name), or that it is valid but extreme
//    (sizes past 2^24 or 2^31 - 1: a correct result or a RangeError);
//  - checks: a result against the float64 references (src/backends/js.ts, src/reference/backward.ts)
//    within the tolerances of test/tester.ts. Outputs too large for float64 copies are checked element by
//    element by the streaming loops below (the same definitions, without the arrays).

import { convReference } from '../../src/backends/js.js';
import type { ConvParams } from '../../src/backends/types.js';
import type { PoolParams } from '../../src/reference/backward.js';
import {
  avgPoolBackwardReference,
  avgPoolReference,
  convGradBiasReference,
  convGradInputReference,
  convGradWeightReference,
  convTransposeReference,
  maxPoolBackwardReference,
  maxPoolReference,
} from '../../src/reference/backward.js';
import type { TransposeParams } from '../../src/transpose.js';
import { compare, TOLERANCE } from '../tester.js';
import type { Algo, Family } from './hostile-types.js';

export const MAX = 2 ** 31 - 1;
/** Beyond this a size or index is "extreme": float32 stops counting exactly, and backends have limits. */
export const BIG = 2 ** 24;
/** Outputs with more elements than this are checked by streaming, without float64 copies. */
const STREAM = 2 ** 22;

/** Every argument and option name an error message may name (for errors whose cause is not one mutation). */
export const ALL_NAMES = [
  'input',
  'weight',
  'bias',
  'out',
  'gradOutput',
  'indices',
  'options',
  'stride',
  'padding',
  'dilation',
  'groups',
  'layout',
  'activation',
  'backend',
  'algorithm',
  'tune',
  'needs',
  'outputPadding',
  'kernelSize',
  'ceilMode',
  'countIncludePad',
  'returnIndices',
  'inChannels',
  'outChannels',
  'seed',
  'inputShape',
  'weightShape',
  'output',
  'kernel',
  'shape',
];

export class Invalid extends Error {
  constructor(
    readonly names: string[],
    why: string
  ) {
    super(why);
  }
}

export interface SemTensor {
  shape: unknown;
  data: unknown;
}

/** The semantic arguments of one call. Pooling's `input` may be { shape } only (data undefined). */
export interface SemArgs {
  options: unknown;
  input?: SemTensor;
  weight?: SemTensor;
  gradOutput?: SemTensor;
  /** maxPool2dBackward's indices: a tensor of Int32Array, or undefined. */
  indices?: SemTensor;
  /** Layers: forward's `out` argument, and the bias the child sets on the layer when it has one. */
  layerOut?: unknown;
  layerBias?: Float32Array;
}

export type Expected =
  | {
      kind: 'conv';
      p: ConvParams;
      x: Float32Array;
      w: Float32Array;
      bias: Float32Array | null;
      outShape: number[];
      channelsLast: boolean;
      algo: Algo;
      out: Float32Array | null;
    }
  | { kind: 'explain'; p: ConvParams; outShape: number[]; algo: Algo }
  | { kind: 'shape'; outShape: number[] }
  | {
      kind: 'backward';
      p: ConvParams;
      x: Float32Array;
      w: Float32Array;
      gy: Float32Array;
      needs: Set<string>;
      channelsLast: boolean;
      inShape: number[];
      wShape: number[];
      algo: Algo;
    }
  | {
      kind: 'transpose';
      t: TransposeParams;
      x: Float32Array;
      w: Float32Array;
      bias: Float32Array | null;
      outShape: number[];
      channelsLast: boolean;
      algo: Algo;
    }
  | {
      kind: 'maxPool';
      pp: PoolParams;
      x: Float32Array;
      N: number;
      outShape: number[];
      channelsLast: boolean;
      returnIndices: boolean;
    }
  | {
      kind: 'avgPool';
      pp: PoolParams;
      x: Float32Array;
      N: number;
      outShape: number[];
      channelsLast: boolean;
      countIncludePad: boolean;
    }
  | {
      kind: 'maxPoolBackward';
      pp: PoolParams;
      gy: Float32Array;
      indices: Int32Array;
      N: number;
      inShape: number[];
      channelsLast: boolean;
    }
  | {
      kind: 'avgPoolBackward';
      pp: PoolParams;
      gy: Float32Array;
      N: number;
      inShape: number[];
      channelsLast: boolean;
      countIncludePad: boolean;
    }
  | {
      kind: 'layer';
      conv: Expected & { kind: 'conv' };
      gy: Float32Array;
      relu: boolean;
      bias: boolean;
      inShape: number[];
      wShape: number[];
    };

export type Verdict =
  | { kind: 'valid'; exp: Expected; extreme: string | null }
  | { kind: 'invalid'; names: string[]; why: string };

// ---- rules ----

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

// Lengths through the intrinsic getter: a semantic `out` is the presented array, which may lie.
const lengthOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Float32Array.prototype), 'length')!.get!;
const len = (a: ArrayBufferView): number => lengthOf.call(a) as number;

/** A real Float32Array (semantic values are never proxies). */
function f32(name: string, v: unknown): Float32Array {
  if (!(v instanceof Float32Array) || !ArrayBuffer.isView(v)) throw new Invalid([name], `${name} is not a Float32Array`);
  return v;
}

class Ctx {
  extreme: string | null = null;
  big(what: string, v: number): void {
    if (v > BIG && this.extreme === null) this.extreme = `${what} = ${v}`;
  }
  int(name: string, v: unknown, min: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new Invalid([name], `${name} = ${show(v)} is not an integer >= ${min}`);
    this.big(name, v);
    return v === 0 ? 0 : v; // -0 is 0
  }
  /** undefined -> dflt; a number -> every dimension; an array of exactly `dims` entries. */
  perDim(name: string, v: unknown, dims: number, min: number, dflt: number): number[] {
    if (v === undefined) return new Array(dims).fill(dflt);
    if (typeof v === 'number') return new Array(dims).fill(this.int(name, v, min));
    if (!Array.isArray(v)) throw new Invalid([name], `${name} is neither a number nor an array`);
    if (v.length !== dims) throw new Invalid([name], `${name} has ${v.length} entries, not ${dims}`);
    return Array.from({ length: dims }, (_, i) => this.int(name, v[i], min));
  }
  shape(name: string, v: unknown, ranks: number[], emptyFirst: boolean): number[] {
    if (!Array.isArray(v)) throw new Invalid([name], `${name}.shape is not an array`);
    // The layout says what a rank means (and explain/outputShape infer conv1d or conv2d from ranks): an
    // error about the layout is as right as one about the rank.
    if (!ranks.includes(v.length))
      throw new Invalid([name, 'layout'], `${name}.shape has rank ${v.length}, not ${ranks.join(' or ')}`);
    const s = Array.from({ length: v.length }, (_, i) => this.int(name, v[i], emptyFirst && i === 0 ? 0 : 1));
    const count = s.reduce((a, b) => a * b, 1);
    if (count > MAX) throw new Invalid([name], `${name}.shape has ${count} elements`);
    return s;
  }
  tensor(name: string, t: SemTensor | undefined, ranks: number[], emptyFirst: boolean): { shape: number[]; data: Float32Array } {
    if (!isObj(t)) throw new Invalid([name], `${name} is not a tensor`);
    const data = f32(name, t.data);
    const shape = this.shape(name, t.shape, ranks, emptyFirst);
    const count = shape.reduce((a, b) => a * b, 1);
    if (len(data) !== count) throw new Invalid([name], `${name}.data has ${len(data)} elements, shape ${shape} needs ${count}`);
    return { shape, data };
  }
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Invalid([k, 'options'], `unknown option ${k}`);
}

function enumOf<T>(name: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new Invalid([name], `${name} = ${show(v)} is not one of ${allowed.join(', ')}`);
  return v as T;
}

const BACKEND_CHOICES = ['auto', 'native', 'wasm', 'js', 'wasm-relaxed', 'wasm-simd', 'wasm-scalar'];
const ALGO_CHOICES = ['auto', 'direct', 'im2col', 'winograd', 'fft'];
const CONV_KEYS = [
  'bias',
  'stride',
  'padding',
  'dilation',
  'groups',
  'layout',
  'activation',
  'out',
  'backend',
  'algorithm',
  'tune',
];
const TRANSPOSE_KEYS = ['bias', 'stride', 'padding', 'outputPadding', 'dilation', 'groups', 'layout', 'backend', 'algorithm'];
const MAX_KEYS = ['kernelSize', 'stride', 'padding', 'dilation', 'ceilMode', 'returnIndices', 'layout'];
const AVG_KEYS = ['kernelSize', 'stride', 'padding', 'ceilMode', 'countIncludePad', 'layout'];
const LAYER_KEYS = [
  'inChannels',
  'outChannels',
  'kernelSize',
  'stride',
  'padding',
  'dilation',
  'groups',
  'bias',
  'backend',
  'algorithm',
  'layout',
  'activation',
  'seed',
  'tune',
];

/** Conv padding: [before, after] per dimension, PyTorch's forms plus conv1d's [0, 0, left, right]. */
function convPadding(ctx: Ctx, v: unknown, dims: number, kernel: number[], dilation: number[], stride: number[]): number[][] {
  if (v === undefined || v === 'valid') return kernel.map(() => [0, 0]);
  if (v === 'same') {
    if (stride.some((s) => s !== 1)) throw new Invalid(['padding', 'stride'], "padding 'same' needs stride 1");
    return kernel.map((k, i) => {
      const t = dilation[i] * (k - 1);
      return [Math.floor(t / 2), t - Math.floor(t / 2)];
    });
  }
  if (typeof v === 'number') {
    const p = ctx.int('padding', v, 0);
    return kernel.map(() => [p, p]);
  }
  if (!Array.isArray(v)) throw new Invalid(['padding'], 'padding is not a number, array, same or valid');
  const n = v.length;
  if (n !== dims && n !== 2 * dims && !(dims === 1 && n === 4)) throw new Invalid(['padding'], `padding has ${n} entries`);
  const ints = Array.from({ length: n }, (_, i) => ctx.int('padding', v[i], 0));
  if (n === dims) return ints.map((p) => [p, p]);
  if (n === 2 * dims) return kernel.map((_, i) => [ints[2 * i], ints[2 * i + 1]]);
  if (ints[0] !== 0 || ints[1] !== 0) throw new Invalid(['padding'], 'conv1d [top, bottom, left, right] padding with a height');
  return [[ints[2], ints[3]]];
}

interface ConvGeometry {
  p: ConvParams;
  outShape: number[];
  channelsLast: boolean;
  unbatched: boolean;
  x: Float32Array;
  w: Float32Array;
  wShape: number[];
  inShape: number[];
}

/** conv1d/conv2d (also explain, the forward of backward and of layers): the canonical NCHW problem. */
function convGeometry(
  ctx: Ctx,
  dims: 1 | 2,
  o: Record<string, unknown>,
  input: SemTensor | undefined,
  weight: SemTensor | undefined,
  shapesOnly: boolean
): ConvGeometry {
  const layouts = dims === 2 ? ['NCHW', 'NHWC'] : ['NCW', 'NWC'];
  const channelsLast = enumOf('layout', o.layout, layouts, layouts[0]) === layouts[1];
  const xt = shapesOnly
    ? { shape: ctx.shape('inputShape', input?.shape, [dims + 1, dims + 2], true), data: new Float32Array(0) }
    : ctx.tensor('input', input, [dims + 1, dims + 2], true);
  const unbatched = xt.shape.length === dims + 1;
  if (unbatched && xt.shape[0] === 0 && !shapesOnly) throw new Invalid(['input'], 'unbatched input with a zero dimension');
  if (unbatched && xt.shape[0] === 0) throw new Invalid(['inputShape'], 'unbatched input with a zero dimension');
  const wt = shapesOnly
    ? { shape: ctx.shape('weightShape', weight?.shape, [dims + 2], false), data: new Float32Array(0) }
    : ctx.tensor('weight', weight, [dims + 2], false);
  const xs = unbatched ? [1, ...xt.shape] : xt.shape;
  const N = xs[0];
  const C = channelsLast ? xs[dims + 1] : xs[1];
  const spatial = channelsLast ? xs.slice(1, dims + 1) : xs.slice(2);
  const [K, Cg] = wt.shape;
  const kernel = wt.shape.slice(2);
  const groups = o.groups === undefined ? 1 : ctx.int('groups', o.groups, 1);
  // The channel counts of input, weight and groups disagree: an error may blame any of them (a layer: its channels).
  const channels = ['groups', 'weight', 'input', 'inChannels', 'outChannels'];
  if (C % groups !== 0 || K % groups !== 0) throw new Invalid(channels, `groups ${groups} does not divide C ${C} and K ${K}`);
  if (Cg !== C / groups) throw new Invalid(channels, `weight.shape[1] ${Cg} is not C/groups`);
  const stride = ctx.perDim('stride', o.stride, dims, 1, 1);
  const dilation = ctx.perDim('dilation', o.dilation, dims, 1, 1);
  const pad = convPadding(ctx, o.padding, dims, kernel, dilation, stride);
  const out = spatial.map((size, i) => {
    const padded = size + pad[i][0] + pad[i][1];
    const eff = dilation[i] * (kernel[i] - 1) + 1;
    ctx.big('padded input', padded);
    ctx.big('dilated kernel', eff);
    if (eff > padded)
      throw new Invalid(['weight', 'kernel', 'padding', 'dilation', 'input'], `dilated kernel ${eff} > padded input ${padded}`);
    return Math.floor((padded - eff) / stride[i]) + 1;
  });
  const outShape = channelsLast ? [N, ...out, K] : [N, K, ...out];
  const count = outShape.reduce((a, b) => a * b, 1);
  ctx.big('output elements', count);
  if (count > MAX) ctx.extreme = `output of ${count} elements`;
  const relu = enumOf('activation', o.activation, ['none', 'relu'], 'none') === 'relu';
  const two = (a: number[], d: number) => (dims === 2 ? a : [d, a[0]]);
  const [H, W] = two(spatial, 1),
    [R, S] = two(kernel, 1),
    [strideH, strideW] = two(stride, 1),
    [dilationH, dilationW] = two(dilation, 1);
  const [OH, OW] = two(out, 1);
  const [pt, pb] = dims === 2 ? pad[0] : [0, 0];
  const p: ConvParams = {
    N,
    C,
    H,
    W,
    K,
    R,
    S,
    groups,
    strideH,
    strideW,
    dilationH,
    dilationW,
    padTop: pt,
    padBottom: pb,
    padLeft: pad[dims - 1][0],
    padRight: pad[dims - 1][1],
    OH,
    OW,
    relu,
  };
  return {
    p,
    outShape: unbatched ? outShape.slice(1) : outShape,
    channelsLast,
    unbatched,
    x: xt.data,
    w: wt.data,
    wShape: wt.shape,
    inShape: xt.shape,
  };
}

function biasOf(v: unknown, K: number): Float32Array | null {
  if (v === undefined || v === null) return null;
  const b = f32('bias', v);
  if (len(b) !== K) throw new Invalid(['bias'], `bias has ${len(b)} elements, not K = ${K}`);
  return b;
}

function backendAndAlgo(o: Record<string, unknown>): Algo {
  enumOf('backend', o.backend, BACKEND_CHOICES, 'auto');
  return enumOf('algorithm', o.algorithm, ALGO_CHOICES, 'auto') as Algo;
}

/** [N, P, C] -> [N, C, P] (a copy; float64 oracles read it). */
export function toFirst(a: ArrayLike<number>, N: number, P: number, C: number): Float32Array {
  const b = new Float32Array(N * P * C);
  for (let n = 0; n < N; n++)
    for (let q = 0; q < P; q++) for (let c = 0; c < C; c++) b[(n * C + c) * P + q] = a[(n * P + q) * C + c];
  return b;
}

/** [N, C, P] -> [N, P, C]. */
export function toLast<T extends Float64Array | Float32Array | Int32Array>(a: T, N: number, C: number, P: number): T {
  const b = new (a.constructor as new (n: number) => T)(a.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) for (let q = 0; q < P; q++) b[(n * P + q) * C + c] = a[(n * C + c) * P + q];
  return b;
}

function convExpected(
  ctx: Ctx,
  dims: 1 | 2,
  o: Record<string, unknown>,
  a: SemArgs,
  keys: readonly string[]
): Expected & { kind: 'conv' } {
  if (!isObj(o)) throw new Invalid(['options'], 'options is not an object');
  checkKeys(o, keys);
  const g = convGeometry(ctx, dims, o, a.input, a.weight, false);
  const bias = biasOf(o.bias, g.p.K);
  const algo = backendAndAlgo(o);
  if (o.tune !== undefined && typeof o.tune !== 'boolean') throw new Invalid(['tune'], 'tune is not a boolean');
  const count = g.outShape.reduce((x, y) => x * y, 1);
  let out: Float32Array | null = null;
  if (o.out !== undefined) {
    out = f32('out', o.out);
    if (len(out) < count) throw new Invalid(['out'], `out has ${len(out)} elements, the output ${count}`);
  }
  const x = g.channelsLast ? toFirst(g.x, g.p.N, g.p.H * g.p.W, g.p.C) : g.x;
  return { kind: 'conv', p: g.p, x, w: g.w, bias, outShape: g.outShape, channelsLast: g.channelsLast, algo, out };
}

/** What a call with these semantic arguments must do. */
export function verdict(family: Family, dims: 1 | 2, a: SemArgs): Verdict {
  const ctx = new Ctx();
  try {
    const exp = expected(ctx, family, dims, a);
    return { kind: 'valid', exp, extreme: ctx.extreme };
  } catch (e) {
    // Invalid only once sizes were already past the limits (e.g. a gradOutput that cannot match an output of
    // 2^31 elements): an error about the sizes is as right as one about the argument.
    if (e instanceof Invalid)
      return { kind: 'invalid', names: ctx.extreme ? [...e.names, ...ALL_NAMES] : e.names, why: e.message };
    throw e;
  }
}

function expected(ctx: Ctx, family: Family, dims: 1 | 2, a: SemArgs): Expected {
  const o = (a.options === undefined ? {} : a.options) as Record<string, unknown>;
  switch (family) {
    case 'conv':
      return convExpected(ctx, dims, o, a, CONV_KEYS);
    case 'explain': {
      const c = convExpected(ctx, dims, o, a, CONV_KEYS);
      return { kind: 'explain', p: c.p, outShape: c.outShape, algo: c.algo };
    }
    case 'outputShape': {
      if (!isObj(o)) throw new Invalid(['options'], 'options is not an object');
      checkKeys(o, CONV_KEYS);
      const g = convGeometry(ctx, dims, o, a.input, a.weight, true);
      backendAndAlgo(o);
      return { kind: 'shape', outShape: g.outShape };
    }
    case 'backward': {
      if (!isObj(o)) throw new Invalid(['options'], 'options is not an object');
      if (o.out !== undefined) throw new Invalid(['out', 'options'], 'backward takes no out');
      const c = convExpected(ctx, dims, o, a, [...CONV_KEYS, 'needs']);
      const gt = ctx.tensor('gradOutput', a.gradOutput, [c.outShape.length], c.outShape.length === dims + 2);
      if (gt.shape.some((d, i) => d !== c.outShape[i]))
        throw new Invalid(['gradOutput'], `gradOutput shape ${gt.shape} is not ${c.outShape}`);
      let needs: Set<string>;
      if (o.needs === undefined) needs = new Set(c.bias ? ['input', 'weight', 'bias'] : ['input', 'weight']);
      else {
        if (!Array.isArray(o.needs)) throw new Invalid(['needs'], 'needs is not an array');
        for (let i = 0; i < o.needs.length; i++)
          if (!['input', 'weight', 'bias'].includes(o.needs[i])) throw new Invalid(['needs'], `needs[${i}]`);
        needs = new Set(o.needs as string[]);
      }
      const p = c.p;
      const gy = c.channelsLast ? toFirst(gt.data, p.N, p.OH * p.OW, p.K) : gt.data;
      const inShape = (a.input!.shape as number[]).slice();
      return {
        kind: 'backward',
        p,
        x: c.x,
        w: c.w,
        gy,
        needs,
        channelsLast: c.channelsLast,
        inShape,
        wShape: (a.weight!.shape as number[]).slice(),
        algo: c.algo,
      };
    }
    case 'transpose':
      return transposeExpected(ctx, dims, o, a);
    case 'maxPool':
    case 'avgPool':
    case 'maxPoolBackward':
    case 'avgPoolBackward':
      return poolExpected(ctx, family, o, a);
    case 'layer':
      return layerExpected(ctx, dims, o, a);
  }
}

function transposeExpected(ctx: Ctx, dims: 1 | 2, o: Record<string, unknown>, a: SemArgs): Expected {
  if (!isObj(o)) throw new Invalid(['options'], 'options is not an object');
  checkKeys(o, TRANSPOSE_KEYS);
  const layouts = dims === 2 ? ['NCHW', 'NHWC'] : ['NCW', 'NWC'];
  const channelsLast = enumOf('layout', o.layout, layouts, layouts[0]) === layouts[1];
  const xt = ctx.tensor('input', a.input, [dims + 1, dims + 2], true);
  const unbatched = xt.shape.length === dims + 1;
  if (unbatched && xt.shape[0] === 0) throw new Invalid(['input'], 'unbatched input with a zero dimension');
  const wt = ctx.tensor('weight', a.weight, [dims + 2], false);
  const xs = unbatched ? [1, ...xt.shape] : xt.shape;
  const N = xs[0],
    C = channelsLast ? xs[dims + 1] : xs[1];
  const spatial = channelsLast ? xs.slice(1, dims + 1) : xs.slice(2);
  const groups = o.groups === undefined ? 1 : ctx.int('groups', o.groups, 1);
  if (C % groups !== 0) throw new Invalid(['groups'], 'groups does not divide C');
  if (wt.shape[0] !== C) throw new Invalid(['weight'], 'weight.shape[0] is not C');
  const K = wt.shape[1] * groups;
  const kernel = wt.shape.slice(2);
  const stride = ctx.perDim('stride', o.stride, dims, 1, 1);
  const dilation = ctx.perDim('dilation', o.dilation, dims, 1, 1);
  const outPad = ctx.perDim('outputPadding', o.outputPadding, dims, 0, 0);
  let pads: number[][];
  const pv = o.padding;
  if (pv === undefined || typeof pv === 'number') {
    const p = pv === undefined ? 0 : ctx.int('padding', pv, 0);
    pads = kernel.map(() => [p, p]);
  } else if (Array.isArray(pv) && (pv.length === dims || pv.length === 2 * dims)) {
    const ints = Array.from({ length: pv.length }, (_, i) => ctx.int('padding', pv[i], 0));
    pads = ints.length === dims ? ints.map((p) => [p, p]) : kernel.map((_, i) => [ints[2 * i], ints[2 * i + 1]]);
  } else throw new Invalid(['padding'], 'transposed padding is not a number or an array of dims or 2*dims');
  const out = spatial.map((size, i) => {
    if (outPad[i] >= stride[i] && outPad[i] >= dilation[i])
      throw new Invalid(['outputPadding'], 'outputPadding >= stride and dilation');
    const v = (size - 1) * stride[i] - pads[i][0] - pads[i][1] + dilation[i] * (kernel[i] - 1) + outPad[i] + 1;
    if (v < 1) throw new Invalid(['padding', 'output'], `output size ${v}`);
    ctx.big('transposed output size', v);
    return v;
  });
  const count = N * K * out.reduce((x, y) => x * y, 1);
  ctx.big('output elements', count);
  if (count > MAX) ctx.extreme = `output of ${count} elements`;
  const bias = biasOf(o.bias, K);
  const algo = backendAndAlgo(o);
  const two = (v: number[], d: number) => (dims === 2 ? v : [d, v[0]]);
  const [H, W] = two(spatial, 1),
    [R, S] = two(kernel, 1),
    [strideH, strideW] = two(stride, 1),
    [dilationH, dilationW] = two(dilation, 1);
  const [outPadH, outPadW] = two(outPad, 0),
    [OH, OW] = two(out, 1);
  const [padTop, padBottom] = dims === 2 ? pads[0] : [0, 0];
  const t: TransposeParams = {
    N,
    C,
    H,
    W,
    K,
    R,
    S,
    groups,
    strideH,
    strideW,
    dilationH,
    dilationW,
    padTop,
    padBottom,
    padLeft: pads[dims - 1][0],
    padRight: pads[dims - 1][1],
    outPadH,
    outPadW,
    OH,
    OW,
  };
  const outShape = (channelsLast ? [N, ...out, K] : [N, K, ...out]).slice(unbatched ? 1 : 0);
  const x = channelsLast ? toFirst(xt.data, N, H * W, C) : xt.data;
  return { kind: 'transpose', t, x, w: wt.data, bias, outShape, channelsLast, algo };
}

function pair(ctx: Ctx, name: string, v: unknown, min: number, dflt?: number[]): number[] {
  if (v === undefined && dflt) return dflt.slice();
  if (typeof v === 'number') {
    const x = ctx.int(name, v, min);
    return [x, x];
  }
  if (Array.isArray(v) && v.length === 2) return [ctx.int(name, v[0], min), ctx.int(name, v[1], min)];
  throw new Invalid([name], `${name} is not a number or a pair`);
}

/** PyTorch's pooling output size, with ceil mode's last-window rule. */
function poolOut(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let out = Math.floor((size + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}

function poolExpected(ctx: Ctx, family: Family, o: Record<string, unknown>, a: SemArgs): Expected {
  if (!isObj(o) || Array.isArray(o)) throw new Invalid(['options', 'kernelSize'], 'pooling options are not an object');
  const isMax = family === 'maxPool' || family === 'maxPoolBackward';
  const backward = family === 'maxPoolBackward' || family === 'avgPoolBackward';
  const { indices: _, ...rest } = o;
  checkKeys(backward && isMax ? rest : o, isMax ? MAX_KEYS : AVG_KEYS);
  const channelsLast = enumOf('layout', o.layout, ['NCHW', 'NHWC'], 'NCHW') === 'NHWC';
  const [kH, kW] = pair(ctx, 'kernelSize', o.kernelSize, 1);
  const [sH, sW] = pair(ctx, 'stride', o.stride, 1, [kH, kW]);
  const [pH, pW] = pair(ctx, 'padding', o.padding, 0, [0, 0]);
  const [dH, dW] = isMax ? pair(ctx, 'dilation', o.dilation, 1, [1, 1]) : [1, 1];
  if (pH > Math.floor(kH / 2) || pW > Math.floor(kW / 2)) throw new Invalid(['padding'], 'padding more than half the kernel');
  // With indices given, max pooling's backward needs only the input's shape.
  const shapeOnly = backward && (!isMax || o.indices !== undefined) && isObj(a.input) && a.input.data === undefined;
  const ranks = channelsLast ? [4] : [3, 4];
  let xs: number[],
    x: Float32Array | null = null;
  if (shapeOnly) xs = ctx.shape('input', a.input!.shape, ranks, true);
  else {
    const t = ctx.tensor('input', a.input, ranks, true);
    xs = t.shape;
    x = t.data;
  }
  if (xs.length === 3 && xs[0] === 0) throw new Invalid(['input'], 'unbatched input with a zero dimension');
  const N = xs.length === 4 ? xs[0] : 1;
  const C = channelsLast ? xs[3] : xs[xs.length - 3];
  const [H, W] = channelsLast ? [xs[1], xs[2]] : xs.slice(-2);
  const ceil = Boolean(o.ceilMode);
  const OH = poolOut(H, kH, sH, pH, dH, ceil),
    OW = poolOut(W, kW, sW, pW, dW, ceil);
  ctx.big('pooling window', Math.max(kH * dH, kW * dW));
  if (OH < 1 || OW < 1) throw new Invalid(['input', 'kernelSize'], `pooling output ${OH}x${OW}`);
  const outShape = channelsLast ? [N, OH, OW, C] : [...xs.slice(0, -2), OH, OW];
  const pp: PoolParams = {
    NC: N * C,
    H,
    W,
    kH,
    kW,
    strideH: sH,
    strideW: sW,
    padH: pH,
    padW: pW,
    dilationH: dH,
    dilationW: dW,
    OH,
    OW,
  };
  const first = (d: Float32Array, P: number) => (channelsLast ? toFirst(d, N, P, C) : d);
  const countIncludePad = o.countIncludePad === undefined ? true : Boolean(o.countIncludePad);
  if (family === 'maxPool')
    return { kind: 'maxPool', pp, x: first(x!, H * W), N, outShape, channelsLast, returnIndices: Boolean(o.returnIndices) };
  if (family === 'avgPool') return { kind: 'avgPool', pp, x: first(x!, H * W), N, outShape, channelsLast, countIncludePad };
  const gt = ctx.tensor('gradOutput', a.gradOutput, [outShape.length], outShape.length === 4);
  if (gt.shape.some((d, i) => d !== outShape[i]))
    throw new Invalid(['gradOutput'], `gradOutput shape ${gt.shape} is not ${outShape}`);
  const gy = first(gt.data, OH * OW);
  if (family === 'avgPoolBackward') return { kind: 'avgPoolBackward', pp, gy, N, inShape: xs, channelsLast, countIncludePad };
  let indices: Int32Array;
  if (o.indices !== undefined) {
    const it = o.indices as SemTensor;
    if (!isObj(it) || !(it.data instanceof Int32Array) || it.data.length !== gy.length)
      throw new Invalid(['indices'], 'indices are not an Int32Array of the output size');
    indices = channelsLast ? toFirstI(it.data, N, OH * OW, C) : it.data;
    for (const v of indices) if (!(v >= 0 && v < H * W)) throw new Invalid(['indices'], `index ${v} outside the plane`);
  } else indices = maxPool(pp, x ? first(x, H * W) : new Float32Array(0)).indices;
  return { kind: 'maxPoolBackward', pp, gy, indices, N, inShape: xs, channelsLast };
}

/**
 * maxPoolReference (src/reference/backward.ts) for windows of any size: the same taps in the same order
 * with the same tie and NaN rules, but visiting only the taps inside the input instead of stepping over a
 * kernel of up to 2^31 - 1 taps that lie in the padding. The reference itself for ordinary kernels.
 */
export function maxPool(p: PoolParams, input: ArrayLike<number>): { output: Float64Array; indices: Int32Array } {
  return p.kH * p.kW <= 2 ** 16 ? maxPoolReference(p, input) : maxPoolClipped(p, input);
}

export function maxPoolClipped(p: PoolParams, input: ArrayLike<number>): { output: Float64Array; indices: Int32Array } {
  const { NC, H, W, OH, OW } = p;
  const output = new Float64Array(NC * OH * OW),
    indices = new Int32Array(NC * OH * OW);
  // First and last tap index r with 0 <= o*s - pad + r*d < size.
  const range = (o: number, s: number, pad: number, d: number, k: number, size: number): [number, number] => {
    const start = o * s - pad;
    return [Math.max(0, Math.ceil(-start / d)), Math.min(k - 1, Math.floor((size - 1 - start) / d))];
  };
  for (let plane = 0; plane < NC; plane++) {
    for (let oh = 0; oh < OH; oh++) {
      const [r0, r1] = range(oh, p.strideH, p.padH, p.dilationH, p.kH, H);
      for (let ow = 0; ow < OW; ow++) {
        const [s0, s1] = range(ow, p.strideW, p.padW, p.dilationW, p.kW, W);
        let best = -Infinity,
          at = -1;
        for (let r = r0; r <= r1; r++) {
          const ih = oh * p.strideH - p.padH + r * p.dilationH;
          for (let s = s0; s <= s1; s++) {
            const iw = ow * p.strideW - p.padW + s * p.dilationW;
            const v = input[(plane * H + ih) * W + iw];
            if (at < 0 || v > best || Number.isNaN(v)) {
              best = v;
              at = ih * W + iw;
            }
          }
        }
        output[(plane * OH + oh) * OW + ow] = best;
        indices[(plane * OH + oh) * OW + ow] = at;
      }
    }
  }
  return { output, indices };
}

function toFirstI(a: Int32Array, N: number, P: number, C: number): Int32Array {
  const b = new Int32Array(a.length);
  for (let n = 0; n < N; n++)
    for (let q = 0; q < P; q++) for (let c = 0; c < C; c++) b[(n * C + c) * P + q] = a[(n * P + q) * C + c];
  return b;
}

/**
 * A layer built from options `o`, given the weight (and bias) through its setters, then forward(input,
 * layerOut) and backward(gradOutput): the forward is the conv with the layer's settings.
 */
function layerExpected(ctx: Ctx, dims: 1 | 2, o: Record<string, unknown>, a: SemArgs): Expected {
  if (!isObj(o) || Array.isArray(o)) throw new Invalid(['options'], 'layer options are not an object');
  checkKeys(o, LAYER_KEYS);
  const inC = ctx.int('inChannels', o.inChannels, 1),
    outC = ctx.int('outChannels', o.outChannels, 1);
  const groups = o.groups === undefined ? 1 : ctx.int('groups', o.groups, 1);
  if (inC % groups !== 0 || outC % groups !== 0) throw new Invalid(['groups'], 'groups does not divide the channels');
  if (o.tune !== undefined && typeof o.tune !== 'boolean') throw new Invalid(['tune'], 'tune is not a boolean');
  if (o.kernelSize === undefined) throw new Invalid(['kernelSize'], 'kernelSize missing');
  const kernel = ctx.perDim('kernelSize', o.kernelSize, dims, 1, 1);
  const stride = ctx.perDim('stride', o.stride, dims, 1, 1),
    dilation = ctx.perDim('dilation', o.dilation, dims, 1, 1);
  convPadding(ctx, o.padding, dims, kernel, dilation, stride);
  const wCount = outC * (inC / groups) * kernel.reduce((x, y) => x * y, 1);
  ctx.big('weight elements', wCount);
  if (wCount > MAX) throw new Invalid(['kernelSize', 'inChannels', 'outChannels', 'weight'], `a weight of ${wCount} elements`);
  if (o.seed !== undefined) ctx.int('seed', o.seed, 0);
  const wShape = [outC, inC / groups, ...kernel];
  const wt = ctx.tensor('weight', a.weight, [dims + 2], false);
  if (wt.shape.some((d, i) => d !== wShape[i])) throw new Invalid(['weight'], 'weight shape differs from the layer');
  const hasBias = Boolean(o.bias ?? true);
  const convOptions: Record<string, unknown> = {
    stride,
    dilation,
    padding: o.padding,
    groups,
    backend: o.backend,
    algorithm: o.algorithm,
    layout: o.layout,
    activation: o.activation,
    tune: o.tune,
    out: a.layerOut,
    bias: hasBias ? a.layerBias : undefined,
  };
  const weight = { shape: wShape, data: wt.data };
  const conv = convExpected(ctx, dims, convOptions, { options: convOptions, input: a.input, weight }, CONV_KEYS);
  const gt = ctx.tensor('gradOutput', a.gradOutput, [conv.outShape.length], conv.outShape.length === dims + 2);
  if (gt.shape.some((d, i) => d !== conv.outShape[i])) throw new Invalid(['gradOutput'], 'gradOutput shape');
  return {
    kind: 'layer',
    conv,
    gy: gt.data,
    relu: conv.p.relu,
    bias: hasBias,
    inShape: (a.input!.shape as number[]).slice(),
    wShape,
  };
}

// ---- checks ----

/** Tolerance for a result of `algo` (auto may pick any; derived convolutions fall back to auto). */
function tolFor(algo: Algo, derived: boolean): { tol: number; normwise: number; transform: boolean } {
  if (!derived && (algo === 'direct' || algo === 'im2col')) return { tol: TOLERANCE[algo], normwise: 0, transform: false };
  return { tol: TOLERANCE.fft, normwise: 1e-6, transform: true };
}

function maxFinite(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m && v !== Infinity) m = v;
  }
  return m;
}

/** got vs want within tol * scale + slack (NaN/Inf exact), via tester.ts's compare. null when equal. */
function close(
  label: string,
  got0: ArrayLike<number> | undefined | null,
  want: ArrayLike<number>,
  scale: ArrayLike<number>,
  t: { tol: number; normwise: number; transform: boolean },
  terms: number,
  maxA: number,
  maxB: number
): string | null {
  if (!got0) return `${label}: missing`;
  const got = plain(got0);
  if (got.length !== want.length) return `${label}: ${got.length} elements instead of ${want.length}`;
  const extra = t.normwise * maxFinite(scale) + (t.transform ? 1e-6 * terms * maxA * maxB : 0);
  const c = compare(got, want, scale, t.tol, new Float64Array(want.length).fill(extra));
  if (c.ok) return null;
  const m = c.mismatches
    .slice(0, 3)
    .map((x) => `[${x.index}] got ${x.got} want ${x.want}`)
    .join(', ');
  return `${label}: ${c.mismatches.length} of ${want.length} wrong (${m})`;
}

const sameShape = (got: unknown, want: number[]) =>
  Array.isArray(got) && got.length === want.length && got.every((d, i) => d === want[i]);

function shapeErr(label: string, got: unknown, want: number[]): string | null {
  return sameShape(got, want) ? null : `${label}: shape ${show(got)} instead of [${want}]`;
}

const isTensor = (v: unknown): v is { data: Float32Array; shape: unknown } =>
  isObj(v) && v.data instanceof Float32Array && ArrayBuffer.isView(v.data);

/** Checks a conv result (data in the user's layout) streaming when the output is large. */
function checkConvData(label: string, e: Expected & { kind: 'conv' }, got0: Float32Array, derived = false): string | null {
  const got = plain(got0) as Float32Array;
  const p = e.p,
    P = p.OH * p.OW,
    count = p.N * p.K * P;
  if (got.length !== count) return `${label}: ${got.length} elements instead of ${count}`;
  const t = tolFor(e.algo, derived);
  const terms = (p.C / p.groups) * p.R * p.S;
  if (count > STREAM) return streamConv(label, e, got, t, terms);
  const want = convReference(p, e.x, e.w, e.bias),
    scale = convReference(p, e.x, e.w, e.bias, true);
  const lay = (a: Float64Array) => (e.channelsLast ? toLast(a, p.N, p.K, P) : a);
  return close(label, got, lay(want), lay(scale), t, terms, maxFinite(e.x), maxFinite(e.w));
}

/**
 * The conv reference evaluated one output at a time (the definition in convReference), compared on the
 * fly: outputs of 2^22 to 2^26 elements without float64 copies of them.
 */
function streamConv(
  label: string,
  e: Expected & { kind: 'conv' },
  got: Float32Array,
  t: ReturnType<typeof tolFor>,
  terms: number
): string | null {
  const p = e.p,
    { x, w, bias } = e;
  const Cg = p.C / p.groups,
    Kg = p.K / p.groups,
    P = p.OH * p.OW;
  const extraT = t.transform ? 1e-6 * terms * maxFinite(x) * maxFinite(w) : 0;
  let bad = 0,
    first = '';
  for (let n = 0; n < p.N; n++) {
    for (let k = 0; k < p.K; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < p.OH; oh++) {
        // Columns whose window lies wholly in the padding see only 0 * w: find the window's in-image range.
        for (let ow = 0; ow < p.OW; ow++) {
          let acc = 0,
            s = 0;
          for (let c = 0; c < Cg; c++) {
            for (let r = 0; r < p.R; r++) {
              const ih = oh * p.strideH - p.padTop + r * p.dilationH;
              for (let q = 0; q < p.S; q++) {
                const iw = ow * p.strideW - p.padLeft + q * p.dilationW;
                const wv = w[((k * Cg + c) * p.R + r) * p.S + q];
                if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) {
                  acc += 0 * wv;
                  continue;
                }
                const xv = x[((n * p.C + g * Cg + c) * p.H + ih) * p.W + iw];
                acc += xv * wv;
                s += Math.abs(xv * wv);
              }
            }
          }
          const b = bias ? bias[k] : 0;
          let want = acc + b;
          if (p.relu && want < 0) want = 0;
          s += Math.abs(b);
          const q = oh * p.OW + ow;
          const at = e.channelsLast ? (n * P + q) * p.K + k : (n * p.K + k) * P + q;
          const v = got[at];
          if (!(Math.abs(v - want) <= t.tol * s + extraT + 1e-30) && !(Number.isNaN(want) && Number.isNaN(v))) {
            if (bad++ === 0) first = `[${at}] got ${v} want ${want}`;
          }
        }
      }
    }
  }
  return bad ? `${label}: ${bad} of ${got.length} wrong (streamed; first ${first})` : null;
}

/** The transposed-convolution reference gathered per output (the definition), for large outputs. */
function streamTranspose(
  label: string,
  e: Expected & { kind: 'transpose' },
  got: Float32Array,
  t: ReturnType<typeof tolFor>
): string | null {
  const p = e.t,
    Cg = p.C / p.groups,
    Kg = p.K / p.groups,
    P = p.OH * p.OW;
  const extraT = t.transform ? 1e-6 * Cg * p.R * p.S * maxFinite(e.x) * maxFinite(e.w) : 0;
  let bad = 0,
    first = '';
  for (let n = 0; n < p.N; n++) {
    for (let k = 0; k < p.K; k++) {
      const g = Math.floor(k / Kg),
        kk = k - g * Kg;
      for (let oh = 0; oh < p.OH; oh++) {
        for (let ow = 0; ow < p.OW; ow++) {
          let acc = e.bias ? e.bias[k] : 0,
            s = Math.abs(acc);
          for (let r = 0; r < p.R; r++) {
            const hh = oh + p.padTop - r * p.dilationH;
            if (hh < 0 || hh % p.strideH !== 0 || hh / p.strideH >= p.H) continue;
            const ih = hh / p.strideH;
            for (let q = 0; q < p.S; q++) {
              const ww = ow + p.padLeft - q * p.dilationW;
              if (ww < 0 || ww % p.strideW !== 0 || ww / p.strideW >= p.W) continue;
              const iw = ww / p.strideW;
              for (let c = 0; c < Cg; c++) {
                const ci = g * Cg + c;
                const v = e.x[((n * p.C + ci) * p.H + ih) * p.W + iw] * e.w[((ci * Kg + kk) * p.R + r) * p.S + q];
                acc += v;
                s += Math.abs(v);
              }
            }
          }
          const qq = oh * p.OW + ow;
          const at = e.channelsLast ? (n * P + qq) * p.K + k : (n * p.K + k) * P + qq;
          if (!(Math.abs(got[at] - acc) <= t.tol * s + extraT + 1e-30)) {
            if (bad++ === 0) first = `[${at}] got ${got[at]} want ${acc}`;
          }
        }
      }
    }
  }
  return bad ? `${label}: ${bad} of ${got.length} wrong (streamed; first ${first})` : null;
}

const abs = (a: Float32Array) => a.map(Math.abs);

/** A typed array as a plain view of its true extent (a result may be the caller's own lying subclass). */
function plain(a: ArrayLike<number>): ArrayLike<number> {
  if (!ArrayBuffer.isView(a) || a instanceof DataView) return a;
  const C = a instanceof Int32Array ? Int32Array : a instanceof Float64Array ? Float64Array : Float32Array;
  // A detached (or shrunk-away) view has no elements; its buffer cannot back a new one.
  return len(a) === 0 ? new C(0) : new C(a.buffer as ArrayBuffer, a.byteOffset, len(a));
}

/** Null when `result` is what `e` says, else what is wrong. `extra` carries layer/explain details. */
export function check(e: Expected, result: unknown, requested: { backend: string; algorithm: Algo }): string | null {
  switch (e.kind) {
    case 'conv': {
      if (!isTensor(result)) return `result is not a tensor: ${describe(result)}`;
      const s = shapeErr('output', result.shape, e.outShape);
      if (s) return s;
      if (e.out) {
        if (result.data.buffer !== e.out.buffer || result.data.byteOffset !== e.out.byteOffset)
          return 'the result is not a view at the start of options.out';
      }
      return checkConvData('output', e, result.data);
    }
    case 'explain': {
      if (!isObj(result)) return `explain returned ${describe(result)}`;
      const r = result as {
        outputShape: unknown;
        params: Record<string, unknown>;
        backend: unknown;
        algorithm: unknown;
        threads: unknown;
      };
      const s = shapeErr('explain().outputShape', r.outputShape, e.outShape);
      if (s) return s;
      for (const [k, v] of Object.entries(e.p))
        if (r.params?.[k] !== v) return `explain().params.${k} = ${show(r.params?.[k])}, want ${String(v)}`;
      // An empty batch runs nothing: 0 threads is a fair answer there.
      if (!(typeof r.threads === 'number' && Number.isInteger(r.threads) && r.threads >= (e.p.N === 0 ? 0 : 1)))
        return `explain().threads = ${String(r.threads)}`;
      if (e.algo !== 'auto' && r.algorithm !== e.algo)
        return `explain().algorithm = ${String(r.algorithm)} with '${e.algo}' forced`;
      return null;
    }
    case 'shape':
      return shapeErr('outputShape()', result, e.outShape);
    case 'backward':
      return checkBackward(e, result);
    case 'transpose': {
      if (!isTensor(result)) return `result is not a tensor: ${describe(result)}`;
      const s = shapeErr('output', result.shape, e.outShape);
      if (s) return s;
      const p = e.t,
        P = p.OH * p.OW,
        count = p.N * p.K * P;
      const t = tolFor(e.algo, true);
      if (result.data.length !== count) return `output: ${result.data.length} elements instead of ${count}`;
      if (count > STREAM) return streamTranspose('output', e, result.data, t);
      const want = convTransposeReference(p, e.x, e.w, e.bias),
        scale = convTransposeReference(p, abs(e.x), abs(e.w), e.bias && abs(e.bias));
      const lay = (a: Float64Array) => (e.channelsLast ? toLast(a, p.N, p.K, P) : a);
      return close('output', result.data, lay(want), lay(scale), t, (p.C / p.groups) * p.R * p.S, maxFinite(e.x), maxFinite(e.w));
    }
    case 'maxPool': {
      const ref = maxPool(e.pp, e.x);
      const C = e.pp.NC / Math.max(1, e.N),
        P = e.pp.OH * e.pp.OW;
      const out = isObj(result) && 'output' in result && e.returnIndices ? (result as { output: unknown }).output : result;
      if (!isTensor(out)) return `result is not a tensor: ${describe(result)}`;
      const s = shapeErr('output', out.shape, e.outShape);
      if (s) return s;
      const want = e.channelsLast ? toLast(ref.output, e.N, C, P) : ref.output;
      const d = close('output', out.data, want, want.map(Math.abs), { tol: 0, normwise: 0, transform: false }, 0, 0, 0);
      if (d) return d;
      if (e.returnIndices) {
        const idx = (result as { indices?: { data?: unknown; shape?: unknown } }).indices;
        if (!(idx?.data instanceof Int32Array)) return 'returnIndices: no Int32Array indices';
        const si = shapeErr('indices', idx.shape, e.outShape);
        if (si) return si;
        const wantI = e.channelsLast ? toLast(ref.indices, e.N, C, P) : ref.indices;
        for (let i = 0; i < wantI.length; i++)
          if (idx.data[i] !== wantI[i]) return `indices[${i}] = ${idx.data[i]}, want ${wantI[i]}`;
      }
      return null;
    }
    case 'avgPool': {
      if (!isTensor(result)) return `result is not a tensor: ${describe(result)}`;
      const s = shapeErr('output', result.shape, e.outShape);
      if (s) return s;
      const C = e.pp.NC / Math.max(1, e.N),
        P = e.pp.OH * e.pp.OW;
      const lay = (a: Float64Array) => (e.channelsLast ? toLast(a, e.N, C, P) : a);
      const want = lay(avgPoolReference(e.pp, e.x, e.countIncludePad)),
        scale = lay(avgPoolReference(e.pp, abs(e.x), e.countIncludePad));
      return close('output', result.data, want, scale, { tol: 1e-6, normwise: 0, transform: false }, 0, 0, 0);
    }
    case 'maxPoolBackward':
    case 'avgPoolBackward': {
      if (!isTensor(result)) return `result is not a tensor: ${describe(result)}`;
      const s = shapeErr('gradInput', result.shape, e.inShape);
      if (s) return s;
      const C = e.pp.NC / Math.max(1, e.N),
        P = e.pp.H * e.pp.W;
      const lay = (a: Float64Array) => (e.channelsLast ? toLast(a, e.N, C, P) : a);
      const [want, scale] =
        e.kind === 'maxPoolBackward'
          ? [maxPoolBackwardReference(e.pp, e.gy, e.indices), maxPoolBackwardReference(e.pp, abs(e.gy), e.indices)]
          : [
              avgPoolBackwardReference(e.pp, e.gy, e.countIncludePad),
              avgPoolBackwardReference(e.pp, abs(e.gy), e.countIncludePad),
            ];
      return close('gradInput', result.data, lay(want), lay(scale), { tol: 1e-6, normwise: 0, transform: false }, 0, 0, 0);
    }
    case 'layer':
      return checkLayer(e, result, requested);
  }
}

function checkBackward(e: Expected & { kind: 'backward' }, result: unknown): string | null {
  if (!isObj(result)) return `backward returned ${describe(result)}`;
  const g = result as {
    gradInput?: { data: Float32Array; shape: unknown };
    gradWeight?: { data: Float32Array; shape: unknown };
    gradBias?: Float32Array;
  };
  return gradients(e.p, e.x, e.w, e.gy, e.needs, e.channelsLast, e.inShape, e.wShape, e.algo, g);
}

function gradients(
  p: ConvParams,
  x: Float32Array,
  w: Float32Array,
  gy: Float32Array,
  needs: Set<string>,
  channelsLast: boolean,
  inShape: number[],
  wShape: number[],
  algo: Algo,
  g: {
    gradInput?: { data: Float32Array; shape: unknown };
    gradWeight?: { data: Float32Array; shape: unknown };
    gradBias?: Float32Array;
  }
): string | null {
  const t = tolFor(algo, true);
  const terms = p.N * p.OH * p.OW * p.K * p.R * p.S;
  const gyMax = maxFinite(gy);
  if (needs.has('input')) {
    if (!g.gradInput) return 'no gradInput';
    const s = shapeErr('gradInput', g.gradInput.shape, inShape);
    if (s) return s;
    const HW = p.H * p.W;
    const lay = (a: Float64Array) => (channelsLast ? toLast(a, p.N, p.C, HW) : a);
    const d = close(
      'gradInput',
      g.gradInput.data,
      lay(convGradInputReference(p, gy, w)),
      lay(convGradInputReference(p, gy, w, true)),
      t,
      terms,
      gyMax,
      maxFinite(w)
    );
    if (d) return d;
  } else if (g.gradInput) return 'gradInput computed though needs leaves it out';
  if (needs.has('weight')) {
    if (!g.gradWeight) return 'no gradWeight';
    const s = shapeErr('gradWeight', g.gradWeight.shape, wShape);
    if (s) return s;
    const d = close(
      'gradWeight',
      g.gradWeight.data,
      convGradWeightReference(p, x, gy),
      convGradWeightReference(p, x, gy, true),
      t,
      terms,
      maxFinite(x),
      gyMax
    );
    if (d) return d;
  } else if (g.gradWeight) return 'gradWeight computed though needs leaves it out';
  if (needs.has('bias')) {
    if (!(g.gradBias instanceof Float32Array)) return 'no gradBias';
    const d = close(
      'gradBias',
      g.gradBias,
      convGradBiasReference(p, gy),
      convGradBiasReference(p, gy, true),
      { tol: 1e-5, normwise: 0, transform: false },
      0,
      0,
      0
    );
    if (d) return d;
  }
  return null;
}

/** A layer case's result: { y, grads, weightGrad, biasGrad, algorithm } as the child collected it. */
function checkLayer(
  e: Expected & { kind: 'layer' },
  result: unknown,
  requested: { backend: string; algorithm: Algo }
): string | null {
  const r = result as { y: unknown; grads: unknown; weightGrad: Float32Array; biasGrad: Float32Array | null; algorithm: unknown };
  const c = e.conv;
  const fwd = check(c, r.y, requested);
  if (fwd) return `forward: ${fwd}`;
  if (c.algo !== 'auto' && r.algorithm !== c.algo) return `layer.algorithm = ${String(r.algorithm)} with '${c.algo}' forced`;
  const p = c.p,
    P = p.OH * p.OW;
  // The layer differentiates through its ReLU with the mask of its own output (y > 0).
  const y = (r.y as { data: Float32Array }).data;
  let gyFirst = c.channelsLast ? toFirst(e.gy, p.N, P, p.K) : e.gy;
  if (e.relu) {
    const yFirst = c.channelsLast ? toFirst(y, p.N, P, p.K) : y;
    gyFirst = gyFirst.map((v, i) => (yFirst[i] > 0 ? v : 0));
  }
  const needs = new Set(e.bias ? ['input', 'weight', 'bias'] : ['input', 'weight']);
  const g = r.grads as Parameters<typeof gradients>[9];
  const d = gradients({ ...p, relu: false }, c.x, c.w, gyFirst, needs, c.channelsLast, e.inShape, e.wShape, c.algo, g);
  if (d) return `backward: ${d}`;
  const gw = g.gradWeight!.data;
  for (let i = 0; i < gw.length; i++)
    if (r.weightGrad[i] !== gw[i]) return `layer.weight.grad[${i}] = ${r.weightGrad[i]}, the returned gradWeight has ${gw[i]}`;
  if (e.bias && r.biasGrad)
    for (let i = 0; i < r.biasGrad.length; i++)
      if (r.biasGrad[i] !== g.gradBias![i]) return `layer.bias.grad[${i}] differs from gradBias`;
  return null;
}

/**
 * A short description of any value: sparse arrays of length 2^32 - 1 are values here, and String() of one
 * would build a 4 GB string.
 */
export function show(v: unknown): string {
  if (Array.isArray(v))
    return v.length > 8
      ? `an array of length ${v.length}`
      : `[${Array.from({ length: v.length }, (_, i) => (i in v ? show(v[i]) : '<hole>')).join(', ')}]`;
  if (typeof v === 'symbol' || typeof v === 'bigint') return `${typeof v} ${v.toString()}`;
  if (v !== null && typeof v === 'object') return describe(v);
  return String(v);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return `${typeof v} ${typeof v === 'symbol' ? v.toString() : String(v)}`;
  return (v as object).constructor?.name ?? 'object';
}
