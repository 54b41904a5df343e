// Max and average pooling (2-D, NCHW or CHW, or NHWC with layout: 'NHWC') with PyTorch's semantics, and
// their gradients. Pooling does O(1) work per byte moved, so plain TypeScript runs it at memory speed on the
// calling thread; no backend is involved. The async forms compute at call time and return a promise, so a
// pipeline can await every operation alike; bad arguments reject instead of throwing.

import { channelsFirstToLast, channelsLastToFirst } from './layout.js';
import type { Tensor } from './shape.js';
import { checkIntArray, checkPositiveInt, checkShape, checkTensor, fmt, readTensor, trueLength } from './shape.js';

/** Flat h * W + w positions within each input plane, as PyTorch's return_indices gives them. */
export interface IndexTensor {
  data: Int32Array;
  shape: number[];
}

export interface MaxPoolOptions {
  kernelSize: number | readonly number[];
  /** Default: kernelSize. */
  stride?: number | readonly number[];
  /** Implicit -Infinity padding on both sides; at most half the kernel. */
  padding?: number | readonly number[];
  dilation?: number | readonly number[];
  /** Round the output size up, keeping only windows that start inside the input or its left padding. */
  ceilMode?: boolean;
  returnIndices?: boolean;
  /** 'NHWC': input [N, H, W, C], output and indices likewise (indices stay flat h * W + w positions). */
  layout?: PoolLayout;
}

export type PoolLayout = 'NCHW' | 'NHWC';

export interface AvgPoolOptions {
  kernelSize: number | readonly number[];
  stride?: number | readonly number[];
  /** Implicit zero padding on both sides; at most half the kernel. */
  padding?: number | readonly number[];
  ceilMode?: boolean;
  /** Divide by the whole window including padding (default true) or by the in-input taps only. */
  countIncludePad?: boolean;
  layout?: PoolLayout;
}

interface Geometry {
  NC: number;
  H: number;
  W: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  dH: number;
  dW: number;
  OH: number;
  OW: number;
  inShape: number[];
  outShape: number[];
}

function pair(name: string, v: unknown, min: number, dflt?: readonly number[]): [number, number] {
  if (v === undefined && dflt) return [dflt[0], dflt[1]];
  if (typeof v === 'number') {
    const x = checkPositiveInt(name, v, min);
    return [x, x];
  }
  if (Array.isArray(v)) {
    const a = checkIntArray(name, v, min);
    if (a.length === 2) return [a[0], a[1]];
    throw new RangeError(`${name} must be a number or an array of 2 numbers, got [${a.join(', ')}]`);
  }
  throw new TypeError(`${name} must be a number or an array of 2 numbers, got ${fmt(v)}`);
}

/** PyTorch's pooling_output_shape, including ceil mode's rule that the last window must start in-bounds. */
function outSize(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let out = Math.floor((size + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}

function geometry(kind: string, shape: number[], o: MaxPoolOptions & AvgPoolOptions, allowed: readonly string[]): Geometry {
  if (o === null || typeof o !== 'object') throw new TypeError(`${kind} options must be an object with kernelSize`);
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key))
      throw new TypeError(`options.${key} is not a known ${kind} option (known: ${allowed.join(', ')})`);
  }
  const [kH, kW] = pair('kernelSize', o.kernelSize, 1);
  const [sH, sW] = pair('stride', o.stride, 1, [kH, kW]);
  const [pH, pW] = pair('padding', o.padding, 0, [0, 0]);
  const [dH, dW] = pair('dilation', o.dilation, 1, [1, 1]);
  if (pH > Math.floor(kH / 2) || pW > Math.floor(kW / 2)) {
    throw new RangeError(`padding [${pH}, ${pW}] must be at most half the kernel size [${kH}, ${kW}] (as in PyTorch)`);
  }
  const [H, W] = shape.slice(-2);
  const NC = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const ceil = !!o.ceilMode;
  const OH = outSize(H, kH, sH, pH, dH, ceil),
    OW = outSize(W, kW, sW, pW, dW, ceil);
  if (OH < 1 || OW < 1) {
    throw new RangeError(
      `${kind}: input ${H}x${W} is too small for kernel [${kH}, ${kW}] (dilation [${dH}, ${dW}], padding [${pH}, ${pW}]): output would be ${OH}x${OW}`
    );
  }
  return { NC, H, W, kH, kW, sH, sW, pH, pW, dH, dW, OH, OW, inShape: shape, outShape: [...shape.slice(0, -2), OH, OW] };
}

