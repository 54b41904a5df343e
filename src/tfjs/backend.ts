// The 'fastconv' TF.js backend: tfjs-backend-cpu's MathBackendCPU (its tensors are plain typed arrays, so
// fastconv reads and writes them without copies) with fastconv's kernels registered over the cpu ones.
//
// Per filter tensor (its dataId) the backend keeps what the convolutions derive from it: the HWIO ->
// [K, C/groups, R, S] transposition and one PackedConv per set of conv attributes (fastconv's GEMM panels,
// Winograd- or FFT-domain weights), all freed when TF.js disposes that tensor.
//
// Output arrays are recycled: a fresh multi-megabyte Float32Array costs page faults and zeroing on this
// kind of VM (several ns per element, more than a ReLU), and a CNN's predict allocates the same sizes in
// the same order every time. Only arrays this backend allocated are recycled, and only if nothing else can
// still see them: an array read out (readSync/read: dataSync() hands out the array itself) or viewed by
// another tensor (tfjs-backend-cpu's Slice returns a subarray of its input) is never reused.

import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { DataId, KernelConfig, KernelFunc, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernel, getKernelsForBackend, registerBackend, registerKernel } from '@tensorflow/tfjs-core';
import { allFinite } from './geometry.js';
import { PackedConv } from './packed.js';

export const BACKEND_NAME = 'fastconv';

/**
 * Above every backend TF.js ships (cpu 1, webgl/wasm 2, tensorflow (tfjs-node) 3, webgpu 3): importing
 * 'fastconv/tfjs' is asking for it.
 */
export const BACKEND_PRIORITY = 5;

interface FilterEntry {
  /** The values array the copies were made from: a tensor's values may be replaced (backend.move). */
  source: unknown;
  finite: boolean;
  copies: Map<string, Float32Array>;
  convs: Map<string, PackedConv>;
}

/** An unevaluated tensor: what it is (for kernels that extend it), how to compute it, the arrays it reads. */
interface PendingRecord {
  meta: unknown;
  compute: () => Float32Array;
  pins: Float32Array[];
  done: boolean;
}

const EMPTY = new Float32Array(0);

/** Arrays shorter than this are not worth pooling (V8 allocates small typed arrays cheaply). */
const MIN_POOLED = 4096;
/** Bytes of idle arrays the pool keeps at most; beyond, disposed arrays are left to the GC. */
const POOL_CAP_BYTES = 256 * 1024 * 1024;

export class FastconvBackend extends MathBackendCPU {
  private readonly filters = new Map<DataId, FilterEntry>();
  /** Tensor -> the PackedConvs (filter, key) whose data it entered (a bias, batch norm statistics). */
  private readonly dependents = new Map<DataId, [DataId, string][]>();
  /** Buffers of arrays made by alloc() (the pool's candidates). */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  /** Owned buffers that were handed out or viewed: never reused. */
  private readonly escaped = new WeakSet<ArrayBufferLike>();
  private readonly pool = new Map<number, Float32Array[]>();
  private pooledBytes = 0;
  private readonly scratchBuffers: Float32Array[] = [];
  /** Data entries whose values are computed on first read (see deferred.ts). */
  private readonly pendingEntries = new WeakMap<object, PendingRecord>();
  /** Buffers that unevaluated tensors will read: not recycled while pinned. */
  private readonly pins = new Map<ArrayBufferLike, number>();
  /** Arrays whose tensors were disposed while pinned: recycled when the last pin goes. */
  private readonly awaitingUnpin = new Set<Float32Array>();
  /** Whether forward convolutions defer their outputs (tests and the bench compare both). */
  deferConvolutions = true;
  /** Unevaluated tensors evaluated so far (tests: a chain read once runs its convolution once). */
  evaluations = 0;
  /** Outputs known to hold no negative number and no -0 (ReLU's), which clips can treat as integers. */
  private readonly nonNegativeArrays = new WeakSet<Float32Array>();

