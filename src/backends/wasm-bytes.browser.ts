// Browser loader for the wasm builds. By default the file is fetched relative to this module: the
// compiled file lives at dist/src/backends/wasm-bytes.browser.js and the wasm at
// assembly/build/fastconv-<variant>.wasm, three directories up. Bundlers that understand
// `new URL(literal, import.meta.url)` (Vite, webpack 5) copy the asset on their own. A page that
// serves the files elsewhere passes a URL, or the bytes themselves.

import type { WasmBuild } from './wasm.js';

export type WasmSource = string | URL | ArrayBuffer | Uint8Array;

export function wasmUrl(variant: WasmBuild): URL {
  // Literal URLs per variant, so bundlers can see and copy every asset.
  switch (variant) {
    case 'simd':
      return new URL('../../../assembly/build/fastconv-simd.wasm', import.meta.url);
    case 'relaxed':
      return new URL('../../../assembly/build/fastconv-relaxed.wasm', import.meta.url);
    case 'scalar':
      return new URL('../../../assembly/build/fastconv-scalar.wasm', import.meta.url);
    case 'simd-threads':
      return new URL('../../../assembly/build/fastconv-simd-threads.wasm', import.meta.url);
    case 'relaxed-threads':
      return new URL('../../../assembly/build/fastconv-relaxed-threads.wasm', import.meta.url);
  }
}

export async function loadWasmBytes(variant: WasmBuild, source?: WasmSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  const url = source ?? wasmUrl(variant);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fastconv: fetching ${String(url)} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