function inputShape(name: string, t: unknown, needData: boolean): number[] {
  const rank = (t as Tensor)?.shape?.length === 3 ? 3 : 4;
  const dims = rank === 3 ? '[C, H, W]' : '[N, C, H, W]';
  // A batch may be empty, as in PyTorch (then so is the output).
  if (needData || (t as Tensor)?.data !== undefined) return checkTensor(name, t, rank, dims, undefined, rank === 4);
  return checkShape(`${name}.shape`, (t as { shape: unknown })?.shape, rank, dims, rank === 4);
}

function checkGradOutput(g: Geometry, gradOutput: unknown): Float32Array {
  const s = checkTensor(
    'gradOutput',
    gradOutput,
    g.outShape.length,
    `[${g.outShape.join(', ')}]`,
    undefined,
    g.outShape.length === 4
  );
  if (s.some((d, i) => d !== g.outShape[i])) {
    throw new RangeError(`gradOutput must have the pooling output's shape [${g.outShape.join(', ')}], got [${s.join(', ')}]`);
  }
  return (gradOutput as Tensor).data;
}

const MAX_KEYS = ['kernelSize', 'stride', 'padding', 'dilation', 'ceilMode', 'returnIndices', 'layout'];
const AVG_KEYS = ['kernelSize', 'stride', 'padding', 'ceilMode', 'countIncludePad', 'layout'];

/** First in-range tap and end of each window along one dimension (PyTorch: start past the padding, clip the end). */
function windows(out: number, size: number, k: number, stride: number, pad: number, dilation: number): Int32Array {
  const w = new Int32Array(2 * out);
  for (let o = 0; o < out; o++) {
    let start = o * stride - pad;
    while (start < 0) start += dilation;
    w[2 * o] = start;
    w[2 * o + 1] = Math.min(o * stride - pad + (k - 1) * dilation + 1, size);
  }
  return w;
}

function maxPoolPlanes(g: Geometry, x: Float32Array, out: Float32Array | null, indices: Int32Array): void {
  const { H, W, OH, OW, dH, dW } = g;
  const hw = windows(OH, H, g.kH, g.sH, g.pH, dH),
    ww = windows(OW, W, g.kW, g.sW, g.pW, dW);
  for (let plane = 0, o = 0; plane < g.NC; plane++) {
    const base = plane * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = hw[2 * oh],
        h1 = hw[2 * oh + 1];
      for (let ow = 0; ow < OW; ow++, o++) {
        const w0 = ww[2 * ow],
          w1 = ww[2 * ow + 1];
        // PyTorch's CPU kernel: start at the first in-range tap, first strict maximum wins, NaN takes over.
        let best = -Infinity,
          at = h0 * W + w0;
        for (let h = h0; h < h1; h += dH) {
          for (let w = w0, i = h * W + w0; w < w1; w += dW, i += dW) {
            const v = x[base + i];
            // biome-ignore lint/suspicious/noSelfCompare: the NaN test of the inner loop, kept as a compare rather than a call per element
            if (v > best || v !== v) {
              best = v;
              at = i;
            }
          }
        }
        if (out) out[o] = best;
        indices[o] = at;
      }
    }
  }
}

