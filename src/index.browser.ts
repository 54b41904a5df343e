// Browser (and default) entry point: wasm and the js reference; never touches the addon or node:* modules.
// Wasm compiles asynchronously here (browsers refuse large synchronous compiles on the main thread), so
// calls made before `await ready()` run on the js reference backend.

import { createJsBackend } from './backends/js.js';
import type { WasmBackend, WasmBuild, WasmThreading } from './backends/wasm.js';
import { createWasmBackend } from './backends/wasm.js';
import { loadWasmBytes } from './backends/wasm-bytes.browser.js';
import { spawnWebWorker } from './backends/wasm-pool.browser.js';
import type { WasmSlot } from './backends/wasm-variants.js';
import { WASM_SLOTS, wasmVariantUnsupported } from './backends/wasm-variants.js';
import type { Candidate } from './dispatch.js';
import { Dispatcher, dispatcher, installDispatcher } from './dispatch.js';
import { checkThreadCount, MAX_THREADS } from './shape.js';

export * from './api.js';

const js = (): Candidate => ({ key: 'js', backend: createJsBackend() });
installDispatcher(new Dispatcher([{ key: 'native', error: 'no native addon in browsers' }, js()]));

export interface ReadyOptions {
  /** Where to get each wasm build instead of next to this module: a URL, or the bytes themselves. */
  wasm?: Partial<Record<WasmBuild, string | URL | BufferSource>>;
}

const wasmBackends: WasmBackend[] = [];
let wantedThreads = Math.min(MAX_THREADS, Math.max(1, Math.floor(globalThis.navigator?.hardwareConcurrency ?? 1)));

/**
 * Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages (served with
 * COOP: same-origin and COEP: require-corp). A page's main thread cannot block, so there threads serve
 * conv2dAsync/conv1dAsync and sync calls run on one thread; inside a Web Worker both use them.
 */
function threadsUnavailable(): string | null {
  if (
    typeof SharedArrayBuffer !== 'function' ||
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false
  ) {
    return 'the page is not cross-origin isolated (serve it with COOP: same-origin and COEP: require-corp)';
  }
  if (typeof Worker !== 'function') return 'this context cannot start Web Workers';
  return null;
}

function calledFromWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: new () => unknown }).WorkerGlobalScope;
  return typeof scope === 'function' && globalThis instanceof scope;
}

async function bytesOf(build: WasmBuild, opts: ReadyOptions): Promise<Uint8Array | BufferSource> {
  const src = opts.wasm?.[build];
  return src === undefined || typeof src === 'string' || src instanceof URL ? await loadWasmBytes(build, src) : src;
}

async function wasmThreading(variant: 'simd' | 'relaxed', opts: ReadyOptions): Promise<WasmThreading | string> {
  const why = threadsUnavailable();
  if (why) return why;
  try {
    const module = await WebAssembly.compile((await bytesOf(`${variant}-threads`, opts)) as BufferSource);
    return { module, spawn: spawnWebWorker, canBlock: calledFromWorker(), threads: wantedThreads };
  } catch (e) {
    return `the threaded build did not load: ${(e as Error).message}`;
  }
}

let loading: Promise<void> | undefined;

async function wasmCandidate(key: WasmSlot, opts: ReadyOptions): Promise<Candidate> {
  const variant = WASM_SLOTS[key];
  try {
    const why = wasmVariantUnsupported(variant);
    if (why) return { key, error: why };
    const module = await WebAssembly.compile((await bytesOf(variant, opts)) as BufferSource);
    const threading = variant === 'scalar' ? undefined : await wasmThreading(variant, opts);
    const backend = createWasmBackend(
      module,
      variant,
      typeof threading === 'string' ? undefined : threading,
      typeof threading === 'string' ? threading : undefined
    );
    wasmBackends.push(backend);
    return { key, backend };
  } catch (e) {
    return { key, error: `wasm ${variant} module did not load: ${(e as Error).message}` };
  }
}

/** Loads and probes the wasm backends; resolves when calls with backend 'auto' use the fastest. */
export function ready(opts: ReadyOptions = {}): Promise<void> {
  loading ??= (async () => {
    const found = await Promise.all((Object.keys(WASM_SLOTS) as WasmSlot[]).map((k) => wasmCandidate(k, opts)));
    dispatcher().setCandidates([{ key: 'native', error: 'no native addon in browsers' }, ...found, js()]);
    // Start the workers of the build 'wasm' means here (the first that loaded), so the first async
    // call does not wait for them; the other builds start theirs on first use.
    const first = found.find((c) => c.backend);
    if (first) await (first.backend as WasmBackend).whenReady();
  })();
  return loading;
}

/**
 * Threads the wasm backend splits one async convolution across (default: navigator.hardwareConcurrency):
 * an integer in [1, 256] as in Node, else a TypeError/RangeError naming `n`; wasm runs at most its pool's
 * 64 (MAX_WASM_THREADS), and backendInfo().threads says what is in effect.
 */
export function setNumThreads(n: number): void {
  checkThreadCount('n', n);
  wantedThreads = n;
  for (const b of wasmBackends) b.setThreads(n);
}

/** Terminates the wasm backends' Web Workers; wasm carries on single-threaded. */
export function disposeWasmThreads(): void {
  for (const b of wasmBackends) b.dispose();
}
