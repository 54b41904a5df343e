// Convolution gradients on the same backend (native/wasm/js) and the same fast algorithms as forward:
//  - grad-input is the transposed convolution of gradOutput with the weight (src/transpose.ts);
//  - grad-weight correlates the input with gradOutput. On a backend with its own grad-weight kernel
//    (native: a packed GEMM, or Winograd F(3x3, 2x2) for wide 3x3 stride-1 layers, native/conv/grad_weight*.cc)
//    that kernel runs ('native'); elsewhere it is
//    built from forward convolutions, in one of three formulations chosen per shape (gradWeightStrategy):
//    'swap' (batch and channels swap roles: few channels, depthwise), 'columns' (im2col + a GEMM run as a
//    1x1 convolution: strided and grouped layers), 'taps' (one GEMM per kernel tap on zero-copy views:
//    stride 1, many channels);
//  - grad-bias sums gradOutput over batch and positions (float64 accumulation), inside the native
//    grad-weight kernel when that runs.
// Every job's operands are built right before its convolution runs (sync calls reuse one scratch buffer).
// A fused ReLU is not differentiated here: pass the gradient with respect to the convolution's output
// *after* the ReLU mask was applied (gradOutput * (y > 0)), as the Conv2d layer does.

import type { HeldArgs } from './async-args.js';
import { checkAllIntact } from './async-args.js';
import type { Algorithm, Backend, ConvParams, GradWeightAlgorithm } from './backends/types.js';
import { dispatcher } from './dispatch.js';
import { channelsFirstToLast, channelsLastToFirst } from './layout.js';
import type { BackendChoice, ConvOptions, Tensor } from './shape.js';
import { checkOptionsObject, fmt, normalizeConv, tensorArg } from './shape.js';
import type { ConvJob, TransposeParams } from './transpose.js';
import { planTransposed, runJob, runJobAsync } from './transpose.js';

export type GradientName = 'input' | 'weight' | 'bias';

export interface BackwardOptions extends Omit<ConvOptions, 'out'> {
  /** Which gradients to compute; default input and weight, plus bias when options.bias is given. */
  needs?: readonly GradientName[];
}

export interface Gradients {
  /** Same shape and layout as the input. */
  gradInput?: Tensor;
  /** [K, C/groups, R, S] (1-D: [K, C/groups, R]), whatever the layout. */
  gradWeight?: Tensor;
  gradBias?: Float32Array;
}

const NEEDS: readonly GradientName[] = ['input', 'weight', 'bias'];

/** Where the derived convolutions run: the caller's backend and, where it applies, algorithm. */
interface RunOptions {
  backend: BackendChoice;
  algorithm: 'auto' | Algorithm;
}

/** A gradient computed by a backend kernel of its own, not through forward convolutions. */
interface KernelJob {
  run: () => void;
  runAsync: () => Promise<void>;
}

/** `held`: the caller's arrays as validated, checked again after the async form's awaits (src/async-args.ts). */
interface Prepared {
  jobs: ConvJob<void>[];
  kernels: KernelJob[];
  finalize: (() => void)[];
  result: Gradients;
  held?: HeldArgs;
}

function checkNeeds(v: unknown, hasBias: boolean): Set<GradientName> {
  if (v === undefined) return new Set<GradientName>(hasBias ? NEEDS : ['input', 'weight']);
  if (!Array.isArray(v)) throw new TypeError(`needs must be an array of 'input', 'weight', 'bias', got ${typeof v}`);
  for (const x of v) {
    if (!NEEDS.includes(x)) throw new RangeError(`needs entries must be 'input', 'weight' or 'bias', got ${fmt(x)}`);
  }
  return new Set(v as GradientName[]);
}

/** The transposed convolution that maps gradOutput back onto the input grid of the forward conv `p`. */
export function gradInputParams(p: ConvParams): TransposeParams {
  return {
    N: p.N,
    C: p.K,
    H: p.OH,
    W: p.OW,
    K: p.C,
    R: p.R,
    S: p.S,
    groups: p.groups,
    strideH: p.strideH,
    strideW: p.strideW,
    dilationH: p.dilationH,
    dilationW: p.dilationW,
    padTop: p.padTop,
    padBottom: p.padBottom,
    padLeft: p.padLeft,
    padRight: p.padRight,
    // Rows/columns PyTorch's floor left out of every window: they come out as zeros.
    outPadH: p.H + p.padTop + p.padBottom - p.dilationH * (p.R - 1) - 1 - (p.OH - 1) * p.strideH,
    outPadW: p.W + p.padLeft + p.padRight - p.dilationW * (p.S - 1) - 1 - (p.OW - 1) * p.strideW,
    OH: p.H,
    OW: p.W,
  };
}