function maxPoolFirst(input: Tensor, options: MaxPoolOptions): Tensor | { output: Tensor; indices: IndexTensor } {
  const g = geometry('maxPool2d', inputShape('input', input, true), options, MAX_KEYS);
  const count = g.NC * g.OH * g.OW;
  const out = new Float32Array(count),
    indices = new Int32Array(count);
  maxPoolPlanes(g, input.data, out, indices);
  const output = { data: out, shape: g.outShape };
  return options.returnIndices ? { output, indices: { data: indices, shape: g.outShape.slice() } } : output;
}

function maxPoolBackwardFirst(
  gradOutput: Tensor,
  input: Tensor | { shape: number[] },
  options: MaxPoolOptions & { indices?: IndexTensor }
): Tensor {
  const { indices: raw, ...rest } = options ?? ({} as MaxPoolOptions);
  const given = raw === undefined ? undefined : (readTensor(raw, 'indices') as unknown as IndexTensor);
  const g = geometry('maxPool2dBackward', inputShape('input', input, given === undefined), rest, MAX_KEYS);
  const gy = checkGradOutput(g, gradOutput);
  let indices: Int32Array;
  if (given !== undefined) {
    if (!(given?.data instanceof Int32Array) || trueLength(given.data as unknown as Float32Array) !== gy.length) {
      throw new RangeError(`indices must be { data: Int32Array of ${gy.length} }, as returned by maxPool2d with returnIndices`);
    }
    indices = given.data;
  } else {
    indices = new Int32Array(gy.length);
    maxPoolPlanes(g, (input as Tensor).data, null, indices);
  }
  const HW = g.H * g.W,
    P = g.OH * g.OW;
  const gx = new Float32Array(g.NC * HW);
  for (let plane = 0; plane < g.NC; plane++) {
    for (let i = 0; i < P; i++) {
      const at = indices[plane * P + i];
      if (at < 0 || at >= HW) throw new RangeError(`indices[${plane * P + i}] = ${at} is outside the ${g.H}x${g.W} input plane`);
      gx[plane * HW + at] += gy[plane * P + i];
    }
  }
  return { data: gx, shape: g.inShape.slice() };
}

/** Runs `each(plane, o, h0, h1, w0, w1, divisor)` for every average-pooling window (in-input bounds). */
function avgWindows(
  g: Geometry,
  countIncludePad: boolean,
  each: (plane: number, o: number, h0: number, h1: number, w0: number, w1: number, divisor: number) => void
): void {
  for (let plane = 0; plane < g.NC; plane++) {
    let o = plane * g.OH * g.OW;
    for (let oh = 0; oh < g.OH; oh++) {
      const hs = oh * g.sH - g.pH,
        he = Math.min(hs + g.kH, g.H + g.pH);
      const h0 = Math.max(hs, 0),
        h1 = Math.min(he, g.H);
      for (let ow = 0; ow < g.OW; ow++, o++) {
        const ws = ow * g.sW - g.pW,
          we = Math.min(ws + g.kW, g.W + g.pW);
        const w0 = Math.max(ws, 0),
          w1 = Math.min(we, g.W);
        // A window wholly in the padding (ceil mode) has no taps: PyTorch outputs 0 there.
        if (h0 >= h1 || w0 >= w1) {
          each(plane, o, 0, 0, 0, 0, 1);
          continue;
        }
        each(plane, o, h0, h1, w0, w1, countIncludePad ? (he - hs) * (we - ws) : (h1 - h0) * (w1 - w0));
      }
    }
  }
}

function avgPoolFirst(input: Tensor, options: AvgPoolOptions): Tensor {
  const g = geometry('avgPool2d', inputShape('input', input, true), options, AVG_KEYS);
  const x = input.data,
    out = new Float32Array(g.NC * g.OH * g.OW);
  avgWindows(g, options.countIncludePad ?? true, (plane, o, h0, h1, w0, w1, divisor) => {
    const base = plane * g.H * g.W;
    let acc = 0;
    for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) acc += x[base + h * g.W + w];
    out[o] = acc / divisor;
  });
  return { data: out, shape: g.outShape };
}

