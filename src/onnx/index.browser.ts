// `fastconv/onnx` in browsers: the model's bytes (or a URL to fetch), run on fastconv's wasm backends.

import * as fastconv from '../index.browser.js';
import type { FastconvApi } from './compile.js';
import type { LoadOptions, OnnxModel } from './model.js';
import { createModel } from './model.js';

export type { ExplainedStep, LoadOptions, OnnxTensorInfo } from './model.js';
export { OnnxModel } from './model.js';
export { OnnxError } from './parse.js';

const api = fastconv as unknown as FastconvApi;

/** Loads and compiles an ONNX model (a URL to fetch, or its bytes) after fastconv's wasm is ready. */
export async function loadOnnx(urlOrBytes: string | URL | Uint8Array | ArrayBuffer, options?: LoadOptions): Promise<OnnxModel> {
  await fastconv.ready();
  let bytes: Uint8Array;
  if (typeof urlOrBytes === 'string' || urlOrBytes instanceof URL) {
    const r = await fetch(urlOrBytes);
    if (!r.ok) throw new Error(`fetching the model from ${String(urlOrBytes)} failed: HTTP ${r.status}`);
    bytes = new Uint8Array(await r.arrayBuffer());
  } else bytes = urlOrBytes instanceof Uint8Array ? urlOrBytes : new Uint8Array(urlOrBytes);
  return createModel(api, bytes, options);
}
