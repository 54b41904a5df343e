// Node entry point: native addon, wasm (relaxed SIMD, SIMD, scalar) and the js reference, all loaded
// synchronously. (Relaxed SIMD validates in Node 20 only under --experimental-wasm-relaxed-simd.)
// The SIMD wasm backends split large calls across worker_threads (started on first use, unref'd).

import { availableParallelism } from 'node:os';
import { createJsBackend } from './backends/js.js';
import { loadNativeBackend, nativeAddonSource, setNativeThreads } from './backends/native.js';
import type { WasmBackend, WasmThreading } from './backends/wasm.js';
import { createWasmBackend } from './backends/wasm.js';
import { loadWasmBytes } from './backends/wasm-bytes.node.js';
import { spawnNodeWorker } from './backends/wasm-pool.node.js';
import type { WasmSlot } from './backends/wasm-variants.js';
import { WASM_SLOTS, wasmVariantUnsupported } from './backends/wasm-variants.js';
import type { Candidate } from './dispatch.js';
import { Dispatcher, installDispatcher } from './dispatch.js';
import { checkThreadCount, MAX_THREADS } from './shape.js';

export * from './api.js';

const wasmBackends: WasmBackend[] = [];

/**
 * FASTCONV_THREADS by setNumThreads' rule (a decimal integer in [1, MAX_THREADS]), else every core, with
 * a note for backendInfo().reason when a value was given and ignored. The addon reads the variable
 * itself, by a looser parse (strtol), so whenever it is set the entry point hands native this decision.
 */
function envThreads(): { threads: number; given: boolean; note: string | null } {
  const all = Math.min(MAX_THREADS, availableParallelism());
  const raw = process.env.FASTCONV_THREADS;
  if (raw === undefined || raw.trim() === '') return { threads: all, given: false, note: null };
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (n >= 1 && n <= MAX_THREADS) return { threads: n, given: true, note: null };
  return {
    threads: all,
    given: true,
    note: `ignored FASTCONV_THREADS=${JSON.stringify(raw)} (expected an integer in [1, ${MAX_THREADS}]): threads default to all ${all} cores`,
  };
}
const threadsAtLoad = envThreads();

function wasmThreading(variant: 'simd' | 'relaxed'): WasmThreading | undefined {
  try {
    const module = new WebAssembly.Module(loadWasmBytes(`${variant}-threads`) as BufferSource);
    return { module, spawn: spawnNodeWorker, canBlock: true, threads: threadsAtLoad.threads };
  } catch {
    return undefined; // the backend says why threads are off
  }
}

function wasmCandidate(key: WasmSlot): Candidate {
  const variant = WASM_SLOTS[key];
  try {
    const why = wasmVariantUnsupported(variant);
    if (why) return { key, error: why };
    const threading = variant === 'scalar' ? undefined : wasmThreading(variant);
    const backend = createWasmBackend(new WebAssembly.Module(loadWasmBytes(variant) as BufferSource), variant, threading);
    wasmBackends.push(backend);
    return { key, backend };
  } catch (e) {
    return { key, error: `wasm ${variant} module did not load: ${(e as Error).message}` };
  }
}

function candidates(): Candidate[] {
  const native = loadNativeBackend();
  if ('backend' in native && threadsAtLoad.given) setNativeThreads(threadsAtLoad.threads);
  return [
    'backend' in native
      ? { key: 'native', backend: native.backend, source: nativeAddonSource() ?? undefined }
      : { key: 'native', error: native.error },
    ...(Object.keys(WASM_SLOTS) as WasmSlot[]).map(wasmCandidate),
    { key: 'js', backend: createJsBackend() },
  ];
}

const loaded = new Dispatcher(candidates(), process.env.FASTCONV_BACKEND);
if (threadsAtLoad.note) loaded.addNote(threadsAtLoad.note);
installDispatcher(loaded);

/** Resolves when the backends are loaded; in Node that is already true at import. */
export function ready(): Promise<void> {
  return Promise.resolve();
}

/**
 * Threads the native and wasm backends split one convolution across (default: all cores, or
 * FASTCONV_THREADS): an integer in [1, 256] on every backend, else a TypeError/RangeError naming `n`.
 * Native runs n; wasm runs at most its pool's 64 (MAX_WASM_THREADS). Both keep small convolutions on
 * one thread; backendInfo().threads and explain().threads say what is in effect.
 */
export function setNumThreads(n: number): void {
  checkThreadCount('n', n);
  setNativeThreads(n);
  for (const b of wasmBackends) b.setThreads(n);
}

/** Terminates the wasm backends' worker threads (they never keep the process alive); wasm carries on single-threaded. */
export function disposeWasmThreads(): void {
  for (const b of wasmBackends) b.dispose();
}
