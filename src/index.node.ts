// Node entry point: native addon, wasm (relaxed SIMD, SIMD, scalar) and the js reference, all loaded
// synchronously. (Relaxed SIMD validates in Node 20 only under --experimental-wasm-relaxed-simd.)

import { createJsBackend } from './backends/js.js';
import { loadNativeBackend, setNativeThreads } from './backends/native.js';
import { createWasmBackend } from './backends/wasm.js';
import type { WasmSlot } from './backends/wasm-variants.js';
import { WASM_SLOTS, wasmVariantUnsupported } from './backends/wasm-variants.js';
import { loadWasmBytes } from './backends/wasm-bytes.node.js';
import type { Candidate } from './dispatch.js';
import { Dispatcher, installDispatcher } from './dispatch.js';
import { checkPositiveInt } from './shape.js';

export * from './api.js';

function wasmCandidate(key: WasmSlot): Candidate {
  const variant = WASM_SLOTS[key];
  try {
    const why = wasmVariantUnsupported(variant);
    if (why) return { key, error: why };
    return { key, backend: createWasmBackend(new WebAssembly.Module(loadWasmBytes(variant) as BufferSource), variant) };
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

/** Threads the native backend splits one convolution across (default: all cores, or FASTCONV_THREADS). */
export function setNumThreads(n: number): void {
  checkPositiveInt('n', n);
  setNativeThreads(n);
}
