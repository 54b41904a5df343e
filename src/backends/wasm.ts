// The WebAssembly backend: an adapter over the AssemblyScript module built from assembly/ (raw
// exports, own arena; the call protocol is documented in assembly/index.ts). Browser-safe: no node:*
// imports; the bytes come from wasm-bytes.node.ts or wasm-bytes.browser.ts, workers are spawned by
// wasm-pool.node.ts or wasm-pool.browser.ts.
//
// Threads: given the threaded build (same sources over a shared imported memory), one call is split
// across a WasmPool of workers: this thread lays out the arena and runs the serial part, then every
// thread computes a slice. Where the calling thread cannot block (a browser's main thread) only
// conv2dAsync uses the workers; conv2d stays on one thread. Small convolutions stay on one thread.
//
// Weight stores (createWeightStore): a layer's transformed weights live in wasm memory, in a heap
// below the arena (assembly/store_heap.ts, weight_store.ts), so a call with a store never transforms
// or compares the weights again. Each instance has its own memory (the threaded one, and the plain
// one sync calls use while an async call holds the threaded one), so a store keeps one wasm handle
// per instance it met. Blocks a running async call may read are freed only when it is done.

import type { HeldArgs } from '../async-args.js';
import { checkAllIntact } from '../async-args.js';
import { trueLength } from '../shape.js';
import { ChoiceMemo } from './choice-memo.js';
import type { Algorithm, Backend, ConvParams, KnobName, WeightStore } from './types.js';
import {
  ALGORITHM_CODE,
  ALGORITHMS,
  EngineLimitError,
  KNOBS,
  PARAM_FIELDS,
  packParams,
  WASM_STATUS,
  WASM_STATUS_MESSAGE,
} from './types.js';
import type { SpawnWorker } from './wasm-pool.js';
import { MAX_WASM_THREADS, WasmPool } from './wasm-pool.js';

/** 'relaxed' = SIMD128 + relaxed-simd (FMA through relaxed_madd); 'scalar' = no SIMD at all. */
export type WasmVariant = 'simd' | 'relaxed' | 'scalar';
/** A build file: a variant, or the threaded build of a SIMD variant (shared imported memory). */
export type WasmBuild = WasmVariant | 'simd-threads' | 'relaxed-threads';

const ISA: Record<WasmVariant, string> = { simd: 'wasm-simd', relaxed: 'wasm-relaxed-simd', scalar: 'wasm-scalar' };

interface FastconvExports {
  memory: WebAssembly.Memory;
  paramsPtr(): number;
  inputPtr(): number;
  weightPtr(): number;
  biasPtr(): number;
  outputPtr(): number;
  memoryBytes(): number;
  prepare(algo: number, inLen: number, wLen: number, bLen: number, outLen: number, threads: number, store: number): number;
  run(algo: number): number;
  accepts(): number;
  /** The next two write the reason for their answer at reasonPtr() (reasonLength() UTF-8 bytes). */
  supports(algo: number): number;
  choose(): number;
  reasonPtr(): number;
  reasonLength(): number;
  setKnob(code: number, value: number): number;
  winogradTileFor(stored: number): number;
  beginRun(algo: number): number;
  runSlice(index: number): number;
  finishRun(): number;
  winogradTile(): number;
  storeNew(): number;
  storeClear(store: number): number;
  storeDelete(store: number): number;
  storeBytes(store: number): number;
  storeHeapBytes(): number;
  weightsWanted(): number;
  skipWeights(skip: number): void;
}

// Every algorithm is built into the module; which shapes each takes, the module says (supports).
const IMPLEMENTED: readonly Algorithm[] = ALGORITHMS;

/** A 1-function module using one SIMD128 instruction (i32x4.splat): validates iff SIMD is supported. */
const SIMD_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version 1
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b, // type section: () -> v128
  0x03,
  0x02,
  0x01,
  0x00, // function section: one function of type 0
  0x0a,
  0x08,
  0x01,
  0x06,
  0x00, // code section: one body of 6 bytes, no locals
  0x41,
  0x00,
  0xfd,
  0x11,
  0x0b, // i32.const 0; i32x4.splat; end
]);

