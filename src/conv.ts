// The public forward convolution functions: validate (shape.ts), plan (dispatch.ts), optionally tune
// (tune.ts), run, re-layout. Layers (layers.ts) call the same path with their weight store.

import { checkIntact } from './async-args.js';
import type { Algorithm, Backend, ConvParams, WeightStore } from './backends/types.js';
import { EngineLimitError } from './backends/types.js';
import { dispatcher } from './dispatch.js';
import { channelsFirstToLast, channelsLastToFirst } from './layout.js';
import type { ConvOptions, NormalizedConv, Tensor } from './shape.js';
import { allocFloats, normalizeConv, readTensor, trueLength } from './shape.js';
import { tuneAsync, tunedChoice, tuneKey, tuneSync } from './tune.js';

export interface Explanation {
  backend: 'native' | 'wasm' | 'js';
  isa: string;
  /** Threads this call runs on (small calls stay on one even when more are configured; an empty batch runs on none). */
  threads: number;
  /**
   * Threads the same call made with conv2dAsync/conv1dAsync runs on: more than `threads` on a browser's
   * main thread, which cannot block for workers, so only async calls split there.
   */
  asyncThreads: number;
  algorithm: Algorithm;
  reason: string;
  outputShape: number[];
  params: ConvParams;
}

/** What a layer adds to a call: its store of transformed weights on the backend that runs the call. */
export interface CallContext {
  store?: (backend: Backend) => WeightStore | undefined;
}

/** A finished call: the output and the algorithm that produced it. */
export interface ConvResult {
  y: Tensor;
  algorithm: Algorithm;
}

interface Job {
  n: NormalizedConv;
  backend: Backend;
  store: WeightStore | undefined;
  /** The planned algorithm or the tuned winner; else the key under which the shape still has to be tuned. */
  choice: { algorithm: Algorithm } | { tuneKey: string };
  /** The dispatcher's choice (what an empty batch reports: it runs nothing). */
  planned: Algorithm;
  x: Float32Array;
  y: Float32Array;
  result: Float32Array;
}

function prepare(dims: 1 | 2, input: Tensor, weight: Tensor, options: ConvOptions | undefined, ctx?: CallContext): Job {
  const n = normalizeConv(dims, input, weight, options);
  const p = n.params;
  const planned = dispatcher().plan(p, n.backend, n.algorithm);
  const backend = planned.backend;
  const store = ctx?.store?.(backend);
  let choice: Job['choice'] = { algorithm: planned.algorithm };
  if (n.tune && n.algorithm === 'auto') {
    const key = tuneKey(backend, p, store !== undefined);
    const tuned = tunedChoice(key)?.algorithm;
    choice = tuned === undefined ? { tuneKey: key } : { algorithm: tuned };
  }
  const count = p.N * p.K * p.OH * p.OW;
  const result = !n.out ? allocFloats('output', count) : trueLength(n.out) === count ? n.out : n.out.subarray(0, count);
  const x = n.channelsLast ? channelsLastToFirst(n.x, p.N, p.H * p.W, p.C) : n.x;
  const y = n.channelsLast ? allocFloats('output', count) : result;
  return { n, backend, store, choice, planned: planned.algorithm, x, y, result };
}

function candidates(job: Job): Algorithm[] {
  return job.backend.algorithms.filter((a) => job.backend.supports(job.n.params, a) === null);
}

/**
 * `asyncCall` (the function's name): the convolution ran asynchronously, so the caller's code ran
 * meanwhile and may have resized or detached any of the arrays (src/async-args.ts has the rule). Each
 * must still have its validated length before the call succeeds, and `out` before the NHWC transpose
 * writes it: a typed-array write past the end is dropped without a word. `out` is checked as
 * job.result, the view of the elements the call writes (its fixed-length subarray when `out` is longer).
 */
function finish(job: Job, algorithm: Algorithm, asyncCall?: string): ConvResult {
  const p = job.n.params;
  if (asyncCall !== undefined) {
    const { n } = job;
    checkIntact(asyncCall, 'input', n.x, p.N * p.C * p.H * p.W);
    checkIntact(asyncCall, 'weight', n.w, p.K * (p.C / p.groups) * p.R * p.S);
    checkIntact(asyncCall, 'bias', n.bias, p.K);
    if (n.out) checkIntact(asyncCall, 'out', job.result, p.N * p.K * p.OH * p.OW);
  }
  if (job.n.channelsLast) channelsFirstToLast(job.y, p.N, p.K, p.OH * p.OW, job.result);
  return { y: { data: job.result, shape: job.n.outShape }, algorithm };
}