  constructor() {
    super();
    // MathBackendCPU's first write prints advice to install tfjs-node; the convolutions are not on it here.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** A float32 array of n elements for a kernel's output, recycled when one is idle (contents undefined). */
  alloc(n: number): Float32Array {
    if (n >= MIN_POOLED) {
      const bucket = this.pool.get(n);
      const a = bucket?.pop();
      if (a) {
        this.pooledBytes -= a.byteLength;
        this.nonNegativeArrays.delete(a);
        return a;
      }
    }
    const a = new Float32Array(n);
    if (n >= MIN_POOLED) this.owned.add(a.buffer);
    return a;
  }

  /**
   * Scratch array `slot` with at least n elements, valid until the next scratch() call of that slot (the
   * channels-first copies a convolution stages through; never a tensor's values).
   */
  scratch(slot: number, n: number): Float32Array {
    let s = this.scratchBuffers[slot];
    if (!s || s.length < n) {
      s = new Float32Array(Math.max(n, Math.ceil((s?.length ?? 0) * 1.25)));
      this.scratchBuffers[slot] = s;
    }
    return s.length === n ? s : s.subarray(0, n);
  }

  /** Records that `a` (a kernel's fresh output) holds only +0, positives, +Inf and NaN. */
  markNonNegative(a: Float32Array): void {
    this.nonNegativeArrays.add(a);
  }
  isNonNegative(a: Float32Array): boolean {
    return this.nonNegativeArrays.has(a);
  }

  /**
   * A float32 tensor of `shape` computed by `compute` on first read of its values (by any kernel,
   * readSync, dataSync), then kept. `meta` describes it to kernels that look (pendingMeta); `pins` are the
   * arrays compute reads, kept from recycling until it ran or the tensor is disposed.
   */
  makePending(shape: number[], meta: unknown, compute: () => Float32Array, pins: Float32Array[]): TensorInfo {
    const info = this.makeTensorInfo(shape, 'float32', EMPTY);
    const rec: PendingRecord = { meta, compute, pins, done: false };
    // The entry write() stored, its values turned into a getter (DataStorage counts every set() as a
    // new id: a second one would look like a leak to the engine's checks).
    const entry = this.data.get(info.dataId) as unknown as object;
    Object.defineProperty(entry, 'values', {
      configurable: true,
      enumerable: true,
      get: () => {
        this.evaluations++;
        const values = rec.compute();
        Object.defineProperty(entry, 'values', { value: values, writable: true, configurable: true, enumerable: true });
        this.settle(rec);
        return values;
      },
    });
    this.pendingEntries.set(entry, rec);
    for (const a of pins) this.pins.set(a.buffer, (this.pins.get(a.buffer) ?? 0) + 1);
    return info;
  }

  /** What an unevaluated tensor was made from, or undefined (evaluated, or not ours). */
  pendingMeta(dataId: DataId): unknown {
    const entry = this.data.has(dataId) ? this.data.get(dataId) : undefined;
    const rec = entry && this.pendingEntries.get(entry);
    return rec && !rec.done ? rec.meta : undefined;
  }

  /** An unevaluated tensor ran or went away: its pins go. */
  private settle(rec: PendingRecord): void {
    if (rec.done) return;
    rec.done = true;
    rec.compute = () => EMPTY;
    rec.meta = undefined;
    for (const a of rec.pins) {
      const left = (this.pins.get(a.buffer) ?? 1) - 1;
      if (left > 0) {
        this.pins.set(a.buffer, left);
        continue;
      }
      this.pins.delete(a.buffer);
      if (this.awaitingUnpin.delete(a)) this.recycle(a);
    }
    rec.pins = [];
  }

  /** Marks the buffer behind `values` as seen outside the data store (never recycled). */
  private escape(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.escaped.add(values.buffer);
  }

  /**
   * After a kernel that is not ours: an output (other than an input's own data, which Reshape and Identity
   * return with one more reference) whose buffer this backend allocated shares an input's array or views
   * it (nothing else hands out our arrays), so that buffer must outlive every tensor using it.
   */
  noteOutputs(inputs: NamedTensorInfoMap, outputs: TensorInfo | TensorInfo[]): void {
    for (const t of Array.isArray(outputs) ? outputs : [outputs]) {
      if (!t) continue;
      let passedThrough = false;
      for (const name in inputs) if (inputs[name]?.dataId === t.dataId) passedThrough = true;
      if (passedThrough) continue;
      const v = this.data.get(t.dataId)?.values;
      if (ArrayBuffer.isView(v) && this.owned.has(v.buffer)) this.escaped.add(v.buffer);
    }
  }

  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    const values = super.readSync(dataId);
    this.escape(values);
    return values;
  }