/** The same with f32x4.relaxed_madd of three splats: validates iff relaxed SIMD is supported. */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version 1
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b, // type section: () -> v128
  0x03,
  0x02,
  0x01,
  0x00, // function section: one function of type 0
  0x0a,
  0x13,
  0x01,
  0x11,
  0x00, // code section: one body of 17 bytes, no locals
  0x41,
  0x00,
  0xfd,
  0x11, // i32.const 0; i32x4.splat
  0x41,
  0x00,
  0xfd,
  0x11,
  0x41,
  0x00,
  0xfd,
  0x11,
  0xfd,
  0x85,
  0x02,
  0x0b, // f32x4.relaxed_madd (0xfd 261); end
]);

function validates(bytes: BufferSource): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

export function wasmSimdSupported(): boolean {
  return validates(SIMD_PROBE);
}

/** Chromium: yes; Node 20: only when started with --experimental-wasm-relaxed-simd. */
export function wasmRelaxedSimdSupported(): boolean {
  return validates(RELAXED_SIMD_PROBE);
}

function describe(p: ConvParams): string {
  return PARAM_FIELDS.map((f) => `${f}=${f === 'relu' || f === 'relu6' ? (p[f] ? 1 : 0) : p[f]}`).join(' ');
}

/** How a backend may use threads: the threaded build of the same variant and how to start workers. */
export interface WasmThreading {
  module: WebAssembly.Module;
  spawn: SpawnWorker;
  /** Whether this thread may block in Atomics.wait (Node: yes; a browser's main thread: no). */
  canBlock: boolean;
  /** Threads per call to start with (setThreads changes it). */
  threads: number;
}

/** The wasm Backend plus its thread controls. */
export interface WasmBackend extends Backend {
  /** Threads a large call is split across (1 = no workers); capped at 64. */
  setThreads(n: number): void;
  /** Smallest share of a call worth a thread, in FLOPs (tests set 0 to split every call). */
  minFlopsPerThread: number;
  /** Why threads are off (null when they are on). */
  readonly threadsOff: string | null;
  /** Resolves when the workers for the current thread count have started (or failed to). */
  whenReady(): Promise<void>;
  /** Terminates the workers; the backend carries on single-threaded. */
  dispose(): void;
  /** setKnob('winogradTile', tile): 2 or 4 forces that tile where it is accurate, 0 restores the module's rule. */
  forceWinogradTile(tile: 0 | 2 | 4): void;
  /** The tile edge of the last 'winograd' call (2 or 4), for tests. */
  lastWinogradTile(): number;
  /** Bytes of wasm memory of the instances made so far, and of their weight stores' heaps (tests, diagnostics). */
  memoryUse(): { memory: number; stores: number };
}

/** Default minFlopsPerThread: a split must pay for waking a worker (tens of microseconds). */
const MIN_FLOPS_PER_THREAD = 4e6;

function outputLength(p: ConvParams): number {
  return p.N * p.K * p.OH * p.OW;
}

function flops(p: ConvParams): number {
  return 2 * p.N * p.K * (p.C / p.groups) * p.R * p.S * p.OH * p.OW;
}

const decoder = new TextDecoder();

/** One instance of a build and the call protocol over it. */
class Engine {
  constructor(
    readonly wasm: FastconvExports,
    private readonly describeCall: (p: ConvParams) => string
  ) {}

  check(code: number, what: string, p: ConvParams): void {
    // The module explains a shape the algorithm does not take (prepare writes it as supports does).
    if (code === WASM_STATUS.ERR_ALGORITHM && this.wasm.reasonLength() > 0)
      throw new RangeError(`fastconv wasm: ${this.reason()}`);
    if (code !== 0) {
      const message = `fastconv wasm: ${what} failed: ${WASM_STATUS_MESSAGE[code] ?? `error ${code}`} (${this.describeCall(p)})`;
      throw code === WASM_STATUS.ERR_MEMORY ? new EngineLimitError(message) : new RangeError(message);
    }
  }

