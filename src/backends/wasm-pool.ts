// A pool of workers that each instantiate the threaded wasm build over one shared WebAssembly.Memory
// and compute their slice of a call on demand (assembly/index.ts: beginRun here, runSlice(i) on
// thread i, finishRun here). The calling thread is thread 0 and always computes a slice itself.
//
// Synchronization is a small Int32Array over its own SharedArrayBuffer:
//   RUN     (seq << 7) | threads: a new value starts a run of `threads` threads; one word, so a worker
//           never pairs one run's sequence number with another run's thread count;
//   PENDING workers of the current run still computing (the last one notifies);
//   ERROR   the first nonzero code a worker's runSlice returned (-1: it threw);
//   STOP    set by dispose(): workers leave their loop;
//   SLOTS+i worker i's state: 0 starting, 1 ready, -1 failed to instantiate.
// The sync path blocks in Atomics.wait (Node's main thread may; a browser's main thread may not, so
// there only conv2dAsync uses the pool, through waitChange). Browser-safe: spawning is injected.

import { WORKER_SOURCE } from './wasm-worker-source.js';

const RUN = 0,
  PENDING = 1,
  ERROR = 2,
  STOP = 3,
  SLOTS = 8,
  THREAD_BITS = 7;
/** MAX_THREADS of assembly/threads_max.ts. */
export const MAX_WASM_THREADS = 64;
const READY_TIMEOUT_MS = 10_000;

/** A started worker, whatever the environment. */
export interface WorkerHandle {
  postMessage(message: unknown): void;
  terminate(): void;
  /** Calls `died` if the worker fails to load or exits (where the environment can tell). */
  onDeath?(died: () => void): void;
}

/** Starts a worker running `source` (Node: worker_threads eval, unref'd; browsers: a Blob URL Web Worker). */
export type SpawnWorker = (source: string) => WorkerHandle;

type WaitAsync = (a: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };

/** Polling period when Atomics.waitAsync's wake-up does not arrive (see waitChange). */
const POLL_MS = 2;
/** Longest single blocking wait of the calling thread and of the workers (see runSync, WORKER_SOURCE). */
const WAKE_SLICE_MS = 50;

/**
 * Resolves once control[index] may have changed from `value` (callers re-check it). Atomics.waitAsync
 * alone is not enough in Node 20: its promise holds nothing on the event loop (the workers are unref'd,
 * so a script ending in `await conv2dAsync(...)` exited with code 13 when its slice finished before the
 * workers'), and in some contexts (`node -e` ES modules; node with AddressSanitizer preloaded) the
 * notify never resolved it at all, hanging the call. A ref'd timer of POLL_MS bounds every wait and
 * keeps the loop alive; waitAsync, where it works, still answers at once.
 */
function waitChange(control: Int32Array, index: number, value: number): Promise<unknown> {
  const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
  const r = waitAsync ? waitAsync(control, index, value) : null;
  if (r && !r.async) return Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = new Promise((ok) => {
    timer = setTimeout(ok, POLL_MS);
  });
  return (r ? Promise.race([r.value, tick]) : tick).finally(() => clearTimeout(timer));
}

