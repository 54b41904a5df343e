// Child side: turns a JSON case (hostile-types.ts) into a real call — proxies, switching getters,
// resizable/shared/detached buffers, sparse arrays — and records, next to what the library is given, what
// the caller *meant* (the semantic arguments the oracle judges the outcome by), snapshots of everything the
// call must not modify, and how often each switching getter was read.

import type { SemArgs, SemTensor } from './hostile-oracle.js';
import { maxPool, toLast, verdict } from './hostile-oracle.js';
import type { DataForm, HostileCase, HValue, Mutation, Num, ObjectForm, ShapeForm, TensorSlot } from './hostile-types.js';
import { familyOf, isAsync, takesBackend } from './hostile-types.js';

/** The library's public API, as the child imported it from dist/. */
export type Api = Record<string, (...a: unknown[]) => unknown> & {
  Conv1d: new (o: unknown) => Layer;
  Conv2d: new (o: unknown) => Layer;
};
interface Layer {
  weight: unknown;
  bias: unknown;
  readonly algorithm: unknown;
  forward(x: unknown, out?: unknown): unknown;
  forwardAsync(x: unknown, out?: unknown): Promise<unknown>;
  backward(gy: unknown): unknown;
  backwardAsync(gy: unknown): Promise<unknown>;
}

export interface Materialized {
  /** Makes the call (async ops: through the promise, with the after-call action done right after it is made). */
  run: () => Promise<unknown>;
  /** Candidate meanings of the call (more than one where a value has several plausible readings). */
  sems: SemArgs[];
  /** The presentation is legal but unusual enough that a clean TypeError/RangeError is acceptable too. */
  ambiguous: string[];
  /** Getters that throw: the call must fail with exactly one of these errors. */
  userErrors: Error[];
  /** Names an error caused by the mutations should contain. */
  names: string[];
  /** Run after the call: each returns a description of what changed, or null. */
  unchanged: (() => string | null)[];
  /** Switching getters: how often each was read during the call (at most once each). */
  reads: { label: string; count: () => number }[];
  /** `out`'s backing bytes outside the result must not change: checked once the result size is known. */
  outGuard: ((count: number) => string | null) | null;
}

// ---- values ----