  /** Writes p at PARAMS for the module's queries and calls; false if memory cannot hold the statics. */
  params(p: ConvParams): boolean {
    const at = this.wasm.paramsPtr();
    if (at === 0) return false;
    packParams(p, new Int32Array(this.wasm.memory.buffer, at, PARAM_FIELDS.length));
    return true;
  }

  /** The sentence the module wrote for its last supports/choose/prepare answer. */
  reason(): string {
    // A copy first: TextDecoder refuses views of a SharedArrayBuffer (the threaded builds' memory).
    const bytes = new Uint8Array(this.wasm.memory.buffer, this.wasm.reasonPtr(), this.wasm.reasonLength()).slice();
    return decoder.decode(bytes);
  }

  /** Params, prepare and the copies in; returns the algorithm code. `store`: a wasm store handle or 0. */
  load(
    p: ConvParams,
    input: Float32Array,
    weight: Float32Array,
    bias: Float32Array | null,
    outLen: number,
    algo: Algorithm,
    threads: number,
    store = 0
  ): number {
    const wasm = this.wasm;
    const code = ALGORITHM_CODE[algo];
    if (!this.params(p)) this.check(WASM_STATUS.ERR_MEMORY, 'prepare', p);
    this.check(wasm.prepare(code, input.length, weight.length, bias ? bias.length : 0, outLen, threads, store), 'prepare', p);
    // prepare() may have grown memory, which detaches earlier views: take the buffer afresh.
    const heap = wasm.memory.buffer;
    new Float32Array(heap, wasm.inputPtr(), input.length).set(input);
    // A stored transform makes the weights unread (and uncompared): skip their copy.
    if (wasm.weightsWanted()) new Float32Array(heap, wasm.weightPtr(), weight.length).set(weight);
    else wasm.skipWeights(1);
    if (bias) new Float32Array(heap, wasm.biasPtr(), bias.length).set(bias);
    return code;
  }

  /** Runs `begin` (run or beginRun); when it needs the skipped weights (non-finite data falls back to im2col), copies them in and runs it again. */
  begin(begin: () => number, weight: Float32Array, p: ConvParams): void {
    let code = begin();
    if (code === WASM_STATUS.ERR_WEIGHTS) {
      new Float32Array(this.wasm.memory.buffer, this.wasm.weightPtr(), weight.length).set(weight);
      this.wasm.skipWeights(0);
      code = begin();
    }
    this.check(code, 'run', p);
  }

  /**
   * Copies the call's `length` outputs into `out`. Not out's own length: a lying subclass, or a
   * length-tracking view whose buffer grew, would read past the output; a shorter `out` throws.
   */
  store(out: Float32Array, length: number): void {
    if (trueLength(out) < length)
      throw new RangeError(`fastconv wasm: out has ${trueLength(out)} elements, the output ${length}`);
    out.set(new Float32Array(this.wasm.memory.buffer, this.wasm.outputPtr(), length));
  }
}

/** A layer's transformed weights on one wasm backend: a wasm store handle per instance it ran on. */
class WasmStore implements WeightStore {
  /** Per instance, its handle (assembly/weight_store.ts); a Map the finalizer can hold without the store. */
  readonly handles = new Map<Engine, number>();
  /**
   * Counts clear()s. An async call captures it when made: one still queued when the weights change
   * must neither use nor fill the store, or it would leave the old weights' transform behind.
   */
  epoch = 0;
  constructor(
    readonly backend: object,
    private readonly release: (e: Engine, handle: number) => void
  ) {}

  /** This store's handle in `e`'s memory (made on first use); 0 if memory cannot grow (run without). */
  handleIn(e: Engine): number {
    let h = this.handles.get(e);
    if (h === undefined) {
      h = e.wasm.storeNew();
      if (h === 0) return 0;
      this.handles.set(e, h);
    }
    return h;
  }