// Largest im2col block grad-weight materializes at once (floats): 16 MiB keeps page faults cheap.
const COLUMN_BLOCK = 4 * 1024 * 1024;

/** Where grad-weight's GEMM operands come from: `positions` output positions, blocks a multiple of `granule`. */
interface ColumnSource {
  positions: number;
  granule: number;
  /** Writes gy^T [groups, Qb, K/groups] and cols [C*R*S, Qb] for positions [q0, q0 + Qb) into zeroed buffers. */
  fill(gyT: Float32Array, cols: Float32Array, q0: number, Qb: number): void;
}

/** im2col over the real output positions (any stride), copied element by element; blocks are whole output rows. */
function outputColumns(p: ConvParams, x: Float32Array, gy: Float32Array): ColumnSource {
  const { N, C, H, W, K, R, S, groups, OH, OW } = p;
  const Kg = K / groups;
  // Valid output columns [lo, hi) for kernel column t: those whose input column lies inside the image.
  const ranges = Array.from({ length: S }, (_, t): [number, number] => {
    const off = t * p.dilationW - p.padLeft;
    const lo = Math.max(0, Math.ceil(-off / p.strideW));
    return [lo, Math.max(lo, Math.min(OW, Math.floor((W - 1 - off) / p.strideW) + 1))];
  });
  return {
    positions: N * OH * OW,
    granule: OW,
    fill: (gyT, cols, q0, Qb) => {
      for (let li = 0, l = q0 / OW; li < Qb / OW; li++, l++) {
        const n = Math.floor(l / OH),
          oh = l % OH;
        for (let k = 0; k < K; k++) {
          const g = Math.floor(k / Kg),
            src = ((n * K + k) * OH + oh) * OW;
          let dst = (g * Qb + li * OW) * Kg + (k - g * Kg);
          for (let ow = 0; ow < OW; ow++, dst += Kg) gyT[dst] = gy[src + ow];
        }
        for (let c = 0; c < C; c++) {
          for (let r = 0; r < R; r++) {
            const ih = oh * p.strideH - p.padTop + r * p.dilationH;
            if (ih < 0 || ih >= H) continue;
            const row = ((n * C + c) * H + ih) * W;
            for (let t = 0; t < S; t++) {
              const [lo, hi] = ranges[t];
              const dst = ((c * R + r) * S + t) * Qb + li * OW;
              let src = row + lo * p.strideW + t * p.dilationW - p.padLeft;
              for (let ow = lo; ow < hi; ow++, src += p.strideW) cols[dst + ow] = x[src];
            }
          }
        }
      }
    },
  };
}

/**
 * grad-weight is the GEMM gW^T[(c,r,s), k] = sum_q cols[(c,r,s), q] gy^T[q, k] over output positions q,
 * cols being im2col(x). A GEMM is a 1x1 convolution: gy^T as an input of Q channels and width K/groups,
 * cols as a [C*R*S, Q, 1, 1] weight, grouped so that each group's rows see only its own gradients.
 * Positions are split into blocks of at most COLUMN_BLOCK floats of cols; block results are summed in
 * block order (the same order sync and async: identical bits).
 */
