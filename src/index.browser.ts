// Browser (and default) entry point: wasm and the js reference; never touches the addon or node:* modules.
// Wasm compiles asynchronously here (browsers refuse large synchronous compiles on the main thread), so
// calls made before `await ready()` run on the js reference backend.

import { createJsBackend } from './backends/js.js';
import { createWasmBackend } from './backends/wasm.js';
import type { WasmVariant } from './backends/wasm.js';
import type { WasmSlot } from './backends/wasm-variants.js';
import { WASM_SLOTS, wasmVariantUnsupported } from './backends/wasm-variants.js';
import { loadWasmBytes } from './backends/wasm-bytes.browser.js';
import type { Candidate } from './dispatch.js';
import { dispatcher, Dispatcher, installDispatcher } from './dispatch.js';
import { checkPositiveInt } from './shape.js';

export * from './api.js';

const js = (): Candidate => ({ key: 'js', backend: createJsBackend() });
installDispatcher(new Dispatcher([{ key: 'native', error: 'no native addon in browsers' }, js()]));

export interface ReadyOptions {
  /** Where to get each wasm build instead of next to this module: a URL, or the bytes themselves. */
  wasm?: Partial<Record<WasmVariant, string | URL | BufferSource>>;
}

let loading: Promise<void> | undefined;

async function wasmCandidate(key: WasmSlot, opts: ReadyOptions): Promise<Candidate> {
  const variant = WASM_SLOTS[key];
  try {
    const why = wasmVariantUnsupported(variant);
    if (why) return { key, error: why };
    const src = opts.wasm?.[variant];
    const bytes = src === undefined || typeof src === 'string' || src instanceof URL ? await loadWasmBytes(variant, src) : src;
    return { key, backend: createWasmBackend(await WebAssembly.compile(bytes as BufferSource), variant) };
  } catch (e) {
    return { key, error: `wasm ${variant} module did not load: ${(e as Error).message}` };
  }
}

/** Loads and probes the wasm backends; resolves when calls with backend 'auto' use the fastest. */
export function ready(opts: ReadyOptions = {}): Promise<void> {
  loading ??= (async () => {
    const found = await Promise.all((Object.keys(WASM_SLOTS) as WasmSlot[]).map((k) => wasmCandidate(k, opts)));
    dispatcher().setCandidates([{ key: 'native', error: 'no native addon in browsers' }, ...found, js()]);
  })();
  return loading;
}

/** Wasm threads are not available yet: accepts the call so code can be shared with Node. */
export function setNumThreads(n: number): void {
  checkPositiveInt('n', n);
}
