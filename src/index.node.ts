// Node entry point: native addon, wasm (SIMD and scalar) and the js reference, all loaded synchronously.

import { createJsBackend } from './backends/js.js';
import { loadNativeBackend, setNativeThreads } from './backends/native.js';
import { createWasmBackend, wasmSimdSupported } from './backends/wasm.js';
import { loadWasmBytes } from './backends/wasm-bytes.node.js';
import type { Candidate } from './dispatch.js';
import { Dispatcher, installDispatcher } from './dispatch.js';
import { checkPositiveInt } from './shape.js';

export * from './api.js';

function wasmCandidate(key: 'wasmSimd' | 'wasmScalar'): Candidate {
  const variant = key === 'wasmSimd' ? 'simd' : 'scalar';
  try {
    if (variant === 'simd' && !wasmSimdSupported()) return { key, error: 'this engine does not validate wasm SIMD128' };
    return { key, backend: createWasmBackend(new WebAssembly.Module(loadWasmBytes(variant) as BufferSource), variant) };
  } catch (e) {
    return { key, error: `wasm ${variant} module did not load: ${(e as Error).message}` };
  }
}

function candidates(): Candidate[] {
  const native = loadNativeBackend();
  return [
    'backend' in native ? { key: 'native', backend: native.backend } : { key: 'native', error: native.error },
    wasmCandidate('wasmSimd'),
    wasmCandidate('wasmScalar'),
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