/** mulberry32: deterministic data from the case's seed. */
function rngOf(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const num = (v: Num): number =>
  v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === '-0' ? -0 : v;
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

class HArray extends Array<unknown> {}

// Resizable ArrayBuffer and growable SharedArrayBuffer (ES2024; Node 20 has them, the ES2022 lib types do not).
type Resizable = ArrayBuffer & { resize(bytes: number): void };
const ResizableBuffer = ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => Resizable;
const GrowableShared = SharedArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => SharedArrayBuffer;
/** Typed-array constructors of either element type, as one signature. */
type View = Float32Array | Int32Array;
type ViewCtor = {
  new (n: number): View;
  new (b: ArrayBufferLike, offset?: number, length?: number): View;
  new (a: ArrayLike<number>): View;
  BYTES_PER_ELEMENT: number;
  from(a: ArrayLike<number>): View;
};
const ctorOf = (v: View): ViewCtor => (v instanceof Int32Array ? Int32Array : Float32Array) as unknown as ViewCtor;
class Sub extends Float32Array {}

/** Detaches `a`'s buffer (Node 20 has no ArrayBuffer.prototype.transfer). */
function detach(a: ArrayBufferView): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

interface Realized {
  actual: unknown;
  sem: unknown;
  ambiguous: string | null;
  getter: { first: unknown; later: unknown } | null;
  throws: Error | null;
}

/** A hostile value: what the library gets and what it means (`base`, `baseSem`: the value the option had). */
function realize(h: HValue, base: unknown, baseSem: unknown = base): Realized {
  const plain = (actual: unknown, sem = actual): Realized => ({ actual, sem, ambiguous: null, getter: null, throws: null });
  switch (h.kind) {
    case 'keep':
      return plain(base, baseSem);
    case 'num':
      return plain(num(h.v));
    case 'str':
      return plain(h.v);
    case 'bigint':
      return plain(BigInt(h.v));
    case 'boxed':
      return { ...plain(Object(h.v), h.v), ambiguous: `a boxed ${typeof h.v}` };
    case 'bool':
      return plain(h.v);
    case 'null':
      return plain(null);
    case 'undefined':
      return plain(undefined);
    case 'object':
      return plain({});
    case 'symbol':
      return plain(Symbol('hostile'));
    case 'typed': {
      const T = h.type === 'Int32Array' ? Int32Array : Float64Array;
      return { ...plain(T.from(h.items), h.items.slice()), ambiguous: `an ${h.type} option` };
    }
    case 'array': {
      const items = h.items.map((x) => realize(x, undefined));
      const length = Math.max(h.length ?? 0, items.length);
      const holes = new Set(h.holes ?? []);
      const make = (which: 'actual' | 'sem', arr: unknown[]) => {
        arr.length = length;
        items.forEach((it, i) => {
          if (!holes.has(i)) arr[i] = it[which];
        });
        return arr;
      };
      // A sparse array of length up to 2^32 - 1: both sides are the sparse array itself (no copy of it).
      const sem = make('sem', []);
      let actual: unknown = make('actual', h.form === 'subclass' ? new HArray() : []);
      if (h.form === 'frozen') Object.freeze(actual);
      if (h.form === 'extra-prop') (actual as { extra?: number }).extra = 7;
      if (h.form === 'proxy') actual = new Proxy(actual as object, {});
      const amb = items.find((i) => i.ambiguous)?.ambiguous ?? null;
      return { actual, sem, ambiguous: amb, getter: null, throws: null };
    }
    case 'getter': {
      const first = realize(h.first, base, baseSem),
        later = realize(h.later, base, baseSem);
      return {
        actual: undefined,
        sem: first.sem,
        ambiguous: 'a switching getter (a read-twice check may reject it)',
        getter: { first: first.actual, later: later.actual },
        throws: null,
      };
    }
    case 'throwing-getter':
      return {
        actual: undefined,
        sem: undefined,
        ambiguous: null,
        getter: null,
        throws: new Error('hostile getter threw (this exact error must surface)'),
      };
  }
}

// ---- tensors ----

interface TensorBuild {
  label: string;
  values: Float32Array | Int32Array; // what the caller means
  shape: number[];
  data: unknown; // what the library is given
  semData: unknown;
  shapeActual: unknown;
  semShape: unknown;
  object: unknown; // the tensor object (or the bare array for bias/out)
  ambiguous: string[];
  /** The real buffers behind it, for the unchanged checks (absent when detached on purpose). */
  buffers: ArrayBufferView[];
  shapeTargets: unknown[];
  getterReads: { label: string; count: () => number }[];
  throws: Error | null;
  throwsField: 'data' | 'shape' | null;
  /** midcall mutations: the action on this tensor's buffer, per mutation; null for other tensors. */
  midcall: Map<Mutation, () => void> | null;
  /** Every midcall action on it is a grow (its values must then stay as they were). */
  onlyGrown: boolean;
}

function fillF32(n: number, rnd: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rnd() * 2 - 1;
  return a;
}

/** The presented array for `form`, and what it means. */
function presentData(values: Float32Array | Int32Array, form: DataForm | undefined, b: TensorBuild, slot: string): void {
  const n = values.length;
  const T = ctorOf(values);
  const withGuards = (shared: boolean) => {
    const bytes = (n + 5) * T.BYTES_PER_ELEMENT;
    const backing = new T(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    backing.fill(99);
    const v = backing.subarray(3, 3 + n);
    v.set(values);
    return v;
  };
  b.semData = values;
  if (!form) {
    b.data = values;
    b.buffers.push(values);
    return;
  }
  switch (form.kind) {
    case 'offset':
      b.data = withGuards(false);
      break;
    case 'shared':
      b.data = withGuards(true);
      break;
    case 'growable-shared':
    case 'resizable': {
      const bytes = n * T.BYTES_PER_ELEMENT;
      const buf =
        form.kind === 'resizable'
          ? new ResizableBuffer(bytes, { maxByteLength: 2 * bytes + 8 })
          : new GrowableShared(bytes, { maxByteLength: 2 * bytes + 8 });
      const v = form.kind === 'resizable' && !form.tracking ? new T(buf, 0, n) : new T(buf);
      v.set(values);
      b.data = v;
      b.ambiguous.push(
        `${slot}: a ${form.kind === 'resizable' ? (form.tracking ? 'length-tracking resizable' : 'resizable') : 'growable shared'} buffer`
      );
      break;
    }
    case 'subclass': {
      const v = T === Int32Array ? Int32Array.from(values) : Sub.from(values);
      b.data = v;
      break;
    }
    case 'lying': {
      const claim = n + form.claim,
        truth = Math.max(0, n + form.truth);
      class Liar extends (T as typeof Float32Array) {
        override get length() {
          return claim;
        }
      }
      const v = new Liar(truth);
      v.set(values.subarray(0, Math.min(n, truth)) as Float32Array);
      b.data = v;
      // A liar of the right true length may be read correctly; one of the wrong length must be refused.
      if (form.truth === 0) b.ambiguous.push(`${slot}: a subclass whose length getter lies`);
      else b.semData = new T(v.buffer, v.byteOffset, truth);
      b.buffers.push(v);
      return;
    }
    case 'proxy': {
      b.data = new Proxy(values, {});
      b.ambiguous.push(`${slot}: a Proxy around the typed array`);
      b.buffers.push(values);
      return;
    }
    case 'detached': {
      const v = new T(values);
      detach(v);
      b.data = v;
      b.semData = v;
      if (n === 0) b.ambiguous.push(`${slot}: detached and empty`);
      return;
    }
    case 'wrong-type': {
      const w =
        form.type === 'Float64Array'
          ? Float64Array.from(values)
          : form.type === 'Int32Array'
            ? Int32Array.from(values)
            : form.type === 'Uint8Array'
              ? new Uint8Array(values.buffer.slice(0))
              : form.type === 'Array'
                ? Array.from(values)
                : new DataView(new ArrayBuffer(4 * n));
      // Int32Array is the right type for indices: then it is the values themselves.
      b.data = T === Int32Array && form.type === 'Int32Array' ? values : w;
      b.semData = b.data;
      return;
    }
    case 'length': {
      const m = Math.max(0, n + form.delta);
      const v = new T(m);
      v.set(values.subarray(0, Math.min(n, m)) as Float32Array);
      b.data = v;
      b.semData = v;
      b.buffers.push(v);
      return;
    }
  }
  b.buffers.push(b.data as ArrayBufferView);
}

function presentShape(shape: number[], form: ShapeForm | undefined, b: TensorBuild): void {
  b.semShape = shape.slice();
  if (!form) {
    b.shapeActual = shape.slice();
    b.shapeTargets.push(b.shapeActual);
    return;
  }
  switch (form.kind) {
    case 'typed': {
      const T = form.type === 'Int32Array' ? Int32Array : form.type === 'Float64Array' ? Float64Array : Uint32Array;
      b.shapeActual = T.from(shape);
      break;
    }
    case 'proxy': {
      const target = shape.slice();
      b.shapeActual = new Proxy(target, {});
      b.shapeTargets.push(target);
      return;
    }
    case 'frozen':
      b.shapeActual = Object.freeze(shape.slice());
      break;
    case 'extra-prop':
      b.shapeActual = Object.assign(shape.slice(), { extra: 1 });
      break;
    case 'holey': {
      const s = shape.slice();
      delete s[form.at % s.length];
      b.shapeActual = s;
      b.semShape = s.slice();
      break;
    }
    case 'array-like': {
      b.shapeActual = Object.fromEntries([['length', shape.length], ...shape.map((d, i) => [String(i), d])]);
      b.semShape = b.shapeActual;
      break;
    }
    case 'string-dim': {
      const s: unknown[] = shape.slice();
      s[form.at % s.length] = String(s[form.at % s.length]);
      b.shapeActual = s;
      b.semShape = s.slice();
      break;
    }
    case 'value': {
      const s = shape.slice();
      s[form.at % s.length] = num(form.v);
      b.shapeActual = s;
      b.semShape = s.slice();
      break;
    }
    case 'long': {
      const s = shape.slice();
      s.length = Math.max(form.length, s.length);
      b.shapeActual = s;
      b.semShape = s;
      return;
    }
    case 'lying-proxy': {
      const target = shape.slice();
      b.shapeActual = new Proxy(target, { get: (t, k, r) => (k === 'length' ? form.length : Reflect.get(t, k, r)) });
      // What it says is its length: the claimed entries past the real ones read undefined.
      const claimed: unknown[] = [];
      claimed.length = form.length;
      if (form.length <= 16) for (let i = 0; i < form.length; i++) claimed[i] = target[i];
      b.semShape = form.length <= 16 ? claimed : claimed;
      b.shapeTargets.push(target);
      return;
    }
    case 'rank': {
      const s = form.delta > 0 ? [...shape, 1] : shape.slice(0, -1);
      b.shapeActual = s;
      b.semShape = s.slice();
      break;
    }
  }
  b.shapeTargets.push(b.shapeActual);
}

/** An alternative value for a switching getter's later reads. */
function laterValue(field: 'data' | 'shape', later: string, b: TensorBuild): unknown {
  if (field === 'data') {
    const T = b.values instanceof Int32Array ? Int32Array : Float32Array;
    if (later === 'short') return new T(1);
    if (later === 'detached') {
      const v = new T(b.values.length);
      detach(v);
      return v;
    }
    return (b.values as Float32Array).map((v) => 2 * v + 1);
  }
  if (later === 'short') return b.shape.map(() => 1);
  // Same element count, different geometry: the dimensions rotated.
  const s = b.shape.slice();
  return s.length > 1 ? [...s.slice(1), s[0]] : [s[0]];
}

function presentObject(form: ObjectForm | undefined, b: TensorBuild, slot: string): void {
  const t: Record<string, unknown> = { data: b.data, shape: b.shapeActual };
  if (!form) {
    b.object = t;
    return;
  }
  switch (form.kind) {
    case 'proxy':
      b.object = new Proxy(t, {});
      return;
    case 'frozen':
      b.object = Object.freeze(t);
      return;
    case 'extra-key':
      b.object = { ...t, grad: null, name: 'x' };
      return;
    case 'class': {
      const data = b.data,
        shape = b.shapeActual;
      class HostileTensor {
        get data() {
          return data;
        }
        get shape() {
          return shape;
        }
      }
      b.object = new HostileTensor();
      return;
    }
    case 'getter': {
      let reads = 0;
      const first = t[form.field],
        later = laterValue(form.field, form.later, b);
      if (later instanceof Float32Array || later instanceof Int32Array) b.buffers.push(later);
      else if (Array.isArray(later)) b.shapeTargets.push(later);
      const o: Record<string, unknown> = { ...t };
      Object.defineProperty(o, form.field, { get: () => (reads++ === 0 ? first : later), enumerable: true });
      b.object = o;
      b.getterReads.push({ label: `${slot}.${form.field}`, count: () => reads });
      b.ambiguous.push(`${slot}.${form.field}: a switching getter`);
      return;
    }
    case 'throwing-getter': {
      const err = new Error(`hostile ${slot}.${form.field} getter threw (this exact error must surface)`);
      const o: Record<string, unknown> = { ...t };
      Object.defineProperty(o, form.field, {
        get: () => {
          throw err;
        },
        enumerable: true,
      });
      b.object = o;
      b.throws = err;
      b.throwsField = form.field;
      return;
    }
    case 'null':
      b.object = null;
      b.semShape = undefined;
      b.semData = undefined;
      return;
    case 'bare-array':
      b.object = b.data;
      b.semShape = undefined;
      return;
  }
}

// ---- options ----

/** Options the oracle reads with truthiness: a non-boolean could mean "true" or be ignored. */
const BOOLEAN_KEYS = new Set(['ceilMode', 'returnIndices', 'countIncludePad']);

/** The options of the clean call the geometry describes (bias: the bias array to pass, if any). */
function renderOptions(c: HostileCase, bias: Float32Array | null): Record<string, unknown> {
  const g = c.geom,
    f = familyOf(c.op),
    dims = g.dims;
  const o: Record<string, unknown> = {};
  const perDim = (v: number[]) => (v.every((x) => x === v[0]) && g.strideForm === 'scalar' ? v[0] : v.slice());
  const isPool = f === 'maxPool' || f === 'avgPool' || f === 'maxPoolBackward' || f === 'avgPoolBackward';
  if (isPool) {
    const [kH, kW] = g.kernel;
    o.kernelSize = kH === kW ? kH : [kH, kW];
    if (g.strideForm !== 'default') o.stride = perDim(g.stride);
    const [pH, pW] = [g.pad[0], g.pad[2]];
    if (pH || pW) o.padding = pH === pW ? pH : [pH, pW];
    const isMax = f === 'maxPool' || f === 'maxPoolBackward';
    if (isMax && g.dilation.some((d) => d !== 1)) o.dilation = g.dilation.slice();
    if (g.ceilMode) o.ceilMode = true;
    if (isMax && g.returnIndices && f === 'maxPool') o.returnIndices = true;
    if (!isMax && g.countIncludePad !== null) o.countIncludePad = g.countIncludePad;
    if (g.channelsLast) o.layout = 'NHWC';
    return o;
  }
  if (f === 'layer') {
    o.inChannels = g.C;
    o.outChannels = g.K;
    o.kernelSize = g.kernel.every((k) => k === g.kernel[0]) ? g.kernel[0] : g.kernel.slice();
    o.bias = g.bias;
    o.seed = c.dataSeed % 1000;
  }
  if (g.strideForm !== 'default') o.stride = perDim(g.stride);
  if (f === 'transpose') {
    if (g.padForm === 'int') o.padding = g.pad[0];
    else if (g.padForm === 'perdim') o.padding = dims === 2 ? [g.pad[0], g.pad[2]] : [g.pad[0]];
    else if (g.padForm === 'explicit') o.padding = g.pad.slice();
    if (g.outPad.some((p) => p !== 0)) o.outputPadding = g.outPad.slice();
  } else {
    switch (g.padForm) {
      case 'none':
        break;
      case 'valid':
        o.padding = 'valid';
        break;
      case 'same':
        o.padding = 'same';
        break;
      case 'int':
        o.padding = g.pad[0];
        break;
      case 'perdim':
        o.padding = dims === 2 ? [g.pad[0], g.pad[2]] : [g.pad[0]];
        break;
      case 'explicit':
        o.padding = g.pad.slice();
        break;
    }
  }
  if (g.dilation.some((d) => d !== 1)) o.dilation = g.dilation.slice();
  if (g.groups !== 1) o.groups = g.groups;
  if (g.channelsLast) o.layout = dims === 2 ? 'NHWC' : 'NWC';
  if (g.relu && (f === 'conv' || f === 'explain' || f === 'layer')) o.activation = 'relu';
  if (bias && f !== 'layer' && f !== 'outputShape') o.bias = bias;
  if (takesBackend(f)) {
    o.backend = c.backend;
    if (c.algorithm !== 'auto' || c.dataSeed % 2 === 0) o.algorithm = c.algorithm;
  }
  if (f === 'backward' && g.needs) o.needs = g.needs.slice();
  return o;
}

const ids = new WeakMap<object, number>();
let lastId = 0;
const idOf = (o: object) => {
  let i = ids.get(o);
  if (i === undefined) {
    i = ++lastId;
    ids.set(o, i);
  }
  return i;
};

/**
 * Snapshot of what the call must not modify: a typed array's whole buffer; an object's own properties,
 * nested objects by identity (their contents have their own snapshots).
 */
function snapshot(v: unknown): string {
  if (ArrayBuffer.isView(v)) {
    if (v.buffer.byteLength === 0) return 'detached';
    const bytes = new Uint8Array(v.buffer);
    let h = 0x811c9dc5;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    return `${v.constructor.name}:${v.buffer.byteLength}:${h >>> 0}`;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Reflect.ownKeys(v as object);
    // Sparse arrays of length 2^32 - 1: own keys only, never an iteration over the length.
    return keys
      .map((k) => {
        const d = Object.getOwnPropertyDescriptor(v as object, k)!;
        const val = 'value' in d ? d.value : d.get;
        return `${String(k)}=${(typeof val === 'object' || typeof val === 'function') && val !== null ? `#${idOf(val)}` : typeof val === 'symbol' ? 'symbol' : String(val)}`;
      })
      .join(',');
  }
  return String(v);
}

function watch(label: string, v: unknown, into: (() => string | null)[]): void {
  const before = snapshot(v);
  into.push(() => {
    const after = snapshot(v);
    return after === before ? null : `${label} was modified`;
  });
}

// ---- the whole call ----

export function materialize(c: HostileCase, api: Api): Materialized {
  const f = familyOf(c.op),
    g = c.geom,
    dims = g.dims,
    rnd = rngOf(c.dataSeed);
  const byslot = new Map<TensorSlot, { data?: DataForm; shape?: ShapeForm; object?: ObjectForm }>();
  const optionMuts: (Mutation & { m: 'option' })[] = [];
  let container: (Mutation & { m: 'container' })['form'] | null = null;
  const midcalls: (Mutation & { m: 'midcall' })[] = [];
  const names = new Set<string>();
  for (const m of c.mutations) {
    if (m.m === 'option') {
      optionMuts.push(m);
      names.add(m.key);
      names.add('options');
    } else if (m.m === 'container') {
      container = m.form;
      names.add('options');
    } else if (m.m === 'midcall') {
      midcalls.push(m);
      names.add(m.slot);
    } else {
      const s = byslot.get(m.slot) ?? {};
      (s as Record<string, unknown>)[m.m] = m.form;
      byslot.set(m.slot, s);
      names.add(m.slot);
      if (m.slot === 'bias' || m.slot === 'out' || m.slot === 'indices') names.add('options');
      if (c.op === 'outputShape') names.add(m.slot === 'input' ? 'inputShape' : 'weightShape');
    }
  }

  const mk = (slot: TensorSlot, values0: Float32Array | Int32Array, shape: number[]): TensorBuild => {
    // A tensor too large to allocate here gets no data: such calls must fail (the oracle sees the mismatch).
    const values = values0.length > 2 ** 26 ? new Float32Array(0) : values0;
    const b: TensorBuild = {
      label: slot,
      values,
      shape,
      data: undefined,
      semData: undefined,
      shapeActual: undefined,
      semShape: undefined,
      object: undefined,
      ambiguous: [],
      buffers: [],
      shapeTargets: [],
      getterReads: [],
      throws: null,
      throwsField: null,
      midcall: null,
      onlyGrown: false,
    };
    const forms = byslot.get(slot) ?? {};
    const mine = midcalls.filter((m) => m.slot === slot);
    if (mine.length) {
      // The data on a buffer the actions can change; the caller means the values as they were.
      const n = values.length,
        T = ctorOf(values);
      const bytes = n * T.BYTES_PER_ELEMENT;
      const buf = new ResizableBuffer(bytes, { maxByteLength: 2 * bytes + 8 });
      const v = new T(buf, 0, n);
      v.set(values);
      b.data = v;
      b.semData = values.slice();
      b.midcall = new Map();
      for (const m of mine) {
        const act = m.action;
        b.midcall.set(m, () => {
          if (buf.byteLength === 0 && v.buffer.byteLength === 0 && act !== 'grow') return;
          try {
            if (act === 'detach') detach(v);
            else buf.resize(act === 'shrink' ? 0 : 2 * bytes + 8);
          } catch {
            /* already detached */
          }
        });
        if (act !== 'grow') b.ambiguous.push(`${slot}: its buffer ${act === 'shrink' ? 'shrunk' : 'detached'} during the call`);
      }
      b.onlyGrown = mine.every((m) => m.action === 'grow');
    } else presentData(values, forms.data, b, slot);
    presentShape(shape, forms.shape, b);
    if (slot === 'bias' || slot === 'out') b.object = b.data;
    else presentObject(forms.object, b, slot);
    return b;
  };

  // Base tensors, from the geometry.
  const xShape0 = g.channelsLast ? [g.N, ...g.spatial, g.C] : [g.N, g.C, ...g.spatial];
  const xShape = g.unbatched ? xShape0.slice(1) : xShape0;
  const isPool = f === 'maxPool' || f === 'avgPool' || f === 'maxPoolBackward' || f === 'avgPoolBackward';
  const wShape = f === 'transpose' ? [g.C, g.K / g.groups, ...g.kernel] : [g.K, g.C / g.groups, ...g.kernel];
  const xCount = prod(xShape);
  const huge = xCount > 2 ** 26;
  const x = mk('input', fillF32(huge ? 0 : xCount, rnd), xShape);
  const w = isPool ? null : mk('weight', fillF32(prod(wShape) > 2 ** 26 ? 0 : prod(wShape), rnd), wShape);
  const biasVals = g.bias && !isPool ? fillF32(g.K, rnd) : null;
  const bias = biasVals && f !== 'layer' ? mk('bias', biasVals, [g.K]) : null;

  // The clean call's result shape (for gradOutput and out): the oracle's own reading of the geometry.
  const cleanOptions = renderOptions(c, biasVals);
  const forward =
    f === 'layer' || f === 'backward' ? 'conv' : f === 'maxPoolBackward' ? 'maxPool' : f === 'avgPoolBackward' ? 'avgPool' : f;
  const clean = verdict(forward, dims, {
    options: f === 'layer' ? layerAsConv(cleanOptions) : without(cleanOptions, 'indices', 'needs'),
    input: { shape: xShape, data: x.values },
    weight: w ? { shape: wShape, data: w.values } : undefined,
  });
  const outShape = clean.kind === 'valid' && 'outShape' in clean.exp ? clean.exp.outShape : null;
  const outCount = outShape ? prod(outShape) : 0;
  // An output too large to allocate here gets a stand-in (such calls must fail before reading it).
  const ok = outShape !== null && outCount <= 2 ** 26;
  const needsGy = f === 'backward' || f === 'layer' || f === 'maxPoolBackward' || f === 'avgPoolBackward';
  const gy = needsGy
    ? mk('gradOutput', fillF32(ok ? outCount : 1, rnd), ok ? outShape! : outShape ? outShape.map(() => 1) : [1])
    : null;
  const outArr =
    g.out !== 'none' && (f === 'conv' || f === 'layer') && ok
      ? mk('out', new Float32Array(outCount + (g.out === 'larger' ? 3 : 0)).fill(-7.5e33), [outCount])
      : null;
  let indices: TensorBuild | null = null;
  if (f === 'maxPoolBackward' && g.givenIndices && ok && clean.kind === 'valid' && clean.exp.kind === 'maxPool') {
    // The forward's argmax positions from the float64 oracle, in the user's layout.
    const e = clean.exp,
      C = e.pp.NC / Math.max(1, e.N);
    const idx = maxPool(e.pp, e.x).indices;
    indices = mk('indices', e.channelsLast ? toLast(idx, e.N, C, e.pp.OH * e.pp.OW) : idx, outShape!);
  }

  // Options: rendered, then each option mutation (values, getters), then the container.
  const raw = renderOptions(c, null);
  const opts: Record<string, unknown> = { ...raw };
  if (bias) opts.bias = bias.object;
  if (outArr && f !== 'layer') opts.out = outArr.object;
  if (indices) opts.indices = indices.object;
  const semOpts: Record<string, unknown> = { ...raw };
  if (bias) semOpts.bias = bias.semData;
  // out is judged by identity (the result must be a view of it): the presented array itself where it is one.
  if (outArr && f !== 'layer') semOpts.out = ArrayBuffer.isView(outArr.data) ? outArr.data : outArr.semData;
  if (indices) semOpts.indices = { data: indices.semData, shape: indices.semShape };
  if (f === 'outputShape') {
    delete semOpts.bias;
    delete semOpts.out;
  }
  const ambiguous: string[] = [];
  // Per option key: a later mutation of the same key replaces what an earlier one did.
  const perKey = new Map<
    string,
    { ambiguous: string[]; alternatives: Record<string, unknown>[]; error: Error | null; reads: Materialized['reads'] }
  >();
  for (const m of optionMuts) {
    const k: { ambiguous: string[]; alternatives: Record<string, unknown>[]; error: Error | null; reads: Materialized['reads'] } =
      { ambiguous: [], alternatives: [], error: null, reads: [] };
    perKey.set(m.key, k);
    // The value so far, without calling a getter an earlier mutation of the same key put there.
    const d = Object.getOwnPropertyDescriptor(opts, m.key);
    const r = realize(m.value, d && 'value' in d ? d.value : undefined, semOpts[m.key]);
    if (r.throws) {
      const err = r.throws;
      Object.defineProperty(opts, m.key, {
        get: () => {
          throw err;
        },
        enumerable: true,
        configurable: true,
      });
      k.error = err;
      semOpts[m.key] = undefined;
      continue;
    }
    if (r.getter) {
      let n = 0;
      const { first, later } = r.getter;
      Object.defineProperty(opts, m.key, { get: () => (n++ === 0 ? first : later), enumerable: true, configurable: true });
      k.reads.push({ label: `options.${m.key}`, count: () => n });
    } else Object.defineProperty(opts, m.key, { value: r.actual, enumerable: true, configurable: true, writable: true });
    semOpts[m.key] = r.sem;
    if (r.ambiguous) k.ambiguous.push(`options.${m.key}: ${r.ambiguous}`);
    if (BOOLEAN_KEYS.has(m.key) || (f === 'layer' && m.key === 'bias')) {
      // A non-boolean may be read by truthiness (new Boolean(false) is truthy) or ignored for the default.
      const seen = r.getter ? r.getter.first : r.actual;
      if (typeof seen !== 'boolean' && seen !== undefined) {
        k.ambiguous.push(`options.${m.key}: a non-boolean`);
        k.alternatives.push({ [m.key]: undefined }, { [m.key]: Boolean(seen) });
      }
    }
  }
  const reads: Materialized['reads'] = [...perKey.values()].flatMap((k) => k.reads);
  const userErrors = [...perKey.values()].flatMap((k) => (k.error ? [k.error] : []));
  const alternatives = [...perKey.values()].flatMap((k) => k.alternatives);
  for (const k of perKey.values()) ambiguous.push(...k.ambiguous);
  let options: unknown = opts;
  let semOptions: unknown = semOpts;
  const withDescriptors = (target: object) => Object.defineProperties(target, Object.getOwnPropertyDescriptors(opts));
  switch (container) {
    case null:
      break;
    case 'array-empty':
      options = [];
      semOptions = {};
      ambiguous.push('options: an empty array');
      break;
    case 'array-props':
      options = withDescriptors([]);
      ambiguous.push('options: an array with option properties');
      break;
    case 'class': {
      class HostileOptions {}
      options = withDescriptors(new HostileOptions());
      ambiguous.push('options: a class instance');
      break;
    }
    case 'proxy':
      options = new Proxy(opts, {});
      break;
    case 'frozen':
      options = Object.freeze(opts);
      break;
    case 'null-proto':
      options = withDescriptors(Object.create(null));
      break;
    case 'extra-key':
      opts.hostileUnknownOption = 1;
      semOpts.hostileUnknownOption = 1;
      names.add('hostileUnknownOption');
      break;
    case 'null':
      options = null;
      semOptions = isPool || f === 'layer' ? null : {};
      ambiguous.push('options: null');
      break;
    case 'number':
      options = 3;
      semOptions = 3;
      break;
  }
  // A layer given a number is the positional form `new Conv2d(inChannels, outChannels, kernelSize)`, missing two.
  if (f === 'layer' && container === 'number') for (const n of ['inChannels', 'outChannels', 'kernelSize']) names.add(n);
  // Options that lose maxPool2dBackward's indices leave an input of { shape } only without the data it then needs.
  if (f === 'maxPoolBackward' && g.givenIndices && (container !== null || optionMuts.some((m) => m.key === 'indices')))
    names.add('input');
  // Each midcall action fires once: after the call was made, or at the n-th read of an option.
  const actionOf = (m: Mutation) => {
    for (const t of tensorsWithMidcall()) if (t.midcall?.has(m)) return t.midcall.get(m);
    return undefined;
  };
  const tensorsWithMidcall = () => [x, w, bias, gy, outArr].filter((t): t is TensorBuild => t !== null && t.midcall !== null);
  const onRead = midcalls.filter((m) => m.when === 'option-read');
  if (onRead.length && options !== null && typeof options === 'object') {
    let n = 0;
    const pending = new Set(onRead);
    options = new Proxy(options as object, {
      get(t, k, r) {
        n++;
        for (const m of pending)
          if (m.read === n) {
            pending.delete(m);
            actionOf(m)?.();
          }
        return Reflect.get(t, k, r);
      },
    });
  }

  const tensors = [x, w, bias, gy, outArr, indices].filter((t): t is TensorBuild => t !== null);
  const shapeOnlyInput = (f === 'maxPoolBackward' && g.givenIndices) || (f === 'avgPoolBackward' && g.givenIndices);
  for (const t of tensors) {
    ambiguous.push(...t.ambiguous);
    reads.push(...t.getterReads);
    // An input passed as { shape } alone carries no data getter to throw.
    if (t.throws && !(t === x && shapeOnlyInput && t.throwsField === 'data')) userErrors.push(t.throws);
  }

  const sem = (t: TensorBuild | null): SemTensor | undefined => (t ? { shape: t.semShape, data: t.semData } : undefined);
  const baseSem: SemArgs = {
    options: semOptions,
    input: sem(x),
    weight: sem(w),
    gradOutput: sem(gy),
    layerOut: outArr ? outArr.data : undefined,
  };
  if (f === 'outputShape') {
    baseSem.input = { shape: x.semShape, data: undefined };
    baseSem.weight = { shape: w!.semShape, data: undefined };
  }
  if (shapeOnlyInput) baseSem.input = x.object === null ? undefined : { shape: x.semShape, data: undefined };
  if (f === 'layer') {
    baseSem.layerBias = biasVals ?? new Float32Array(g.K);
    if (outArr && !ArrayBuffer.isView(outArr.data)) baseSem.layerOut = outArr.semData;
  }
  const sems: SemArgs[] = [baseSem];
  for (const alt of alternatives) {
    if (isObj(semOptions)) sems.push({ ...baseSem, options: { ...semOptions, ...alt } });
  }

  // Unchanged after the call: every input buffer, shape array, option array and the options object.
  const unchanged: (() => string | null)[] = [];
  for (const t of tensors) {
    if (t === outArr || t.midcall) continue;
    t.buffers.forEach((buf, i) => {
      watch(`${t.label} data${i ? ` (#${i})` : ''}`, buf, unchanged);
    });
    t.shapeTargets.forEach((s, i) => {
      watch(`${t.label} shape${i ? ` (#${i})` : ''}`, s, unchanged);
    });
  }
  // A grown buffer keeps the view's memory: its values must not change (out's are the result).
  for (const t of tensors) {
    if (!t.midcall || !t.onlyGrown || t === outArr) continue;
    const v = t.data as Float32Array,
      before = Array.from(v);
    unchanged.push(() =>
      Array.from(v.subarray(0, before.length)).every((e, i) => Object.is(e, before[i]))
        ? null
        : `${t.label} data (grown buffer) was modified`
    );
  }
  for (const [k, v] of Object.entries(Object.getOwnPropertyDescriptors(opts))) {
    if ('value' in v && v.value !== null && typeof v.value === 'object' && !ArrayBuffer.isView(v.value))
      watch(`options.${k}`, v.value, unchanged);
  }
  watch('options', opts, unchanged);

  let outGuard: Materialized['outGuard'] = null;
  if (outArr && !outArr.midcall && ArrayBuffer.isView(outArr.data) && outArr.data.buffer.byteLength > 0) {
    const v = outArr.data as Float32Array;
    const bytes = new Uint8Array(v.buffer.slice(0));
    outGuard = (count) => {
      const now = new Uint8Array(v.buffer);
      const lo = v.byteOffset,
        hi = v.byteOffset + 4 * count;
      for (let i = 0; i < now.length; i++)
        if ((i < lo || i >= hi) && now[i] !== bytes[i]) return `wrote byte ${i} of out's buffer, outside the ${count} results`;
      return null;
    };
  }

  const fn = (name: string) => {
    const h = api[name];
    if (typeof h !== 'function') throw new Error(`the library has no ${name}`);
    return h;
  };
  const afterCalls = midcalls.filter((m) => m.when === 'after-call');
  const runAfter = (which: (m: Mutation & { m: 'midcall' }) => boolean) => {
    for (const m of afterCalls) if (which(m)) actionOf(m)?.();
  };
  const afterCall = afterCalls.length ? () => runAfter(() => true) : null;
  const inputArg = shapeOnlyInput && x.object !== null ? shapeOnly(x.object) : x.object;
  let run: () => Promise<unknown>;
  switch (f) {
    case 'conv':
    case 'transpose':
      run = call(() => fn(c.op)(x.object, w!.object, options), isAsync(c.op), afterCall);
      break;
    case 'explain':
      run = call(() => fn('explain')(x.object, w!.object, options), false, null);
      break;
    case 'outputShape':
      run = call(() => fn('outputShape')(x.shapeActual, w!.shapeActual, options), false, null);
      break;
    case 'backward':
      run = call(() => fn(c.op)(x.object, w!.object, gy!.object, options), isAsync(c.op), afterCall);
      break;
    case 'maxPool':
    case 'avgPool':
      run = call(() => fn(c.op)(x.object, options), isAsync(c.op), afterCall);
      break;
    case 'maxPoolBackward':
    case 'avgPoolBackward':
      run = call(() => fn(c.op)(gy!.object, inputArg, options), isAsync(c.op), afterCall);
      break;
    case 'layer': {
      const L = dims === 2 ? api.Conv2d : api.Conv1d;
      const asyncLayer = isAsync(c.op);
      // gradOutput's actions follow the backward call; the others the forward call.
      const onBackward = (m: Mutation & { m: 'midcall' }) => m.slot === 'gradOutput';
      run = async () => {
        const layer = new L(options);
        layer.weight = w!.object;
        if (layer.bias) layer.bias = { data: biasVals ?? new Float32Array(g.K), shape: [g.K] };
        let y: unknown;
        if (asyncLayer) {
          const p = layer.forwardAsync(x.object, outArr?.object);
          runAfter((m) => !onBackward(m));
          y = await p;
        } else y = layer.forward(x.object, outArr?.object);
        let grads: unknown;
        if (asyncLayer) {
          const p = layer.backwardAsync(gy!.object);
          runAfter(onBackward);
          grads = await p;
        } else grads = layer.backward(gy!.object);
        const wp = layer.weight as { grad: Float32Array },
          bp = layer.bias as { grad: Float32Array } | null;
        return { y, grads, weightGrad: wp.grad.slice(), biasGrad: bp ? bp.grad.slice() : null, algorithm: layer.algorithm };
      };
      break;
    }
  }
  return { run, sems, ambiguous, userErrors, names: [...names], unchanged, reads, outGuard };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object';
}

function without(o: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

/** A layer's conv options as the layer passes them: what the clean forward means. */
function layerAsConv(o: Record<string, unknown>): Record<string, unknown> {
  const { inChannels: _a, outChannels: _b, kernelSize: _c, bias: _d, seed: _e, ...rest } = o;
  return rest;
}

/** { shape } only, keeping a getter or proxy on shape as it was. */
function shapeOnly(t: unknown): unknown {
  if (t === null || typeof t !== 'object') return t;
  const d = Object.getOwnPropertyDescriptor(t, 'shape');
  if (!d) return { shape: (t as { shape: unknown }).shape };
  return Object.defineProperty({}, 'shape', { ...d, configurable: true });
}

/** The call as a promise; async ops run `afterCall` right after the call returned its promise. */
function call(make: () => unknown, async: boolean, afterCall: (() => void) | null): () => Promise<unknown> {
  return async () => {
    const r = make();
    if (async) afterCall?.();
    return await r;
  };
}