export class WasmPool {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * (SLOTS + MAX_WASM_THREADS)));
  private readonly workers: WorkerHandle[] = [];
  private seq = 0;
  private broken: string | null = null;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    private readonly spawn: SpawnWorker
  ) {}

  /** Why the pool cannot run threads (a worker failed to start), or null. */
  get failure(): string | null {
    return this.broken;
  }

  /** Starts workers until `threads` - 1 exist (the caller is thread 0). Does not wait for them. */
  grow(threads: number): void {
    const want = Math.min(threads, MAX_WASM_THREADS) - 1;
    while (this.broken === null && this.workers.length < want) {
      const index = this.workers.length + 1;
      try {
        const w = this.spawn(WORKER_SOURCE);
        // A worker that dies before it is ready (its script failed to load, say) reports as failed at
        // once; otherwise every call would wait READY_TIMEOUT_MS for it.
        w.onDeath?.(() => {
          if (Atomics.compareExchange(this.control, SLOTS + index, 0, -1) === 0) Atomics.notify(this.control, SLOTS + index);
        });
        w.postMessage({ module: this.module, memory: this.memory, control: this.control.buffer, index });
        this.workers.push(w);
      } catch (e) {
        this.broken = `a wasm worker did not start: ${(e as Error).message}`;
      }
    }
  }

  /** Threads (including the caller) whose workers have instantiated, up to `threads`. */
  readyThreads(threads: number): number {
    let n = 1;
    while (n < threads && n <= this.workers.length && Atomics.load(this.control, SLOTS + n) === 1) n++;
    return n;
  }

  /** Blocks until workers 1..threads-1 are ready (Node's main thread, or a worker). */
  waitReady(threads: number): number {
    this.grow(threads);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (let i = 1; i < threads && i <= this.workers.length; i++) {
      while (Atomics.load(this.control, SLOTS + i) === 0) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        Atomics.wait(this.control, SLOTS + i, 0, left);
      }
      this.noteFailure(i);
    }
    return this.readyThreads(threads);
  }

  /** Resolves when workers 1..threads-1 are ready or have failed (any thread; never blocks). */
  async whenReady(threads: number): Promise<number> {
    this.grow(threads);
    for (let i = 1; i < threads && i <= this.workers.length; i++) {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (Atomics.load(this.control, SLOTS + i) === 0 && Date.now() < deadline) {
        await waitChange(this.control, SLOTS + i, 0);
      }
      this.noteFailure(i);
    }
    return this.readyThreads(threads);
  }

  private noteFailure(i: number): void {
    if (Atomics.load(this.control, SLOTS + i) === -1 && this.broken === null) {
      this.broken = `wasm worker ${i} did not start or could not instantiate the threaded build`;
    }
  }

  /** Starts a run of `threads` threads (workers 1..threads-1 must be ready); the caller then computes slice 0. */
  private start(threads: number): void {
    this.seq = (this.seq + 1) & 0xffffff;
    Atomics.store(this.control, ERROR, 0);
    Atomics.store(this.control, PENDING, threads - 1);
    Atomics.store(this.control, RUN, (this.seq << THREAD_BITS) | threads);
    Atomics.notify(this.control, RUN);
  }

  private result(): number {
    return Atomics.load(this.control, ERROR);
  }

  /** Runs `slice0` on this thread while workers compute theirs; blocks until all are done. Returns the first worker error code (0 = none). */
  runSync(threads: number, slice0: () => void): number {
    this.start(threads);
    try {
      slice0();
    } finally {
      // Bounded waits: a wake-up that never arrives (CI under AddressSanitizer hung with this thread
      // asleep here) costs at most WAKE_SLICE_MS instead of the process.
      for (let p = Atomics.load(this.control, PENDING); p !== 0; p = Atomics.load(this.control, PENDING)) {
        Atomics.wait(this.control, PENDING, p, WAKE_SLICE_MS);
      }
    }
    return this.result();
  }

  /** The same without blocking: waits for the workers through waitChange. */
  async runAsync(threads: number, slice0: () => void): Promise<number> {
    this.start(threads);
    try {
      slice0();
    } finally {
      for (let p = Atomics.load(this.control, PENDING); p !== 0; p = Atomics.load(this.control, PENDING)) {
        await waitChange(this.control, PENDING, p);
      }
    }
    return this.result();
  }

  /** Stops and terminates every worker; the pool cannot run afterwards. */
  dispose(): void {
    Atomics.store(this.control, STOP, 1);
    this.seq = (this.seq + 1) & 0xffffff;
    Atomics.store(this.control, RUN, this.seq << THREAD_BITS);
    Atomics.notify(this.control, RUN);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
    this.broken ??= 'the wasm thread pool was disposed';
  }
}
