// `fastconv/onnx` in Node: ONNX CNN models on fastconv's layers. Loading this entry loads fastconv's Node
// entry (native addon, wasm, js) too, and the runner reaches the engines only through that public API.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as fastconv from '../index.node.js';
import type { FastconvApi } from './compile.js';
import type { LoadOptions, OnnxModel } from './model.js';
import { createModel } from './model.js';

export type { ExplainedStep, LoadOptions, OnnxTensorInfo } from './model.js';
export { OnnxModel } from './model.js';
export { OnnxError } from './parse.js';

const api = fastconv as unknown as FastconvApi;

function asBytes(v: Uint8Array | ArrayBuffer): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new TypeError(`the model must be a file path, a Uint8Array or an ArrayBuffer, got ${v === null ? 'null' : typeof v}`);
}

/** Loads and compiles an ONNX model (a file path, or its bytes). Errors name the node, op and attribute at fault. */
export async function loadOnnx(pathOrBytes: string | Uint8Array | ArrayBuffer, options?: LoadOptions): Promise<OnnxModel> {
  const bytes = typeof pathOrBytes === 'string' ? new Uint8Array(await readFile(pathOrBytes)) : asBytes(pathOrBytes);
  return createModel(api, bytes, options);
}

/** loadOnnx on the calling thread. */
export function loadOnnxSync(pathOrBytes: string | Uint8Array | ArrayBuffer, options?: LoadOptions): OnnxModel {
  const bytes = typeof pathOrBytes === 'string' ? new Uint8Array(readFileSync(pathOrBytes)) : asBytes(pathOrBytes);
  return createModel(api, bytes, options);
}