function avgPoolBackwardFirst(gradOutput: Tensor, input: Tensor | { shape: number[] }, options: AvgPoolOptions): Tensor {
  const g = geometry('avgPool2dBackward', inputShape('input', input, false), options, AVG_KEYS);
  const gy = checkGradOutput(g, gradOutput);
  const gx = new Float32Array(g.NC * g.H * g.W);
  avgWindows(g, options.countIncludePad ?? true, (plane, o, h0, h1, w0, w1, divisor) => {
    const base = plane * g.H * g.W,
      v = gy[o] / divisor;
    for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) gx[base + h * g.W + w] += v;
  });
  return { data: gx, shape: g.inShape.slice() };
}

// ---- layouts: NHWC calls are transposed to NCHW around the same kernels ----

/** Whether options ask for NHWC (validated); the options without `layout` for the NCHW kernels. */
function splitLayout<O extends { layout?: PoolLayout }>(kind: string, options: O): [boolean, O] {
  if (options === null || typeof options !== 'object') return [false, options];
  if (Array.isArray(options) || ArrayBuffer.isView(options))
    throw new TypeError(
      `${kind} options must be an object with kernelSize, got ${Array.isArray(options) ? 'an Array' : 'a typed array'}`
    );
  // The copy reads each option once: nothing below sees a getter answer twice. (Rest destructuring
  // would not do: it reads the excluded `layout` getter a second time.)
  const rest = { ...options } as O;
  const layout = rest.layout;
  delete rest.layout;
  if (layout === undefined || layout === 'NCHW') return [false, rest];
  if (layout !== 'NHWC') throw new RangeError(`${kind}: layout must be 'NCHW' or 'NHWC', got ${fmt(layout)}`);
  return [true, rest];
}

/** [N, H, W, C] -> [N, C, H, W] (shape only when the tensor has no data). */
function lastToFirst<T extends { shape: number[]; data?: Float32Array }>(kind: string, name: string, t: T): T {
  const s = (t as Tensor)?.shape;
  if (!Array.isArray(s) || s.length !== 4)
    throw new RangeError(`${kind}: ${name} must be [N, H, W, C] with layout 'NHWC', got shape ${fmt(s)}`);
  const [N, H, W, C] = s;
  const shape = [N, C, H, W];
  if (t.data === undefined) return { ...t, shape };
  checkTensor(name, t, 4, '[N, H, W, C]', undefined, true);
  return { ...t, data: channelsLastToFirst(t.data, N, H * W, C) as Float32Array, shape };
}

function firstToLast(t: Tensor): Tensor {
  const [N, C, H, W] = t.shape;
  return { data: channelsFirstToLast(t.data, N, C, H * W) as Float32Array, shape: [N, H, W, C] };
}

function indicesLayout(d: Int32Array, N: number, A: number, B: number): Int32Array {
  // [N, A, B] -> [N, B, A]; used both ways with (C, HW) or (HW, C).
  const out = new Int32Array(d.length);
  for (let n = 0; n < N; n++)
    for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) out[(n * B + b) * A + a] = d[(n * A + a) * B + b];
  return out;
}

/** 2-D max pooling ([N, C, H, W], [C, H, W] or NHWC); with returnIndices also the argmax positions. */
export function maxPool2d(
  input: Tensor,
  options: MaxPoolOptions & { returnIndices: true }
): { output: Tensor; indices: IndexTensor };
export function maxPool2d(input: Tensor, options: MaxPoolOptions): Tensor;
export function maxPool2d(input: Tensor, options: MaxPoolOptions): Tensor | { output: Tensor; indices: IndexTensor } {
  input = readTensor(input, 'input') as Tensor;
  const [last, o] = splitLayout('maxPool2d', options);
  if (!last) return maxPoolFirst(input, o);
  const r = maxPoolFirst(lastToFirst('maxPool2d', 'input', input), o);
  if (!('indices' in r)) return firstToLast(r as Tensor);
  const [N, C, OH, OW] = r.output.shape;
  const output = firstToLast(r.output);
  return { output, indices: { data: indicesLayout(r.indices.data, N, C, OH * OW), shape: output.shape.slice() } };
}