function planGradWeightByColumns(
  p: ConvParams,
  source: ColumnSource,
  run: RunOptions,
  shape: number[],
  into: Gradients
): { jobs: ConvJob<void>[]; finalize: () => void } {
  const { C, K, R, S, groups } = p;
  const Cg = C / groups,
    Kg = K / groups,
    CRS = C * R * S;
  const { positions, granule } = source;
  const perBlock = granule * Math.max(1, Math.floor(Math.min(positions, COLUMN_BLOCK / CRS) / granule));
  const partials: Float32Array[] = [];
  const jobs: ConvJob<void>[] = [];
  for (let q0 = 0, block = 0; q0 < positions; q0 += perBlock, block++) {
    const Qb = Math.min(perBlock, positions - q0);
    jobs.push({
      conv: (alloc) => {
        const gyT = alloc(groups * Qb * Kg),
          cols = alloc(CRS * Qb);
        source.fill(gyT, cols, q0, Qb);
        return {
          input: { data: gyT, shape: [1, groups * Qb, 1, Kg] },
          weight: { data: cols, shape: [CRS, Qb, 1, 1] },
          options: { groups, ...run },
        };
      },
      finish: (y) => {
        partials[block] = y.data;
      },
    });
  }
  return {
    jobs,
    finalize: () => {
      const sum = partials[0];
      for (let b = 1; b < partials.length; b++) for (let i = 0; i < sum.length; i++) sum[i] += partials[b][i];
      // [groups, Cg*R*S, Kg] -> [K, Cg*R*S]
      const CgRS = Cg * R * S,
        gw = new Float32Array(K * CgRS);
      for (let g = 0; g < groups; g++) {
        for (let j = 0; j < CgRS; j++) {
          const src = (g * CgRS + j) * Kg;
          for (let kk = 0; kk < Kg; kk++) gw[(g * Kg + kk) * CgRS + j] = sum[src + kk];
        }
      }
      into.gradWeight = { data: gw, shape };
    },
  };
}

/**
 * grad-weight as conv(xT, gyT) with batch and channels swapped: xT[c, g*N + n] = x[n, g*Cg + c] is a batch
 * of Cg images with groups*N channels, gyT[k, n] = gy[n, k] a weight of K filters over N channels, so
 * out[c, k, r, s] = sum_{n,oh,ow} x[n, g*Cg + c, oh*stride + r*dilation - pad] gy[n, k, oh, ow]: the forward
 * stride becomes the dilation and vice versa, and the result is cropped to R x S. No im2col in JS: this
 * suits few channels, where the backend's direct kernels do the work.
 */
function planGradWeightBySwap(
  p: ConvParams,
  x: Float32Array,
  gy: Float32Array,
  run: RunOptions,
  shape: number[],
  into: Gradients
): { jobs: ConvJob<void>[]; finalize: () => void } {
  const { N, C, H, W, K, R, S, groups, OH, OW } = p;
  const Cg = C / groups,
    HW = H * W,
    P = OH * OW;
  return {
    jobs: [
      {
        conv: (alloc) => {
          const xT = alloc(N * C * HW),
            gyT = alloc(N * K * P);
          for (let n = 0; n < N; n++) {
            for (let g = 0; g < groups; g++) {
              for (let c = 0; c < Cg; c++) {
                const src = (n * C + g * Cg + c) * HW;
                xT.set(x.subarray(src, src + HW), (c * groups * N + g * N + n) * HW);
              }
            }
            for (let k = 0; k < K; k++) gyT.set(gy.subarray((n * K + k) * P, (n * K + k + 1) * P), (k * N + n) * P);
          }
          return {
            input: { data: xT, shape: [Cg, groups * N, H, W] },
            weight: { data: gyT, shape: [K, N, OH, OW] },
            options: {
              stride: [p.dilationH, p.dilationW],
              dilation: [p.strideH, p.strideW],
              padding: [p.padTop, p.padBottom, p.padLeft, p.padRight],
              groups,
              ...run,
            },
          };
        },
        finish: (y) => {
          const [RR, SS] = [y.shape[2], y.shape[3]];
          const gw = new Float32Array(K * Cg * R * S);
          for (let k = 0; k < K; k++) {
            for (let c = 0; c < Cg; c++) {
              for (let r = 0; r < R; r++) {
                const src = ((c * K + k) * RR + r) * SS;
                gw.set(y.data.subarray(src, src + S), ((k * Cg + c) * R + r) * S);
              }
            }
          }
          into.gradWeight = { data: gw, shape };
        },
      },
    ],
    finalize: () => {},
  };
}

/**
 * grad-weight for stride 1 and no groups, without any im2col: per kernel tap (r, s), gW[:, :, r, s] is the
 * GEMM gy[K, q] x[q + offset(r, s), C] over positions q. Laid out channels-last on the padded grid, with
 * every image given the full padded width and height, each tap's rows of x are one contiguous slice, so
 * each tap is a 1x1 convolution on a zero-copy view; gy is zero at the grid positions that are not outputs.
 */