/** Runs a forward convolution synchronously (the public functions and the layers come through here). */
export function convolve(dims: 1 | 2, input: Tensor, weight: Tensor, options?: ConvOptions, ctx?: CallContext): ConvResult {
  const job = prepare(dims, input, weight, options, ctx);
  if (job.n.params.N === 0) return finish(job, job.planned);
  const { n, backend, store, x, y } = job;
  const run = (a: Algorithm) => backend.conv2d(n.params, x, n.w, n.bias, y, a, store);
  const { choice } = job;
  const algorithm = 'algorithm' in choice ? choice.algorithm : tuneSync(choice.tuneKey, candidates(job), run).algorithm;
  try {
    run(algorithm);
  } catch (e) {
    if (!(e instanceof EngineLimitError) || backend.name === 'js') throw e;
    dispatcher().backendFor('js').conv2d(n.params, x, n.w, n.bias, y, 'direct');
    return finish(job, 'direct');
  }
  return finish(job, algorithm);
}

/** convolve() through the backends' async entry points (off the JS thread where they can). */
export async function convolveAsync(
  dims: 1 | 2,
  input: Tensor,
  weight: Tensor,
  options?: ConvOptions,
  ctx?: CallContext
): Promise<ConvResult> {
  const job = prepare(dims, input, weight, options, ctx);
  if (job.n.params.N === 0) return finish(job, job.planned);
  const { n, backend, store, x, y } = job;
  const run = (a: Algorithm) => backend.conv2dAsync(n.params, x, n.w, n.bias, y, a, store);
  const { choice } = job;
  const algorithm = 'algorithm' in choice ? choice.algorithm : (await tuneAsync(choice.tuneKey, candidates(job), run)).algorithm;
  const call = dims === 2 ? 'conv2dAsync' : 'conv1dAsync';
  try {
    await run(algorithm);
  } catch (e) {
    if (!(e instanceof EngineLimitError) || backend.name === 'js') throw e;
    // A valid call beyond the engine's memory (EngineLimitError): the float64 reference takes it.
    await dispatcher().backendFor('js').conv2dAsync(n.params, x, n.w, n.bias, y, 'direct');
    return finish(job, 'direct', call);
  }
  return finish(job, algorithm, call);
}

/**
 * 2-D convolution with PyTorch's semantics. input [N, C, H, W] (or NHWC; unbatched [C, H, W] gives an
 * unbatched output), weight [K, C/groups, R, S].
 */
export function conv2d(input: Tensor, weight: Tensor, options?: ConvOptions): Tensor {
  return convolve(2, input, weight, options).y;
}

/** 1-D convolution with PyTorch's semantics. input [N, C, W] (or NWC; unbatched [C, W]), weight [K, C/groups, R]. */
export function conv1d(input: Tensor, weight: Tensor, options?: ConvOptions): Tensor {
  return convolve(1, input, weight, options).y;
}

/** conv2d off the JS thread (native backend: on the addon's threads). */
export async function conv2dAsync(input: Tensor, weight: Tensor, options?: ConvOptions): Promise<Tensor> {
  return (await convolveAsync(2, input, weight, options)).y;
}

/** conv1d off the JS thread (native backend: on the addon's threads). */
export async function conv1dAsync(input: Tensor, weight: Tensor, options?: ConvOptions): Promise<Tensor> {
  return (await convolveAsync(1, input, weight, options)).y;
}

/**
 * Which backend and algorithm a conv1d/conv2d call with these arguments would use, and why (runs nothing).
 * With `tune: true` it reports the tuned winner once the shape was tuned by a call.
 */
export function explain(input: Tensor, weight: Tensor, options?: ConvOptions): Explanation {
  const wt = readTensor(weight, 'weight') as Tensor | undefined;
  const dims = wt?.shape?.length === 3 ? 1 : 2;
  const n = normalizeConv(dims, input, wt, options);
  const planned = dispatcher().plan(n.params, n.backend, n.algorithm);
  const { backend } = planned;
  let { algorithm, reason } = planned;
  if (n.tune && n.algorithm === 'auto') {
    const tuned = tunedChoice(tuneKey(backend, n.params, false));
    if (tuned) ({ algorithm, reason } = tuned);
    else reason = `not tuned yet (the first call with tune: true times every applicable algorithm); until then: ${reason}`;
  }
  const threadsOf = (call: 'sync' | 'async') =>
    n.params.N === 0 ? 0 : (backend.threadsFor?.(n.params, algorithm, call) ?? backend.threads);
  return {
    backend: backend.name,
    isa: backend.isa,
    threads: threadsOf('sync'),
    asyncThreads: threadsOf('async'),
    algorithm,
    reason,
    outputShape: n.outShape,
    params: n.params,
  };
}