/**
 * Gradient of maxPool2d: each output's gradient is added to the input element it selected. Pass the
 * forward's `indices` (then `input` may be just `{ shape }`) or the input itself to recompute them.
 */
export function maxPool2dBackward(
  gradOutput: Tensor,
  input: Tensor | { shape: number[] },
  options: MaxPoolOptions & { indices?: IndexTensor }
): Tensor {
  gradOutput = readTensor(gradOutput, 'gradOutput') as Tensor;
  input = readTensor(input, 'input') as Tensor;
  const [last, o] = splitLayout('maxPool2dBackward', options);
  if (o?.indices !== undefined) o.indices = readTensor(o.indices, 'indices') as unknown as IndexTensor;
  if (!last) return maxPoolBackwardFirst(gradOutput, input, o);
  const gy = lastToFirst('maxPool2dBackward', 'gradOutput', gradOutput);
  const [N, C, OH, OW] = gy.shape;
  let opts = o;
  if (o.indices?.data instanceof Int32Array && o.indices.data.length === gy.data.length) {
    opts = { ...o, indices: { data: indicesLayout(o.indices.data, N, OH * OW, C), shape: gy.shape } };
  }
  return firstToLast(maxPoolBackwardFirst(gy, lastToFirst('maxPool2dBackward', 'input', input as Tensor), opts));
}

/** 2-D average pooling ([N, C, H, W], [C, H, W] or NHWC). */
export function avgPool2d(input: Tensor, options: AvgPoolOptions): Tensor {
  input = readTensor(input, 'input') as Tensor;
  const [last, o] = splitLayout('avgPool2d', options);
  if (!last) return avgPoolFirst(input, o);
  return firstToLast(avgPoolFirst(lastToFirst('avgPool2d', 'input', input), o));
}

/** Gradient of avgPool2d: each output's gradient spread as gradient / divisor over its window. */
export function avgPool2dBackward(gradOutput: Tensor, input: Tensor | { shape: number[] }, options: AvgPoolOptions): Tensor {
  gradOutput = readTensor(gradOutput, 'gradOutput') as Tensor;
  input = readTensor(input, 'input') as Tensor;
  const [last, o] = splitLayout('avgPool2dBackward', options);
  if (!last) return avgPoolBackwardFirst(gradOutput, input, o);
  const gy = lastToFirst('avgPool2dBackward', 'gradOutput', gradOutput);
  return firstToLast(avgPoolBackwardFirst(gy, lastToFirst('avgPool2dBackward', 'input', input as Tensor), o));
}

// ---- async forms: computed at call time (see the header), errors as rejections ----

export async function maxPool2dAsync(
  input: Tensor,
  options: MaxPoolOptions & { returnIndices: true }
): Promise<{ output: Tensor; indices: IndexTensor }>;
export async function maxPool2dAsync(input: Tensor, options: MaxPoolOptions): Promise<Tensor>;
export async function maxPool2dAsync(
  input: Tensor,
  options: MaxPoolOptions
): Promise<Tensor | { output: Tensor; indices: IndexTensor }> {
  return maxPool2d(input, options);
}

export async function maxPool2dBackwardAsync(
  gradOutput: Tensor,
  input: Tensor | { shape: number[] },
  options: MaxPoolOptions & { indices?: IndexTensor }
): Promise<Tensor> {
  return maxPool2dBackward(gradOutput, input, options);
}

export async function avgPool2dAsync(input: Tensor, options: AvgPoolOptions): Promise<Tensor> {
  return avgPool2d(input, options);
}

export async function avgPool2dBackwardAsync(
  gradOutput: Tensor,
  input: Tensor | { shape: number[] },
  options: AvgPoolOptions
): Promise<Tensor> {
  return avgPool2dBackward(gradOutput, input, options);
}
