// Node entry point: native addon, wasm (relaxed SIMD, SIMD, scalar) and the js reference, all loaded
// synchronously. (Relaxed SIMD validates in Node 20 only under --experimental-wasm-relaxed-simd.)
// The SIMD wasm backends split large calls across worker_threads (started on first use, unref'd).

import { createJsBackend } from './backends/js.js';
import { loadNativeBackend, setNativeThreads } from './backends/native.js';
import { availableParallelism } from 'node:os';
import { createWasmBackend } from './backends/wasm.js';
import type { WasmBackend, WasmThreading } from './backends/wasm.js';
import { spawnNodeWorker } from './backends/wasm-pool.node.js';
import type { WasmSlot } from './backends/wasm-variants.js';
import { WASM_SLOTS, wasmVariantUnsupported } from './backends/wasm-variants.js';
import { loadWasmBytes } from './backends/wasm-bytes.node.js';
import type { Candidate } from './dispatch.js';
import { Dispatcher, installDispatcher } from './dispatch.js';
import { checkPositiveInt } from './shape.js';

export * from './api.js';

const wasmBackends: WasmBackend[] = [];

/** FASTCONV_THREADS when it is a positive integer, else every core. */
function defaultThreads(): number {
  const n = Number(process.env.FASTCONV_THREADS);
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

function wasmThreading(variant: 'simd' | 'relaxed'): WasmThreading | undefined {
  try {
    const module = new WebAssembly.Module(loadWasmBytes(`${variant}-threads`) as BufferSource);
    return { module, spawn: spawnNodeWorker, canBlock: true, threads: defaultThreads() };
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
  return [
    'backend' in native ? { key: 'native', backend: native.backend } : { key: 'native', error: native.error },
    ...(Object.keys(WASM_SLOTS) as WasmSlot[]).map(wasmCandidate),
    { key: 'js', backend: createJsBackend() },
  ];
}

installDispatcher(new Dispatcher(candidates(), process.env.FASTCONV_BACKEND));

/** Resolves when the backends are loaded; in Node that is already true at import. */
export function ready(): Promise<void> {
  return Promise.resolve();
}

/**
 * Threads the native and wasm backends split one convolution across (default: all cores, or
 * FASTCONV_THREADS). Wasm caps it at 64 and keeps small convolutions on one thread.
 */
export function setNumThreads(n: number): void {
  checkPositiveInt('n', n);
  setNativeThreads(n);
  for (const b of wasmBackends) b.setThreads(n);
}

/** Terminates the wasm backends' worker threads (they never keep the process alive); wasm carries on single-threaded. */
export function disposeWasmThreads(): void {
  for (const b of wasmBackends) b.dispose();
}
