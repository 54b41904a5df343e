// Loads the PyTorch vectors written by gen.py (transposed convolution and pooling): base64 little-endian
// float32 tensors (indices: int32) become typed arrays; every other field is passed through as is.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: gen.py's fields differ per op (pooling, transposed, unbatched); each test reads its own
export type ExtraCase = Record<string, any> & { name: string; op: string };

const FLOAT_FIELDS = ['input', 'weight', 'bias', 'output', 'grad_output', 'grad_input', 'grad_weight', 'grad_bias'];

function decode(b64: string, kind: 'f32' | 'i32'): Float32Array | Int32Array {
  const buf = Buffer.from(b64, 'base64');
  const copy = new Uint8Array(buf).buffer; // aligned
  return kind === 'f32' ? new Float32Array(copy) : new Int32Array(copy);
}

export function loadExtra(opPrefix: string): ExtraCase[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const j = JSON.parse(readFileSync(join(here, f), 'utf8'));
      for (const k of FLOAT_FIELDS) if (typeof j[k] === 'string') j[k] = decode(j[k], 'f32');
      if (typeof j.indices === 'string') j.indices = decode(j.indices, 'i32');
      return j as ExtraCase;
    })
    .filter((c) => c.op.startsWith(opPrefix));
}
