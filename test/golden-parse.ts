// The golden JSON format (see test/golden/README.md) turned into tensors and conv options. Pure: no
// node:* imports, so the node loader (golden.ts) and the in-page loader (browser/golden.browser.ts)
// share it.

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

/** base64 of little-endian float32 -> Float32Array (atob exists in Node >= 16 and in browsers). */
export function decodeF32(b64: string): Float32Array {
  const bin = atob(b64);
  const view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  const out = new Float32Array(bin.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/** A test/golden/*.json file as gen.py writes it: the fields parseGolden reads (tensors in base64). */
export interface GoldenJson {
  name: string;
  op: GoldenCase['op'];
  input: string;
  input_shape: number[];
  weight: string;
  weight_shape: number[];
  bias: string | null;
  output: string;
  output_shape: number[];
  stride: number[];
  dilation: number[];
  groups: number;
  padding: number[] | 'same' | 'valid';
  /** Asymmetric cases' pre-padding [top, bottom, left, right], else null; effective_pad is the total the conv sees. */
  pad4: number[] | null;
  effective_pad: number[];
  grad_output?: string;
  grad_input?: string;
  grad_weight?: string;
  grad_bias?: string | null;
}

export function parseGolden(source: string, j: GoldenJson): GoldenCase {
  const dims = j.op.startsWith('conv1d') ? 1 : 2;
  let padding: ConvOptions['padding'] = j.padding;
  if (j.pad4) {
    const [t, b, l, r] = j.effective_pad;
    padding = dims === 2 ? [t, b, l, r] : [l, r];
  }
  const f32 = decodeF32;
  return {
    name: j.name,
    op: j.op,
    dims,
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
    source,
  };
}