function planGradWeightByTaps(
  p: ConvParams,
  x: Float32Array,
  gy: Float32Array,
  run: RunOptions,
  shape: number[],
  into: Gradients
): { jobs: ConvJob<void>[]; finalize: () => void } {
  const { N, C, H, W, K, R, S, OH, OW } = p;
  const Hp = H + p.padTop + p.padBottom,
    Wp = W + p.padLeft + p.padRight,
    Q = N * Hp * Wp;
  const tail = p.dilationH * (R - 1) * Wp + p.dilationW * (S - 1);
  const grid = new Float32Array((Q + tail) * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) {
        const src = ((n * C + c) * H + h) * W;
        let dst = ((n * Hp + h + p.padTop) * Wp + p.padLeft) * C + c;
        for (let w = 0; w < W; w++, dst += C) grid[dst] = x[src + w];
      }
    }
  }
  const gyGrid = new Float32Array(K * Q);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      for (let oh = 0; oh < OH; oh++) {
        const src = ((n * K + k) * OH + oh) * OW;
        gyGrid.set(gy.subarray(src, src + OW), k * Q + (n * Hp + oh) * Wp);
      }
    }
  }
  const gw = new Float32Array(K * C * R * S);
  const jobs: ConvJob<void>[] = [];
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < S; t++) {
      const off = (r * p.dilationH * Wp + t * p.dilationW) * C;
      jobs.push({
        conv: () => ({
          input: { data: grid.subarray(off, off + Q * C), shape: [1, Q, 1, C] },
          weight: { data: gyGrid, shape: [K, Q, 1, 1] },
          options: { ...run },
        }),
        finish: (y) => {
          const tap = r * S + t;
          for (let i = 0; i < K * C; i++) gw[i * R * S + tap] = y.data[i];
        },
      });
    }
  }
  return {
    jobs,
    finalize: () => {
      into.gradWeight = { data: gw, shape };
    },
  };
}

/**
 * The caller's forward algorithm choice, carried over to the grad-weight kernel: 'auto' lets the kernel
 * choose, 'winograd' asks for its Winograd form (the backend falls back to its GEMM where that does not
 * apply), anything else asks for the GEMM (so 'direct'/'im2col' keep GEMM rounding, as they do for the
 * convolutions of the other gradients).
 */
function kernelPreference(algorithm: 'auto' | Algorithm): GradWeightAlgorithm {
  return algorithm === 'auto' ? 'auto' : algorithm === 'winograd' ? 'winograd' : 'gemm';
}

// gradWeightStrategy() picks 'native' only for a backend with the kernel.
const missingKernel = (backend: Backend) => `fastconv backward: the ${backend.name} backend has no grad-weight kernel`;

/** grad-weight (and grad-bias when `bias`) by the backend's own kernel (every shape), sync or async. */
function planGradWeightByKernel(
  p: ConvParams,
  x: Float32Array,
  gy: Float32Array,
  backend: Backend,
  algorithm: GradWeightAlgorithm,
  shape: number[],
  bias: boolean,
  into: Gradients
): KernelJob {
  const gw = new Float32Array(p.K * (p.C / p.groups) * p.R * p.S);
  const gb = bias ? new Float32Array(p.K) : null;
  const done = () => {
    into.gradWeight = { data: gw, shape };
    if (gb) into.gradBias = gb;
  };
  return {
    run: () => {
      if (!backend.gradWeight) throw new Error(missingKernel(backend));
      backend.gradWeight(p, x, gy, gw, gb, algorithm);
      done();
    },
    runAsync: () => {
      if (!backend.gradWeightAsync) throw new Error(missingKernel(backend));
      return backend.gradWeightAsync(p, x, gy, gw, gb, algorithm).then(done);
    },
  };
}

export type GradWeightStrategy = 'native' | 'swap' | 'columns' | 'taps';
type Plan = (
  p: ConvParams,
  x: Float32Array,
  gy: Float32Array,
  run: RunOptions,
  shape: number[],
  into: Gradients
) => { jobs: ConvJob<void>[]; finalize: () => void };
const GRAD_WEIGHT_PLANS: Record<Exclude<GradWeightStrategy, 'native'>, Plan> = {
  swap: planGradWeightBySwap,
  columns: (p, x, gy, ...rest) => planGradWeightByColumns(p, outputColumns(p, x, gy), ...rest),
  taps: planGradWeightByTaps,
};
let forcedStrategy: GradWeightStrategy | 'auto' = 'auto';

