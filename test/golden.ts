// Loads the PyTorch golden vectors: the copy committed in test/golden/ plus, when present, the shared
// set beside the repository (../shared/golden), which may hold cases this copy does not.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConvOptions, Tensor } from '../src/shape.js';

export interface GoldenCase {
  name: string;
  op: 'conv1d' | 'conv2d' | 'conv1d_backward' | 'conv2d_backward';
  dims: 1 | 2;
  input: Tensor;
  weight: Tensor;
  bias: Float32Array | null;
  output: Float32Array;
  outputShape: number[];
  /** Options reproducing the case, padding as the case states it ('same'/'valid'/ints) or explicit when pad4 is set. */
  options: ConvOptions;
  gradOutput?: Float32Array;
  gradInput?: Float32Array;
  gradWeight?: Float32Array;
  gradBias?: Float32Array | null;
  source: string;
}

const here = dirname(fileURLToPath(import.meta.url));
export const GOLDEN_DIRS = [join(here, 'golden'), join(here, '..', '..', 'shared', 'golden')];

function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

function parse(file: string): GoldenCase {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const dims = j.op.startsWith('conv1d') ? 1 : 2;
  let padding: ConvOptions['padding'];
  if (j.pad4) {
    const [t, b, l, r] = j.effective_pad;
    padding = dims === 2 ? [t, b, l, r] : [l, r];
  } else {
    padding = j.padding;
  }
  return {
    name: j.name, op: j.op, dims,
    input: { data: f32(j.input), shape: j.input_shape },
    weight: { data: f32(j.weight), shape: j.weight_shape },
    bias: j.bias ? f32(j.bias) : null,
    output: f32(j.output),
    outputShape: j.output_shape,
    options: { stride: j.stride, dilation: j.dilation, groups: j.groups, padding },
    gradOutput: j.grad_output ? f32(j.grad_output) : undefined,
    gradInput: j.grad_input ? f32(j.grad_input) : undefined,
    gradWeight: j.grad_weight ? f32(j.grad_weight) : undefined,
    gradBias: j.grad_bias === undefined ? undefined : j.grad_bias ? f32(j.grad_bias) : null,
    source: file,
  };
}

/** All golden cases by name; a case in ../shared/golden replaces the committed copy of the same name. */
export function loadGolden(): GoldenCase[] {
  const byName = new Map<string, GoldenCase>();
  for (const dir of GOLDEN_DIRS) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
      const c = parse(join(dir, f));
      byName.set(c.name, c);
    }
  }
  return [...byName.values()];
}