  /**
   * The filter's values transformed by `make` (keyed by `kind`), made on first use and reused while the
   * tensor lives; null when the filter holds NaN/Inf (see allFinite) or is not float32.
   */
  filterCopy(dataId: DataId, kind: string, make: (values: Float32Array) => Float32Array): Float32Array | null {
    const e = this.filterEntry(dataId);
    if (!e?.finite) return null;
    let copy = e.copies.get(kind);
    if (!copy) {
      copy = make(e.source as Float32Array);
      e.copies.set(kind, copy);
    }
    return copy;
  }

  /**
   * The PackedConv for this filter and these attributes (`key`), made on first use; it also goes when one
   * of `deps` (the tensors its data came from besides the filter: bias, batch norm statistics) is disposed.
   */
  packedConv(dataId: DataId, key: string, deps: DataId[] = []): PackedConv | null {
    const e = this.filterEntry(dataId);
    if (!e) return null;
    let c = e.convs.get(key);
    if (!c) {
      c = new PackedConv();
      e.convs.set(key, c);
      for (const d of deps) {
        const list = this.dependents.get(d);
        if (list) list.push([dataId, key]);
        else this.dependents.set(d, [[dataId, key]]);
      }
    }
    return c;
  }

  /** The PackedConvs derived from tensor `dataId` besides their filters go with it. */
  private dropDependents(dataId: DataId): void {
    const list = this.dependents.get(dataId);
    if (!list) return;
    this.dependents.delete(dataId);
    for (const [filterId, key] of list) {
      const e = this.filters.get(filterId);
      const c = e?.convs.get(key);
      if (!c) continue;
      c.dispose();
      e?.convs.delete(key);
    }
  }

  private filterEntry(dataId: DataId): FilterEntry | null {
    const values = this.data.get(dataId)?.values;
    if (!(values instanceof Float32Array)) return null;
    let e = this.filters.get(dataId);
    if (!e || e.source !== values) {
      if (e) this.dropFilter(dataId);
      e = { source: values, finite: allFinite(values), copies: new Map(), convs: new Map() };
      this.filters.set(dataId, e);
    }
    return e;
  }

  private dropFilter(dataId: DataId): void {
    const e = this.filters.get(dataId);
    if (!e) return;
    for (const c of e.convs.values()) c.dispose();
    this.filters.delete(dataId);
  }

  /** Filters with derived data held (tests: the cache must empty when the tensors are disposed). */
  get cachedFilters(): number {
    return this.filters.size;
  }

  /** Bytes of fastconv's transformed weights the filters' PackedConvs hold. */
  get packedWeightBytes(): number {
    let total = 0;
    for (const e of this.filters.values()) for (const c of e.convs.values()) total += c.bytes;
    return total;
  }

  /** Buffers unevaluated tensors still read (tests: none once they are evaluated or disposed). */
  get pinnedBuffers(): number {
    return this.pins.size;
  }