/**
 * Tests only: forces one grad-weight formulation ('taps' still needs groups = 1 and stride 1, 'native' a
 * backend with a grad-weight kernel; where the forced one cannot run, the automatic choice does).
 */
export function forceGradWeightStrategy(s: GradWeightStrategy | 'auto'): void {
  forcedStrategy = s;
}

/**
 * Which formulation of grad-weight to run on `backend` (default: one without a grad-weight kernel). A
 * backend's own kernel runs wherever the backend says it pays (gradWeightChoose: the native one
 * everywhere but depthwise). Without it, measured on the native backend, 1 thread (ms, swap/columns/taps):
 * LeNet conv1 N32 C1 1.8/8.6/61, LeNet conv2 N32 C6 4.9/7.7/20, L2 146/25/11, L3 199/19/13,
 * L1 (stride 2, C3) 71/38/-, L7 (depthwise) 4.9/63/-, 3x3 stride 2 C64 62/4.0/-.
 */
export function gradWeightStrategy(p: ConvParams, backend?: Backend): GradWeightStrategy {
  const tapsApply = p.groups === 1 && p.strideH === 1 && p.strideW === 1;
  const kernel = backend?.gradWeight !== undefined;
  if (forcedStrategy === 'native' && kernel) return 'native';
  if (forcedStrategy !== 'auto' && forcedStrategy !== 'native' && (forcedStrategy !== 'taps' || tapsApply)) return forcedStrategy;
  if (kernel && (backend.gradWeightChoose?.(p, 'auto').kernelPays ?? true)) return 'native';
  const Cg = p.C / p.groups;
  // The tap form computes on the whole padded grid: worth it while that is not much bigger than the output.
  const grid = p.N * (p.H + p.padTop + p.padBottom) * (p.W + p.padLeft + p.padRight);
  if (tapsApply && p.C >= 16 && grid <= 1.5 * p.N * p.OH * p.OW) return 'taps';
  if ((p.groups > 1 && Cg === 1) || (Cg <= 8 && p.N >= 4)) return 'swap';
  return 'columns';
}

function gradBias(p: ConvParams, gy: Float32Array): Float32Array {
  const P = p.OH * p.OW;
  const gb = new Float32Array(p.K);
  for (let k = 0; k < p.K; k++) {
    let acc = 0;
    for (let n = 0; n < p.N; n++) {
      const base = (n * p.K + k) * P;
      for (let i = 0; i < P; i++) acc += gy[base + i];
    }
    gb[k] = acc;
  }
  return gb;
}

function prepare(dims: 1 | 2, input: Tensor, weight: Tensor, gradOutput: Tensor, options?: BackwardOptions): Prepared {
  // Every argument is read once (options copied, tensors through normalizeConv/tensorArg), as forward does.
  const o = options === undefined ? undefined : (checkOptionsObject('options', options) as BackwardOptions);
  if (o && (o as ConvOptions).out !== undefined) {
    throw new TypeError('options.out is not supported by the backward functions (they return fresh tensors)');
  }
  const n = normalizeConv(dims, input, weight, o, ['needs']);
  const p = n.params;
  const g = tensorArg('gradOutput', gradOutput, n.outShape.length, "with the forward output's shape", true);
  if (g.shape.some((d, i) => d !== n.outShape[i])) {
    throw new RangeError(
      `gradOutput must have the forward output's shape [${n.outShape.join(', ')}], got [${g.shape.join(', ')}]`
    );
  }
  const needs = checkNeeds(o?.needs, n.bias !== null);
  if (p.N === 0) return emptyBatch(needs, n.xShape, n.wShape, p.K);
  const gy = n.channelsLast ? channelsLastToFirst(g.data, p.N, p.OH * p.OW, p.K) : g.data;
  const result: Gradients = {};
  const jobs: ConvJob<void>[] = [];
  const finalize: (() => void)[] = [];
  if (needs.has('input')) {
    const plan = planTransposed(gradInputParams(p), gy, n.w, null, n.backend, n.algorithm);
    jobs.push(...plan.jobs);
    finalize.push(() => {
      const gx = plan.result();
      result.gradInput = { data: n.channelsLast ? channelsFirstToLast(gx, p.N, p.C, p.H * p.W) : gx, shape: n.xShape.slice() };
    });
  }
  const kernels: KernelJob[] = [];
  if (needs.has('weight')) {
    const x = n.channelsLast ? channelsLastToFirst(n.x, p.N, p.H * p.W, p.C) : n.x;
    const { backend } = dispatcher().backendForCall(p, n.backend);
    const strategy = gradWeightStrategy(p, backend);
    if (strategy === 'native') {
      // The kernel reads every gradOutput row while packing it: grad-bias comes with it for free.
      const algorithm = backend.gradWeightChoose?.(p, kernelPreference(n.algorithm)).algorithm ?? kernelPreference(n.algorithm);
      kernels.push(planGradWeightByKernel(p, x, gy, backend, algorithm, n.wShape.slice(), needs.has('bias'), result));
      needs.delete('bias');
    } else {
      const gw = GRAD_WEIGHT_PLANS[strategy](p, x, gy, { backend: n.backend, algorithm: n.algorithm }, n.wShape.slice(), result);
      jobs.push(...gw.jobs);
      finalize.push(gw.finalize);
    }
  }
  if (needs.has('bias')) result.gradBias = gradBias(p, gy);
  const held: HeldArgs = [
    ['input', n.x, p.N * p.C * p.H * p.W],
    ['weight', n.w, p.K * (p.C / p.groups) * p.R * p.S],
    ['gradOutput', g.data, p.N * p.K * p.OH * p.OW],
    ['bias', n.bias, p.K],
  ];
  return { jobs, kernels, finalize, result, held };
}

