// Argument checking and normalization for every public entry point. Every user-facing error message
// is written here, so that all backends reject the same calls with the same words.

import type { Algorithm, BackendName, ConvParams } from './backends/types.js';
import { ALGORITHMS } from './backends/types.js';

export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export type Padding = number | readonly number[] | 'same' | 'valid';
export type Layout = 'NCHW' | 'NHWC' | 'NCW' | 'NWC';
export type BackendChoice = 'auto' | BackendName | 'wasm-relaxed' | 'wasm-simd' | 'wasm-scalar';

export interface ConvOptions {
  bias?: Float32Array | null;
  stride?: number | readonly number[];
  padding?: Padding;
  dilation?: number | readonly number[];
  groups?: number;
  layout?: Layout;
  activation?: 'none' | 'relu' | 'relu6';
  out?: Float32Array;
  backend?: BackendChoice;
  algorithm?: 'auto' | Algorithm;
  /** With algorithm 'auto': time every applicable algorithm on the first call of a shape, then reuse the fastest. */
  tune?: boolean;
}

/** Largest element count of any tensor: typed-array indices and the addon's int32 math stay exact. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** A shape or option array longer than this is refused before it is copied or printed (a sparse array of length 2^32 - 1 would take a minute). */
export const MAX_ARRAY = 16;

export const fmt = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return v.length > MAX_ARRAY ? `an Array of length ${v.length}` : `[${Array.from(v, fmt).join(', ')}]`;
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return String(v);
};

/**
 * `v` as a dense plain array, its length read once and every entry once (holes become undefined for the
 * checks to reject); longer than MAX_ARRAY is a RangeError before anything is copied.
 */
export function denseArray(name: string, v: ArrayLike<unknown>): unknown[] {
  const n = v.length;
  if (!(n <= MAX_ARRAY)) throw new RangeError(`${name} has ${n} entries; at most ${MAX_ARRAY} are accepted`);
  const a = new Array<unknown>(n);
  for (let i = 0; i < n; i++) a[i] = v[i];
  return a;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'object';
}