  clear(): void {
    this.epoch++;
    for (const [e, h] of this.handles) this.release(e, h);
    this.handles.clear();
  }

  get bytes(): number {
    let total = 0;
    for (const [e, h] of this.handles) total += Math.max(0, e.wasm.storeBytes(h));
    return total;
  }
}

/** `noThreads`: why the caller could not offer threading (reported by threadsOff). */
export function createWasmBackend(
  module: WebAssembly.Module,
  variant: WasmVariant,
  threading?: WasmThreading,
  noThreads?: string
): WasmBackend {
  let plain: Engine | undefined;
  // Knobs set so far, replayed on an instance made later (knobs are per instance).
  const knobs = new Map<number, number>();
  const plainEngine = () => {
    if (!plain) {
      plain = new Engine(new WebAssembly.Instance(module, {}).exports as unknown as FastconvExports, describe);
      for (const [code, value] of knobs) plain.wasm.setKnob(code, value);
    }
    return plain;
  };
  let engine: Engine;
  let pool: WasmPool | null = null;
  let threadsOff: string | null = threading
    ? null
    : `threads are off: ${noThreads ?? (variant === 'scalar' ? 'the scalar build has no threaded variant' : 'no threaded build was given')}`;
  let wanted = 1;
  if (threading) {
    try {
      if (typeof SharedArrayBuffer !== 'function')
        throw new Error('SharedArrayBuffer is not available (the page is not cross-origin isolated)');
      // 4 GiB maximum, as the builds declare: address space only, committed as the arena grows.
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
      engine = new Engine(
        new WebAssembly.Instance(threading.module, { env: { memory } }).exports as unknown as FastconvExports,
        describe
      );
      pool = new WasmPool(threading.module, memory, threading.spawn);
      wanted = Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(threading.threads)));
    } catch (e) {
      threadsOff = `threads are off: ${(e as Error).message}`;
      engine = plainEngine();
    }
  } else {
    engine = plainEngine();
  }
  // An async call waiting for its workers owns the threaded instance; calls meanwhile queue behind it
  // (async) or run on a plain instance (sync).
  let busy = false;
  let last: Engine = engine;
  let queue: Promise<unknown> = Promise.resolve();
  // Store handles of the threaded instance released while an async call ran there: its workers may be
  // reading their blocks, which a later allocation could reuse. Freed when the call ends.
  let releasedWhileBusy: number[] = [];
  function release(e: Engine, handle: number): void {
    if (busy && e === engine) releasedWhileBusy.push(handle);
    else e.wasm.storeDelete(handle);
  }
  function releaseDeferred(): void {
    const handles = releasedWhileBusy;
    releasedWhileBusy = [];
    for (const h of handles) engine.wasm.storeDelete(h);
  }
  // A store dropped without clear() (a layer collected without dispose()) gives its blocks back too.
  const finalizer =
    typeof FinalizationRegistry === 'function'
      ? new FinalizationRegistry<Map<Engine, number>>((handles) => {
          for (const [e, h] of handles) release(e, h);
        })
      : null;
  const storeKey = {};
  /** The store if it is this backend's and was not cleared since `epoch` (when given). */
  function ours(store: WeightStore | undefined, epoch?: number): WasmStore | undefined {
    if (!(store instanceof WasmStore) || store.backend !== storeKey) return undefined;
    return epoch === undefined || store.epoch === epoch ? store : undefined;
  }

  function off(): string | null {
    return threadsOff ?? pool?.failure ?? null;
  }

  // threadsFor() gives a call more than one thread only when the pool exists.
  function workerPool(): WasmPool {
    if (!pool) throw new Error('fastconv wasm: a threaded call without a worker pool');
    return pool;
  }

  function threadsFor(p: ConvParams): number {
    if (!pool || off() !== null || wanted === 1) return 1;
    const byWork = backend.minFlopsPerThread > 0 ? Math.floor(flops(p) / backend.minFlopsPerThread) : wanted;
    return Math.max(1, Math.min(wanted, byWork));
  }

  /** Runs the loaded call on `threads` threads, blocking if needed (sync path). */
  function runLoaded(e: Engine, code: number, threads: number, p: ConvParams, weight: Float32Array): void {
    if (threads === 1 || !pool) {
      e.begin(() => e.wasm.run(code), weight, p);
      return;
    }
    e.begin(() => e.wasm.beginRun(code), weight, p);
    let own = 0;
    const workers = pool.runSync(threads, () => {
      own = e.wasm.runSlice(0);
    });
    e.check(own || workers, 'run', p);
    e.check(e.wasm.finishRun(), 'run', p);
  }

  /** The instance for a query: not the threaded one while an async call runs there (its workers read PARAMS). */
  const queryEngine = () => (busy ? plainEngine() : engine);

  function supports(p: ConvParams, algo: Algorithm): string | null {
    const e = queryEngine();
    if (!e.params(p)) return WASM_STATUS_MESSAGE[WASM_STATUS.ERR_MEMORY];
    return e.wasm.supports(ALGORITHM_CODE[algo]) === WASM_STATUS.OK ? null : e.reason();
  }

  // The module's recent choices (they depend on the params and the knobs only); cleared by setKnob.
  const choices = new ChoiceMemo<{ algorithm: Algorithm; reason: string }>();
  const chooseKey = new Int32Array(PARAM_FIELDS.length);

  function choose(p: ConvParams): { algorithm: Algorithm; reason: string } {
    const key = packParams(p, chooseKey);
    const known = choices.get(key);
    if (known) return known;
    const e = queryEngine();
    if (!e.params(p)) throw new RangeError(`fastconv wasm: ${WASM_STATUS_MESSAGE[WASM_STATUS.ERR_MEMORY]}`);
    const code = e.wasm.choose();
    if (code < 0) throw new RangeError(`fastconv wasm: ${e.reason()} (${describe(p)})`);
    const c = Object.freeze({ algorithm: ALGORITHMS[code], reason: e.reason() });
    choices.set(key, c);
    return c;
  }

  function setKnob(name: KnobName, value: number): void {
    const k = KNOBS[name] as (typeof KNOBS)[KnobName] | undefined; // a name from untyped JS may be no knob
    if (!k?.engines.includes('wasm')) throw new RangeError(`knob: expected a wasm knob, got ${String(name)}`);
    if (typeof value !== 'number') throw new TypeError(`knob ${name}: expected a number, got ${typeof value}`);
    if (!Number.isInteger(value)) throw new RangeError(`knob ${name}: expected an integer (${k.valid}), got ${value}`);
    for (const e of plain && plain !== engine ? [engine, plain] : [engine]) {
      if (e.wasm.setKnob(k.code, value) !== WASM_STATUS.OK)
        throw new RangeError(`knob ${name}: expected one of ${k.valid}, got ${value}`);
    }
    knobs.set(k.code, value);
    choices.clear();
  }

  function conv2d(
    p: ConvParams,
    input: Float32Array,
    weight: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    algo: Algorithm,
    store?: WeightStore
  ): void {
    const e = busy ? plainEngine() : engine;
    let threads = e === engine && threading?.canBlock ? threadsFor(p) : 1;
    if (threads > 1) {
      // Refuse a shape the algorithm does not take before waiting for the workers (prepare would too).
      const why = supports(p, algo);
      if (why !== null) throw new RangeError(`fastconv wasm: ${why}`);
      threads = workerPool().waitReady(threads);
    }
    last = e;
    const code = e.load(p, input, weight, bias, out.length, algo, threads, ours(store)?.handleIn(e) ?? 0);
    runLoaded(e, code, threads, p, weight);
    e.store(out, outputLength(p));
  }

  // `held`: the arrays as they were when the call was made. This runs after awaits (the queue, the
  // workers' start-up, their slices), during which the caller may have resized or detached any of
  // them: each is checked before it is read and all of them again before `out` is written
  // (src/async-args.ts has the rule).
  async function conv2dThreaded(
    p: ConvParams,
    input: Float32Array,
    weight: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    algo: Algorithm,
    store: WasmStore | undefined,
    epoch: number,
    held: HeldArgs
  ): Promise<void> {
    // Refuse a shape the algorithm does not take before waiting for the workers.
    const why = supports(p, algo);
    if (why !== null) throw new RangeError(`fastconv wasm: ${why}`);
    let threads = threadsFor(p);
    if (threads > 1) threads = await workerPool().whenReady(threads);
    checkAllIntact('conv2dAsync', held);
    const handle = ours(store, epoch)?.handleIn(engine) ?? 0;
    busy = true;
    last = engine;
    try {
      const code = engine.load(p, input, weight, bias, out.length, algo, threads, handle);
      if (threads === 1) {
        engine.begin(() => engine.wasm.run(code), weight, p);
      } else {
        engine.begin(() => engine.wasm.beginRun(code), weight, p);
        let own = 0;
        const workers = await workerPool().runAsync(threads, () => {
          own = engine.wasm.runSlice(0);
        });
        engine.check(own || workers, 'run', p);
        engine.check(engine.wasm.finishRun(), 'run', p);
        checkAllIntact('conv2dAsync', held);
      }
      engine.store(out, outputLength(p));
    } finally {
      busy = false;
      releaseDeferred();
    }
  }

  const backend: WasmBackend = {
    name: 'wasm',
    isa: ISA[variant],
    get threads() {
      return off() === null ? wanted : 1;
    },
    algorithms: IMPLEMENTED,
    accepts(p) {
      const e = queryEngine();
      if (!e.params(p)) return WASM_STATUS_MESSAGE[WASM_STATUS.ERR_MEMORY];
      const code = e.wasm.accepts();
      return code === 0 ? null : (WASM_STATUS_MESSAGE[code] ?? `error ${code}`);
    },
    supports,
    choose,
    setKnob,
    winogradTile(p) {
      const e = queryEngine();
      return e.params(p) ? Math.max(0, e.wasm.winogradTileFor(0)) : 0;
    },
    conv2d,
    conv2dAsync(p, input, weight, bias, out, algo, store) {
      if (!pool || off() !== null) {
        // No workers: run now, report through the promise.
        try {
          conv2d(p, input, weight, bias, out, algo, store);
          return Promise.resolve();
        } catch (e) {
          return Promise.reject(e);
        }
      }
      const s = ours(store),
        epoch = s?.epoch ?? 0;
      const held: HeldArgs = [
        ['input', input, trueLength(input)],
        ['weight', weight, trueLength(weight)],
        ['bias', bias, bias ? trueLength(bias) : 0],
        ['out', out, trueLength(out)],
      ];
      const done = queue.then(() => conv2dThreaded(p, input, weight, bias, out, algo, s, epoch, held));
      queue = done.catch(() => {});
      return done;
    },
    memoryUse() {
      const engines = plain && plain !== engine ? [engine, plain] : [engine];
      let memory = 0,
        stores = 0;
      for (const e of engines) {
        memory += e.wasm.memory.buffer.byteLength;
        stores += e.wasm.storeHeapBytes();
      }
      return { memory, stores };
    },
    createWeightStore() {
      const s = new WasmStore(storeKey, release);
      finalizer?.register(s, s.handles);
      return s;
    },
    minFlopsPerThread: MIN_FLOPS_PER_THREAD,
    // A sync call splits only where this thread may block (not a browser's main thread).
    threadsFor: (p, _algo, call = 'async') => (call === 'sync' && !threading?.canBlock ? 1 : threadsFor(p)),
    get threadsOff() {
      return off();
    },
    setThreads(n: number) {
      wanted = Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(n)));
    },
    async whenReady() {
      if (pool && off() === null && wanted > 1) await pool.whenReady(wanted);
    },
    lastWinogradTile: () => last.wasm.winogradTile(),
    forceWinogradTile: (tile) => setKnob('winogradTile', tile),
    dispose() {
      if (!pool) return;
      pool.dispose();
      threadsOff ??= 'the thread pool was disposed';
    },
  };
  return backend;
}