  /** Idle arrays held for reuse, in bytes. */
  get pooledArrayBytes(): number {
    return this.pooledBytes;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    // DataStorage.get of an id it does not hold would fetch it from another backend.
    const entry = this.data.has(dataId) ? this.data.get(dataId) : undefined;
    const rec = entry && this.pendingEntries.get(entry);
    // An unevaluated tensor's values are not computed just to be thrown away.
    const values = !entry || (rec && !rec.done) ? undefined : entry.values;
    const released = super.disposeData(dataId, force);
    if (!this.data.has(dataId)) {
      this.dropFilter(dataId);
      this.dropDependents(dataId);
      if (rec) this.settle(rec);
      if (values instanceof Float32Array) this.recycle(values);
    }
    return released;
  }

  private recycle(a: Float32Array): void {
    const buf = a.buffer;
    if (!this.owned.has(buf) || this.escaped.has(buf) || a.length !== buf.byteLength / 4) return;
    if (this.pins.has(buf)) {
      this.awaitingUnpin.add(a);
      return;
    }
    if (this.pooledBytes + a.byteLength > POOL_CAP_BYTES) return;
    // Once pooled, it belongs to the pool until alloc() hands it out again.
    const bucket = this.pool.get(a.length);
    if (bucket) bucket.push(a);
    else this.pool.set(a.length, [a]);
    this.pooledBytes += a.byteLength;
  }

  override move(
    dataId: DataId,
    values: Parameters<MathBackendCPU['move']>[1],
    shape: number[],
    dtype: Parameters<MathBackendCPU['move']>[3],
    refCount: number
  ): void {
    this.dropFilter(dataId);
    this.dropDependents(dataId);
    this.escape(values);
    const entry = this.data.has(dataId) ? this.data.get(dataId) : undefined;
    const rec = entry && this.pendingEntries.get(entry);
    if (rec) this.settle(rec);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override dispose(): void {
    for (const id of [...this.filters.keys()]) this.dropFilter(id);
    this.dependents.clear();
    this.pool.clear();
    this.pooledBytes = 0;
    this.pins.clear();
    this.awaitingUnpin.clear();
    this.scratchBuffers.length = 0;
    super.dispose();
  }
}

/**
 * tfjs-backend-cpu's kernel of that name run on our backend (a MathBackendCPU: same data store), with
 * its outputs checked for views of our arrays.
 */
export function runCpuKernel(
  name: string,
  args: { inputs: NamedTensorInfoMap; backend: FastconvBackend; attrs?: unknown }
): TensorInfo {
  const k = getKernel(name, 'cpu');
  if (!k)
    throw new Error(`fastconv/tfjs: tfjs-backend-cpu has no '${name}' kernel registered (import '@tensorflow/tfjs-backend-cpu')`);
  const out = k.kernelFunc(args as Parameters<KernelFunc>[0]) as TensorInfo | TensorInfo[];
  args.backend.noteOutputs(args.inputs, out);
  return out as TensorInfo;
}

let registered = false;

/**
 * Registers the backend and its kernels: fastconv's kernels, and for every other kernel the cpu backend's
 * (what copyRegisteredKernels('cpu', 'fastconv') does, minus overwriting our own, which would warn),
 * each wrapped to note outputs that view our arrays.
 */
export function registerFastconvBackend(kernels: KernelConfig[]): void {
  if (registered) return;
  registered = true;
  registerBackend(BACKEND_NAME, () => new FastconvBackend(), BACKEND_PRIORITY);
  const ours = new Set(kernels.map((k) => k.kernelName));
  for (const k of kernels) registerKernel({ ...k, backendName: BACKEND_NAME });
  for (const k of getKernelsForBackend('cpu')) {
    if (ours.has(k.kernelName)) continue;
    const f = k.kernelFunc;
    const kernelFunc = ((args: Parameters<KernelFunc>[0]) => {
      const out = f(args) as TensorInfo | TensorInfo[];
      if (args.backend instanceof FastconvBackend) args.backend.noteOutputs(args.inputs, out);
      return out;
    }) as KernelFunc;
    registerKernel({ ...k, backendName: BACKEND_NAME, kernelFunc });
  }
}