export function checkPositiveInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number') {
    const got = v === undefined ? 'undefined (it is required)' : v === null ? 'null' : `${typeName(v)} ${fmt(v)}`;
    throw new TypeError(`${name} must be an integer >= ${min}, got ${got}`);
  }
  if (!Number.isInteger(v) || v < min || v > MAX_ELEMENTS) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${fmt(v)}`);
  }
  return v;
}

/** The most threads setNumThreads and FASTCONV_THREADS take: the native pool's limit (kMaxThreads). */
export const MAX_THREADS = 256;

/** A thread count: the same rule on every backend (wasm then runs at most its pool's limit of them). */
export function checkThreadCount(name: string, v: unknown): number {
  const want = `an integer in [1, ${MAX_THREADS}]`;
  if (typeof v !== 'number') throw new TypeError(`${name} must be ${want}, got ${typeName(v)} ${fmt(v)}`);
  if (!Number.isInteger(v) || v < 1 || v > MAX_THREADS) throw new RangeError(`${name} must be ${want}, got ${fmt(v)}`);
  return v;
}

// The built-in accessors: a subclass may override `length` or `buffer` to lie about its memory, and a
// Proxy passes `instanceof` without being a typed array at all. Validation trusts only these.
const typedArrayProto = Object.getPrototypeOf(Float32Array.prototype) as object;
const intrinsic = (key: string) => {
  const get = Object.getOwnPropertyDescriptor(typedArrayProto, key)?.get;
  // ES2015 defines these getters; an engine without them cannot run this library at all.
  if (!get) throw new Error(`fastconv: %TypedArray%.prototype.${key} has no getter in this JavaScript engine`);
  return get;
};
const lengthOf = intrinsic('length'),
  bufferOf = intrinsic('buffer'),
  byteOffsetOf = intrinsic('byteOffset');

/** The element count a typed array really has (not what an overridden getter claims). */
export function trueLength(a: Float32Array): number {
  return lengthOf.call(a) as number;
}

export function checkFloat32Array(name: string, v: unknown): Float32Array {
  if (!(v instanceof Float32Array) || !ArrayBuffer.isView(v)) {
    throw new TypeError(`${name} must be a Float32Array, got ${typeName(v)}`);
  }
  return v;
}

/**
 * Validates a shape of the given rank: positive integers whose product fits MAX_ELEMENTS. With
 * `emptyBatch` the first entry may be 0, as PyTorch allows an empty batch (and no other empty dimension).
 */
export function checkShape(name: string, shape: unknown, rank: number, dims: string, emptyBatch = false): number[] {
  if (!Array.isArray(shape) && !(ArrayBuffer.isView(shape) && !(shape instanceof DataView))) {
    throw new TypeError(`${name} must be an array of ${rank} integers ${dims}, got ${typeName(shape)}`);
  }
  const s = denseArray(name, shape as ArrayLike<unknown>);
  if (s.length !== rank) {
    throw new RangeError(`${name} must have rank ${rank} ${dims}, got rank ${s.length} ${fmt(s)}`);
  }
  let count = 1;
  s.forEach((d, i) => {
    checkPositiveInt(`${name}[${i}]`, d, emptyBatch && i === 0 ? 0 : 1);
    count *= d as number;
  });
  if (count > MAX_ELEMENTS) {
    throw new RangeError(`${name} ${fmt(s)} has ${count} elements, more than the supported ${MAX_ELEMENTS}`);
  }
  return s as number[];
}

/**
 * Checks an output shape before anything is allocated: every dimension and the element count (counted
 * with at least one sample, so an empty batch cannot hide a size no engine could index) must fit
 * MAX_ELEMENTS. `blame` names the argument that made it this large.
 */
export function checkOutputSize(shape: readonly number[], blame: string): void {
  let count = 1;
  shape.forEach((d, i) => {
    count *= i === 0 ? Math.max(d, 1) : d;
  });
  if (count > MAX_ELEMENTS || shape.some((d) => d > MAX_ELEMENTS)) {
    throw new RangeError(
      `${blame}: the output would be ${fmt(shape)}, ${count} elements, more than the supported ${MAX_ELEMENTS}`
    );
  }
}

/** A zeroed Float32Array of n elements, or a RangeError naming `name` when the engine cannot allocate it. */
export function allocFloats(name: string, n: number): Float32Array {
  try {
    return new Float32Array(n);
  } catch (e) {
    throw new RangeError(`${name}: cannot allocate ${n} floats (${((n * 4) / 2 ** 30).toFixed(2)} GiB): ${(e as Error).message}`);
  }
}

/** Validates a tensor argument of the given rank and returns its shape as plain numbers. */
export function checkTensor(
  name: string,
  t: unknown,
  rank: number,
  dims: string,
  data: unknown = (t as Tensor | null)?.data,
  emptyBatch = false
): number[] {
  if (t === null || typeof t !== 'object' || ArrayBuffer.isView(t)) {
    const hint = ArrayBuffer.isView(t) ? ' (wrap the array: { data, shape })' : '';
    throw new TypeError(`${name} must be a tensor { data: Float32Array, shape: number[] }, got ${typeName(t)}${hint}`);
  }
  const shape = (t as Tensor).shape;
  checkFloat32Array(`${name}.data`, data);
  const s = checkShape(`${name}.shape`, shape, rank, dims, emptyBatch);
  const count = s.reduce((a, b) => a * b, 1);
  const len = trueLength(data as Float32Array);
  if (len !== count) {
    throw new RangeError(
      `${name}.data length must be ${count} for shape ${fmt(s)}, got ${len}` +
        (len === 0 && (bufferOf.call(data) as ArrayBuffer).byteLength === 0 ? ' (detached or empty buffer?)' : '')
    );
  }
  return s;
}

/**
 * An option array as a dense plain array, each entry read once: `map` and `forEach` skip holes (`[, 1]`),
 * which would reach the kernels as NaN, and a getter or Proxy must not answer differently later.
 */
export function checkIntArray(name: string, v: unknown, min: number): number[] {
  if (!Array.isArray(v)) throw new TypeError(`${name} must be an array of integers >= ${min}, got ${typeName(v)}`);
  const a = denseArray(name, v as unknown[]);
  for (let i = 0; i < a.length; i++) checkPositiveInt(`${name}[${i}]`, a[i], min);
  return a as number[];
}

/** undefined → `dflt` per dimension; number | array of `dims` numbers → array of `dims` integers >= min. */
export function perDim(name: string, v: unknown, dims: number, min: number, dflt?: number): number[] {
  if (v === undefined && dflt !== undefined) return new Array(dims).fill(dflt);
  if (typeof v === 'number') return new Array(dims).fill(checkPositiveInt(name, v, min));
  if (!Array.isArray(v)) throw new TypeError(`${name} must be a number or an array of ${dims}, got ${typeName(v)}`);
  const a = checkIntArray(name, v, min);
  if (a.length !== dims) throw new RangeError(`${name} must have ${dims} entr${dims === 1 ? 'y' : 'ies'}, got ${fmt(a)}`);
  return a;
}

/**
 * A tensor argument's fields, each read exactly once (shape copied entry by entry), so that a getter or a
 * Proxy returning a valid value first and another later cannot change what the checks saw. Every public
 * entry point reads its tensors through this before validating them; non-objects pass through for the
 * checks to name.
 */
export function readTensor(t: unknown, name = 'tensor'): unknown {
  if (t === null || typeof t !== 'object' || ArrayBuffer.isView(t)) return t;
  const data = plainView((t as Tensor).data),
    shape = (t as Tensor).shape as unknown;
  const shapeLike = Array.isArray(shape) || (ArrayBuffer.isView(shape) && !(shape instanceof DataView));
  return { data, shape: shapeLike ? denseArray(`${name}.shape`, shape as ArrayLike<unknown>) : shape };
}

const f32Proto = Float32Array.prototype,
  i32Proto = Int32Array.prototype;

/**
 * A typed array of a subclass, or a Proxy passing for one, as a plain view of the memory it really has
 * (the intrinsic length, buffer and offset): code after the checks reads `.length` and `.subarray`, which a
 * subclass may override to lie. Plain arrays and anything else pass through unchanged.
 */
export function plainView<T>(a: T): T {
  if (!(a instanceof Float32Array || a instanceof Int32Array) || !ArrayBuffer.isView(a)) return a;
  const proto = Object.getPrototypeOf(a);
  if (proto === f32Proto || proto === i32Proto) return a;
  const Ctor = a instanceof Float32Array ? Float32Array : Int32Array;
  try {
    return new Ctor(bufferOf.call(a) as ArrayBuffer, byteOffsetOf.call(a) as number, lengthOf.call(a) as number) as unknown as T;
  } catch {
    return a; // not a real typed array (a Proxy): the checks reject it
  }
}

/** readTensor then checkTensor: the validated data and shape, each read once. */
export function tensorArg(name: string, t: unknown, rank: number, dims: string, emptyBatch = false): Tensor {
  const snap = readTensor(t, name) as Tensor;
  const shape = checkTensor(name, snap, rank, dims, snap?.data, emptyBatch);
  return { data: snap.data, shape };
}

export interface NormalizedConv {
  params: ConvParams;
  /** input.data and weight.data as validated: later code must not read the tensors' getters again. */
  x: Float32Array;
  w: Float32Array;
  /** input.shape and weight.shape as validated (the user's layout; unbatched inputs keep their rank). */
  xShape: number[];
  wShape: number[];
  /** The user's output shape, in the input's layout. */
  outShape: number[];
  channelsLast: boolean;
  bias: Float32Array | null;
  out: Float32Array | undefined;
  backend: BackendChoice;
  algorithm: 'auto' | Algorithm;
  tune: boolean;
}

export const ACTIVATIONS = ['none', 'relu', 'relu6'] as const;

const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'native', 'wasm', 'js', 'wasm-relaxed', 'wasm-simd', 'wasm-scalar'];

export function checkBackendChoice(name: string, v: unknown): BackendChoice {
  if (v === undefined) return 'auto';
  if (!BACKEND_CHOICES.includes(v as BackendChoice)) {
    throw new RangeError(`${name} must be one of ${BACKEND_CHOICES.map(fmt).join(', ')}, got ${fmt(v)}`);
  }
  return v as BackendChoice;
}

export function checkEnum<T extends string>(name: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new RangeError(`${name} must be one of ${allowed.map(fmt).join(', ')}, got ${fmt(v)}`);
  return v as T;
}

/** Whether the first `bytes` bytes of `a` share memory with `b` (no view is created: this is on every call's path). */
function overlaps(a: Float32Array, bytes: number, b: Float32Array): boolean {
  if (bufferOf.call(a) !== bufferOf.call(b)) return false;
  const ao = byteOffsetOf.call(a) as number,
    bo = byteOffsetOf.call(b) as number;
  return ao < bo + 4 * trueLength(b) && bo < ao + bytes;
}

/**
 * Resolves padding to [before, after] per spatial dimension.
 * Forms: number; per-dim symmetric array (length dims); explicit (length 2*dims:
 * conv2d [top, bottom, left, right], conv1d [left, right]); 'valid'; 'same' (PyTorch: stride 1 only,
 * total = dilation*(k-1), floor(total/2) before and the rest after).
 */
export function resolvePadding(v: unknown, dims: number, kernel: number[], dilation: number[], stride: number[]): number[][] {
  if (v === undefined || v === 'valid') return kernel.map(() => [0, 0]);
  if (v === 'same') {
    if (stride.some((s) => s !== 1)) {
      throw new RangeError(`padding 'same' requires stride 1 (as in PyTorch), got stride ${fmt(stride)}`);
    }
    return kernel.map((k, i) => {
      const total = dilation[i] * (k - 1);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
  }
  if (typeof v === 'string') throw new RangeError(`padding must be a number, an array, 'same' or 'valid', got ${fmt(v)}`);
  if (typeof v === 'number') {
    const p = checkPositiveInt('padding', v, 0);
    return kernel.map(() => [p, p]);
  }
  if (!Array.isArray(v)) throw new TypeError(`padding must be a number, an array, 'same' or 'valid', got ${typeName(v)}`);
  const ints = checkIntArray('padding', v, 0);
  if (ints.length === dims) return ints.map((p) => [p, p]);
  if (ints.length === 2 * dims) return kernel.map((_, i) => [ints[2 * i], ints[2 * i + 1]]);
  if (dims === 1 && ints.length === 4) {
    // [top, bottom, left, right] as the golden vectors state a conv1d's padding: the height has none.
    if (ints[0] !== 0 || ints[1] !== 0) {
      throw new RangeError(`padding [top, bottom, left, right] of a conv1d must have top = bottom = 0, got ${fmt(v)}`);
    }
    return [[ints[2], ints[3]]];
  }
  const forms = dims === 2 ? '[p], [ph, pw] or [top, bottom, left, right]' : '[p], [left, right] or [0, 0, left, right]';
  throw new RangeError(`padding array must be ${forms}, got ${fmt(v)}`);
}

const OPTION_KEYS = new Set([
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
]);

function checkOptions(options: unknown, extraKeys: readonly string[] = []): ConvOptions {
  if (options === undefined) return {};
  const o = checkOptionsObject('options', options);
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.has(key) && !extraKeys.includes(key)) {
      throw new TypeError(`options.${key} is not a known option (known: ${[...OPTION_KEYS, ...extraKeys].join(', ')})`);
    }
  }
  return o as ConvOptions;
}

/**
 * An options argument: an object that is not an array or a typed array, copied so that each option is
 * read once (a getter cannot answer one thing to the checks and another to the kernels).
 */
export function checkOptionsObject(name: string, options: unknown): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options) || ArrayBuffer.isView(options)) {
    throw new TypeError(`${name} must be an object, got ${Array.isArray(options) ? 'an Array' : typeName(options)}`);
  }
  return { ...(options as Record<string, unknown>) };
}

interface Geometry {
  params: ConvParams;
  outShape: number[];
  channelsLast: boolean;
}

function layoutOf(dims: 1 | 2, o: ConvOptions) {
  const layouts: Layout[] = dims === 2 ? ['NCHW', 'NHWC'] : ['NCW', 'NWC'];
  const layout = checkEnum('layout', o.layout, layouts, layouts[0]);
  const channelsLast = layout === 'NHWC' || layout === 'NWC';
  const inDims = dims === 2 ? (channelsLast ? '[N, H, W, C]' : '[N, C, H, W]') : channelsLast ? '[N, W, C]' : '[N, C, W]';
  const wDims = dims === 2 ? '[K, C/groups, R, S]' : '[K, C/groups, R]';
  return { channelsLast, inDims, wDims };
}

/** Shape-level part of the checks: groups, stride, dilation, padding, output size (PyTorch's formula). */
function geometry(dims: 1 | 2, xs: number[], ws: number[], o: ConvOptions, channelsLast: boolean): Geometry {
  const rank = dims + 2;
  const N = xs[0];
  const C = channelsLast ? xs[rank - 1] : xs[1];
  const spatial = channelsLast ? xs.slice(1, rank - 1) : xs.slice(2);
  const [K, Cg] = ws;
  const kernel = ws.slice(2);

  const groups = o.groups === undefined ? 1 : checkPositiveInt('groups', o.groups);
  if (C % groups !== 0) throw new RangeError(`groups (${groups}) must divide the input channels C (${C})`);
  if (K % groups !== 0) throw new RangeError(`groups (${groups}) must divide the output channels K = weight.shape[0] (${K})`);
  if (Cg !== C / groups) {
    throw new RangeError(`weight.shape[1] must be C/groups = ${C}/${groups} = ${C / groups}, got ${Cg}`);
  }

  const stride = o.stride === undefined ? new Array(dims).fill(1) : perDim('stride', o.stride, dims, 1);
  const dilation = o.dilation === undefined ? new Array(dims).fill(1) : perDim('dilation', o.dilation, dims, 1);
  const pad = resolvePadding(o.padding, dims, kernel, dilation, stride);

  const outSpatial = spatial.map((size, i) => {
    const padded = size + pad[i][0] + pad[i][1];
    const effective = dilation[i] * (kernel[i] - 1) + 1;
    if (effective > padded) {
      const what = dims === 2 ? ['height', 'width'][i] : 'width';
      throw new RangeError(
        `weight: kernel ${what} ${kernel[i]} (dilated: ${effective}) is larger than the padded input ${what} ${padded}`
      );
    }
    return Math.floor((padded - effective) / stride[i]) + 1;
  });
  const outShape = channelsLast ? [N, ...outSpatial, K] : [N, K, ...outSpatial];
  // Only padding makes the output plane larger than the input's; otherwise it is the channel count.
  const grows = outSpatial.some((o, i) => o > spatial[i]);
  checkOutputSize(outShape, grows ? 'padding' : 'weight.shape[0] (output channels K)');

  // Indexing, not array destructuring: this runs on every call and tiny layers feel each microsecond.
  // Indexing, not array destructuring: this runs on every call and tiny layers feel each microsecond.
  // In 1-D the height entries are absent (index -1) and take the neutral value.
  const hi = dims === 2 ? 0 : -1,
    wi = dims - 1;
  const hOf = (a: number[], dflt: number) => (hi < 0 ? dflt : a[hi]);
  const activation = checkEnum('activation', o.activation, ACTIVATIONS, 'none');
  // The engines take ReLU6 as ReLU plus an upper bound (ConvParams.relu6).
  const relu = activation !== 'none',
    relu6 = activation === 'relu6';
  return {
    params: {
      N,
      C,
      H: hOf(spatial, 1),
      W: spatial[wi],
      K,
      R: hOf(kernel, 1),
      S: kernel[wi],
      groups,
      strideH: hOf(stride, 1),
      strideW: stride[wi],
      dilationH: hOf(dilation, 1),
      dilationW: dilation[wi],
      padTop: hi < 0 ? 0 : pad[hi][0],
      padBottom: hi < 0 ? 0 : pad[hi][1],
      padLeft: pad[wi][0],
      padRight: pad[wi][1],
      OH: hOf(outSpatial, 1),
      OW: outSpatial[wi],
      relu,
      relu6,
    },
    outShape,
    channelsLast,
  };
}

/**
 * Validates a conv1d (dims = 1) or conv2d (dims = 2) call and maps it onto the canonical 2-D NCHW problem.
 * `extraKeys` lets callers with more options (backward's `needs`) share the unknown-option check.
 */
export function normalizeConv(
  dims: 1 | 2,
  input: unknown,
  weight: unknown,
  options: unknown,
  extraKeys: readonly string[] = []
): NormalizedConv {
  const o = checkOptions(options, extraKeys);
  const { channelsLast, inDims, wDims } = layoutOf(dims, o);
  const xt = readTensor(input, 'input') as Tensor,
    wt = readTensor(weight, 'weight') as Tensor;
  const x = xt?.data,
    w = wt?.data;
  const xShape = xt?.shape;
  const unbatched = isUnbatched(dims, xShape);
  if (Array.isArray(xShape) && !unbatched && xShape.length !== dims + 2) {
    throw new RangeError(
      `input.shape must have rank ${dims + 2} ${inDims} (or ${dims + 1}, unbatched), got rank ${xShape.length} ${fmt(xShape)}`
    );
  }
  const xs = checkTensor('input', xt, dims + (unbatched ? 1 : 2), unbatched ? unbatchedDims(inDims) : inDims, x, !unbatched);
  const ws = checkTensor('weight', wt, dims + 2, wDims, w);
  const g = geometry(dims, unbatched ? [1, ...xs] : xs, ws, o, channelsLast);
  if (unbatched) g.outShape = g.outShape.slice(1);
  const K = g.params.K;

  let bias: Float32Array | null = null;
  if (o.bias !== undefined && o.bias !== null) {
    bias = plainView(checkFloat32Array('bias', o.bias));
    if (trueLength(bias) !== K) throw new RangeError(`bias length must be K = ${K}, got ${trueLength(bias)}`);
  }
  const backend = checkBackendChoice('backend', o.backend);
  const algorithm = checkEnum('algorithm', o.algorithm, ['auto', ...ALGORITHMS] as const, 'auto');
  if (o.tune !== undefined && typeof o.tune !== 'boolean') throw new TypeError(`tune must be a boolean, got ${typeName(o.tune)}`);
  const tune = o.tune === true;

  const outCount = g.outShape.reduce((a, b) => a * b, 1);
  let out: Float32Array | undefined;
  if (o.out !== undefined) {
    out = plainView(checkFloat32Array('out', o.out));
    if (trueLength(out) < outCount)
      throw new RangeError(`out must hold at least ${outCount} elements for output ${fmt(g.outShape)}, got ${trueLength(out)}`);
    const bytes = outCount * 4;
    const clash = overlaps(out, bytes, x)
      ? 'input'
      : overlaps(out, bytes, w)
        ? 'weight'
        : bias && overlaps(out, bytes, bias)
          ? 'bias'
          : null;
    if (clash) throw new RangeError(`out must not overlap ${clash} (they share memory)`);
  }
  return {
    params: g.params,
    x,
    w,
    xShape: xs,
    wShape: ws,
    outShape: g.outShape,
    channelsLast: g.channelsLast,
    bias,
    out,
    backend,
    algorithm,
    tune,
  };
}

/**
 * PyTorch's output shape for a conv1d (weight of rank 3) or conv2d (weight of rank 4); the input has
 * the weight's rank, or one less when unbatched.
 */
export function outputShape(inputShape: readonly number[], weightShape: readonly number[], options?: ConvOptions): number[] {
  const o = checkOptions(options);
  // Read once, as every tensor field is (readTensor).
  if (Array.isArray(inputShape)) inputShape = denseArray('inputShape', inputShape) as number[];
  if (Array.isArray(weightShape)) weightShape = denseArray('weightShape', weightShape) as number[];
  const rank = Array.isArray(inputShape) ? inputShape.length : -1;
  const wRank = Array.isArray(weightShape) ? weightShape.length : -1;
  if (rank < 2 || rank > 4) {
    throw new RangeError(
      `inputShape must be an array of rank 3 (conv1d) or 4 (conv2d), or one less unbatched, got ${fmt(inputShape)}`
    );
  }
  // Rank 3 is a batched conv1d input or an unbatched conv2d one: the weight's rank tells them apart.
  const dims = (rank === 3 ? (wRank === 4 ? 2 : 1) : rank === 2 ? 1 : 2) as 1 | 2;
  const { channelsLast, inDims, wDims } = layoutOf(dims, o);
  const unbatched = isUnbatched(dims, inputShape);
  const xs = checkShape(
    'inputShape',
    inputShape,
    dims + (unbatched ? 1 : 2),
    unbatched ? unbatchedDims(inDims) : inDims,
    !unbatched
  );
  const ws = checkShape('weightShape', weightShape, dims + 2, wDims);
  const shape = geometry(dims, unbatched ? [1, ...xs] : xs, ws, o, channelsLast).outShape;
  return unbatched ? shape.slice(1) : shape;
}

/** An input of one rank less than batched is one unbatched sample, as PyTorch's conv1d/conv2d take it. */
export function isUnbatched(dims: 1 | 2, shape: unknown): boolean {
  return (
    (Array.isArray(shape) || (ArrayBuffer.isView(shape) && !(shape instanceof DataView))) &&
    (shape as ArrayLike<unknown>).length === dims + 1
  );
}

/** '[N, C, H, W]' -> '[C, H, W] (unbatched)'. */
function unbatchedDims(dims: string): string {
  return `${dims.replace('N, ', '')} (unbatched)`;
}