/** An empty batch contributes nothing: an empty grad input, zero weight and bias gradients. */
function emptyBatch(needs: Set<GradientName>, xShape: number[], wShape: number[], K: number): Prepared {
  const result: Gradients = {};
  if (needs.has('input')) result.gradInput = { data: new Float32Array(0), shape: xShape.slice() };
  if (needs.has('weight'))
    result.gradWeight = { data: new Float32Array(wShape.reduce((a, b) => a * b, 1)), shape: wShape.slice() };
  if (needs.has('bias')) result.gradBias = new Float32Array(K);
  return { jobs: [], kernels: [], finalize: [], result };
}

function run({ jobs, kernels, finalize, result }: Prepared): Gradients {
  for (const job of jobs) runJob(job);
  for (const k of kernels) k.run();
  for (const f of finalize) f();
  return result;
}

async function runAsync({ jobs, kernels, finalize, result, held }: Prepared, call: string): Promise<Gradients> {
  try {
    await Promise.all([...jobs.map(runJobAsync), ...kernels.map((k) => k.runAsync())]);
  } catch (e) {
    // The caller's names first: gradOutput reaches grad-input's convolution as its `input`.
    if (held) checkAllIntact(call, held);
    throw e;
  }
  if (held) checkAllIntact(call, held);
  for (const f of finalize) f();
  return result;
}

/**
 * Gradients of a conv2d call with the same input, weight and options, given gradOutput = dL/dy
 * ([N, K, OH, OW], or NHWC with layout 'NHWC'). With activation 'relu' pass dL/dy already masked by y > 0.
 */
export function conv2dBackward(input: Tensor, weight: Tensor, gradOutput: Tensor, options?: BackwardOptions): Gradients {
  return run(prepare(2, input, weight, gradOutput, options));
}

/** conv1d's gradients: input [N, C, W] (or NWC), weight [K, C/groups, R], gradOutput [N, K, OW]. */
export function conv1dBackward(input: Tensor, weight: Tensor, gradOutput: Tensor, options?: BackwardOptions): Gradients {
  return run(prepare(1, input, weight, gradOutput, options));
}

/** conv2dBackward with its convolutions run through conv2dAsync (off the JS thread where the backend can). */
export async function conv2dBackwardAsync(
  input: Tensor,
  weight: Tensor,
  gradOutput: Tensor,
  options?: BackwardOptions
): Promise<Gradients> {
  return runAsync(prepare(2, input, weight, gradOutput, options), 'conv2dBackwardAsync');
}

export async function conv1dBackwardAsync(
  input: Tensor,
  weight: Tensor,
  gradOutput: Tensor,
  options?: BackwardOptions
): Promise<Gradients> {
  return runAsync(prepare(1, input, weight, gradOutput, options), 'conv1dBackwardAsync');
}
