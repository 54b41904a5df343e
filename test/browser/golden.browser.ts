// The golden vectors for tests that run inside the page: test/golden/*.json bundled by Vite
// (test/golden.ts reads them with node:fs, which a page does not have). Same fields, same meaning;
// only the committed copy is visible here (../shared/golden lies outside the served root).

import type { GoldenCase } from '../golden.js';
import type { ConvOptions } from '../../src/shape.js';

const files = import.meta.glob('../golden/*.json', { eager: true, import: 'default' }) as Record<string, any>;

function f32(b64: string): Float32Array {
  const bin = atob(b64);
  const view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  const out = new Float32Array(bin.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

function parse(source: string, j: any): GoldenCase {
  const dims = j.op.startsWith('conv1d') ? 1 : 2;
  let padding: ConvOptions['padding'] = j.padding;
  if (j.pad4) {
    const [t, b, l, r] = j.effective_pad;
    padding = dims === 2 ? [t, b, l, r] : [l, r];
  }
  return {
    name: j.name, op: j.op, dims,
    input: { data: f32(j.input), shape: j.input_shape },
    weight: { data: f32(j.weight), shape: j.weight_shape },
    bias: j.bias ? f32(j.bias) : null,
    output: f32(j.output),
    outputShape: j.output_shape,
    options: { stride: j.stride, dilation: j.dilation, groups: j.groups, padding },
    source,
  };
}

/** The forward cases (conv1d, conv2d); backward cases are the node suite's business. */
export function forwardGolden(): GoldenCase[] {
  return Object.entries(files)
    .filter(([, j]) => j.op === 'conv1d' || j.op === 'conv2d')
    .map(([path, j]) => parse(path, j));
}
