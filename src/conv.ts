// The public forward convolution functions: validate (shape.ts), plan (dispatch.ts), run, re-layout.

import type { Algorithm, ConvParams } from './backends/types.js';
import { dispatcher } from './dispatch.js';
import { channelsFirstToLast, channelsLastToFirst } from './layout.js';
import type { ConvOptions, NormalizedConv, Tensor } from './shape.js';
import { normalizeConv, trueLength } from './shape.js';

export interface Explanation {
  backend: 'native' | 'wasm' | 'js';
  isa: string;
  threads: number;
  algorithm: Algorithm;
  reason: string;
  outputShape: number[];
  params: ConvParams;
}

interface Prepared {
  n: NormalizedConv;
  run: (async: boolean) => Promise<void> | void;
  result: Float32Array;
}

function prepare(dims: 1 | 2, input: Tensor, weight: Tensor, options: ConvOptions | undefined): Prepared {
  const n = normalizeConv(dims, input, weight, options);
  const p = n.params;
  const { backend, algorithm } = dispatcher().plan(p, n.backend, n.algorithm);
  const count = p.N * p.K * p.OH * p.OW;
  const result = !n.out ? new Float32Array(count) : trueLength(n.out) === count ? n.out : n.out.subarray(0, count);
  if (!n.channelsLast) {
    return {
      n, result,
      run: (async) => async
        ? backend.conv2dAsync(p, n.x, n.w, n.bias, result, algorithm)
        : backend.conv2d(p, n.x, n.w, n.bias, result, algorithm),
    };
  }
  const x = channelsLastToFirst(n.x, p.N, p.H * p.W, p.C);
  const y = new Float32Array(count);
  const back = () => { channelsFirstToLast(y, p.N, p.K, p.OH * p.OW, result); };
  return {
    n, result,
    run: (async) => {
      if (!async) { backend.conv2d(p, x, n.w, n.bias, y, algorithm); back(); return; }
      return backend.conv2dAsync(p, x, n.w, n.bias, y, algorithm).then(back);
    },
  };
}

function convSync(dims: 1 | 2, input: Tensor, weight: Tensor, options?: ConvOptions): Tensor {
  const job = prepare(dims, input, weight, options);
  job.run(false);
  return { data: job.result, shape: job.n.outShape };
}

async function convAsync(dims: 1 | 2, input: Tensor, weight: Tensor, options?: ConvOptions): Promise<Tensor> {
  const job = prepare(dims, input, weight, options);
  await job.run(true);
  return { data: job.result, shape: job.n.outShape };
}

/** 2-D convolution with PyTorch's semantics. input [N, C, H, W] (or NHWC), weight [K, C/groups, R, S]. */
export function conv2d(input: Tensor, weight: Tensor, options?: ConvOptions): Tensor {
  return convSync(2, input, weight, options);
}

/** 1-D convolution with PyTorch's semantics. input [N, C, W] (or NWC), weight [K, C/groups, R]. */
export function conv1d(input: Tensor, weight: Tensor, options?: ConvOptions): Tensor {
  return convSync(1, input, weight, options);
}

/** conv2d off the JS thread (native backend: on the addon's threads). */
export function conv2dAsync(input: Tensor, weight: Tensor, options?: ConvOptions): Promise<Tensor> {
  return convAsync(2, input, weight, options);
}

/** conv1d off the JS thread (native backend: on the addon's threads). */
export function conv1dAsync(input: Tensor, weight: Tensor, options?: ConvOptions): Promise<Tensor> {
  return convAsync(1, input, weight, options);
}

/** Which backend and algorithm a conv1d/conv2d call with these arguments would use, and why (runs nothing). */
export function explain(input: Tensor, weight: Tensor, options?: ConvOptions): Explanation {
  const dims = (input?.shape?.length === 3 ? 1 : 2);
  const n = normalizeConv(dims, input, weight, options);
  const { backend, algorithm, reason } = dispatcher().plan(n.params, n.backend, n.algorithm);
  return { backend: backend.name, isa: backend.isa, threads: backend.threads, algorithm, reason, outputShape: n.outShape, params: n.params };
}
