// Transposed convolution (PyTorch's ConvTranspose1d/2d) expressed as FORWARD convolutions through the
// public conv2d, so that it runs on whichever backend and algorithm is fastest. conv2dBackward's grad-input
// is the same operation, which is why the machinery (planTransposed, ConvJob) lives here.
//
// Why it is a forward convolution: out[i] = sum_{j, r: j*s - p + r*d = i} x[j] w[r]. For stride 1, pad x
// by d*(R-1) - p before, flip w and swap its in/out channels: out[i] = sum_r xpad[i + r*d] wflip[r], an
// ordinary convolution with dilation d (a negative padding, p > d*(R-1), crops x instead). For stride s,
// the outputs of each phase i = i0 (mod s) see a fixed subset of the taps: one such convolution per
// phase (see `phases`), instead of spreading x with s-1 zeros, which would waste s-fold work per dimension.

import type { HeldArgs } from './async-args.js';
import { checkAllIntact } from './async-args.js';
import type { Algorithm } from './backends/types.js';
import { ALGORITHMS } from './backends/types.js';
import { conv2d, conv2dAsync } from './conv.js';
import { dispatcher, forChoice } from './dispatch.js';
import { channelsFirstToLast, channelsLastToFirst } from './layout.js';
import type { BackendChoice, ConvOptions, Tensor } from './shape.js';
import {
  allocFloats,
  checkBackendChoice,
  checkEnum,
  checkFloat32Array,
  checkIntArray,
  checkOptionsObject,
  checkOutputSize,
  checkPositiveInt,
  checkTensor,
  isUnbatched,
  normalizeConv,
  perDim,
  plainView,
  readTensor,
  trueLength,
} from './shape.js';

/** A transposed convolution in the canonical 2-D NCHW form (1-D: H = OH = 1, R = 1). */
export interface TransposeParams {
  N: number;
  C: number;
  H: number;
  W: number; // input [N, C, H, W]
  K: number;
  R: number;
  S: number; // weight [C, K/groups, R, S]: K output channels
  groups: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  outPadH: number;
  outPadW: number;
  OH: number;
  OW: number; // output [N, K, OH, OW]
}

/** Returns a zero-filled buffer that only has to live until the job's convolution returns. */
export type Alloc = (n: number) => Float32Array;

export interface ConvSpec {
  input: Tensor;
  weight: Tensor;
  options: ConvOptions;
}

/** One forward convolution to run (sync or async) and what to do with its result. */
export interface ConvJob<T> {
  /** Builds the call's operands on demand, so that sync runs can assemble them in reused scratch memory. */
  conv: (alloc: Alloc) => ConvSpec;
  finish: (y: Tensor) => T;
}

// Fresh multi-megabyte buffers cost more in page faults (4 KiB pages) than the copies into them, so sync
// jobs build their temporaries in one grow-only scratch buffer. Buffers beyond SCRATCH_MAX are not kept.
const SCRATCH_MAX = 16 * 1024 * 1024;
let scratch = new Float32Array(0);

function scratchAlloc(): Alloc {
  let used = 0;
  return (n) => {
    if (n > SCRATCH_MAX) return new Float32Array(n);
    if (used + n > scratch.length) {
      // Slices handed out earlier keep the old buffer alive until the job ends; the rest go to the new one.
      scratch = new Float32Array(Math.min(SCRATCH_MAX * 2, Math.max(n, 2 * scratch.length)));
      used = 0;
    }
    const view = scratch.subarray(used, used + n);
    used += n;
    return view.fill(0);
  };
}

const freshAlloc: Alloc = (n) => new Float32Array(n);

/**
 * The caller's algorithm applies to each derived convolution that can run it (grad-input of a 3x3
 * stride-1 layer can be Winograd too); the others fall back to 'auto' rather than failing.
 */
function withAlgorithm(c: ConvSpec): ConvSpec {
  const a = c.options.algorithm;
  if (a === undefined || a === 'auto') return c;
  const n = normalizeConv(c.weight.shape.length === 3 ? 1 : 2, c.input, c.weight, c.options);
  const { backend } = dispatcher().backendForCall(n.params, n.backend);
  return backend.supports(forChoice(n.params), a) === null ? c : { ...c, options: { ...c.options, algorithm: 'auto' } };
}

export function runJob<T>(job: ConvJob<T>): T {
  const c = withAlgorithm(job.conv(scratchAlloc()));
  return job.finish(conv2d(c.input, c.weight, c.options));
}

/** Async jobs may overlap, so each builds its operands in its own memory. */
export async function runJobAsync<T>(job: ConvJob<T>): Promise<T> {
  const c = withAlgorithm(job.conv(freshAlloc));
  return job.finish(await conv2dAsync(c.input, c.weight, c.options));
}

/**
 * One output phase along one dimension: the outputs i = i0 + stride*m (m < count) receive exactly the taps
 * r with r*dilation = i + pad (mod stride), so they form an ordinary stride-1 correlation of the input
 * with those taps (listed in correlation order, i.e. flipped), dilated by `dilation`, over the input range
 * [cropBefore, size - cropAfter) zero-padded by `pad`. Splitting by phase instead of spreading the input
 * with stride-1 zeros saves a factor stride per dimension in work and memory.
 */
interface Phase {
  i0: number;
  count: number;
  taps: number[];
  dilation: number;
  cropBefore: number;
  length: number;
  pad: [number, number];
}

function phases(inSize: number, outSize: number, k: number, stride: number, dilation: number, pad: number): Phase[] {
  // Only the phases some tap reaches (at most k of them) hold more than the bias: group the taps by the
  // phase they feed instead of visiting all `stride` phases, so that time and memory follow the output.
  const byPhase = new Map<number, number[]>();
  for (let r = 0; r < k; r++) {
    const i0 = (((r * dilation - pad) % stride) + stride) % stride;
    if (i0 >= outSize) continue;
    const rs = byPhase.get(i0);
    if (rs) rs.push(r);
    else byPhase.set(i0, [r]);
  }
  const out: Phase[] = [];
  for (const [i0, rs] of [...byPhase].sort((a, b) => a[0] - b[0])) {
    const count = Math.ceil((outSize - i0) / stride);
    // Input offset of tap r for m = 0; taps with larger r read earlier inputs, so correlation order is r descending.
    const offset = (r: number) => (i0 + pad - r * dilation) / stride;
    const taps = rs.reverse();
    const step = taps.length > 1 ? offset(taps[1]) - offset(taps[0]) : 1;
    const first = offset(taps[0]),
      last = first + count - 1 + step * (taps.length - 1);
    const cropBefore = Math.max(0, first),
      cropAfter = Math.max(0, inSize - 1 - last);
    out.push({
      i0,
      count,
      taps,
      dilation: step,
      cropBefore,
      length: inSize - cropBefore - cropAfter,
      pad: [Math.max(0, -first), Math.max(0, last - (inSize - 1))],
    });
  }
  return out;
}

/** The forward convolutions computing a transposed convolution, and its result once they have run. */
export interface TransposedPlan {
  jobs: ConvJob<void>[];
  result: () => Float32Array;
}

/**
 * The transposed convolution `t` of x [N, C, H, W] with weight [C, K/groups, R, S] as forward convolutions
 * (one per output phase pair; a single one for stride 1); `result()` is out [N, K, OH, OW].
 */
export function planTransposed(
  t: TransposeParams,
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  backend: BackendChoice,
  algorithm: 'auto' | Algorithm = 'auto'
): TransposedPlan {
  const { N, C, H, W, K, R, S, groups, OH, OW } = t;
  const Cg = C / groups,
    Kg = K / groups;
  const single = t.strideH === 1 && t.strideW === 1;
  // Stride 1 is one convolution whose output is the result; otherwise each phase scatters into `phased`.
  const phased = single ? null : fillBias(allocFloats('output', N * K * OH * OW), bias, N, K, OH * OW);
  let out = phased;
  const jobs: ConvJob<void>[] = [];
  for (const ph of phases(H, OH, R, t.strideH, t.dilationH, t.padTop)) {
    for (const pw of phases(W, OW, S, t.strideW, t.dilationW, t.padLeft)) {
      // No tap reaches these outputs, or every tap reads cropped padding: they hold the bias alone.
      if (ph.length <= 0 || pw.length <= 0) continue;
      const RR = ph.taps.length,
        SS = pw.taps.length;
      const whole = ph.cropBefore === 0 && pw.cropBefore === 0 && ph.length === H && pw.length === W;
      jobs.push({
        conv: (alloc) => {
          // The phase's taps, in/out channels swapped within each group: [K, C/groups, RR, SS].
          const wf = alloc(K * Cg * RR * SS);
          for (let g = 0; g < groups; g++) {
            for (let c = 0; c < Cg; c++) {
              for (let k = 0; k < Kg; k++) {
                const src = ((g * Cg + c) * Kg + k) * R * S,
                  dst = ((g * Kg + k) * Cg + c) * RR * SS;
                for (let i = 0; i < RR; i++) {
                  for (let j = 0; j < SS; j++) wf[dst + i * SS + j] = weight[src + ph.taps[i] * S + pw.taps[j]];
                }
              }
            }
          }
          const input = whole ? x : crop(x, alloc(N * C * ph.length * pw.length), N * C, H, W, ph, pw);
          return {
            input: { data: input, shape: [N, C, ph.length, pw.length] },
            weight: { data: wf, shape: [K, Cg, RR, SS] },
            options: { dilation: [ph.dilation, pw.dilation], padding: [...ph.pad, ...pw.pad], groups, bias, backend, algorithm },
          };
        },
        finish: (y) => {
          if (!phased) {
            out = y.data;
            return;
          }
          const yd = y.data,
            o = phased;
          for (let plane = 0; plane < N * K; plane++) {
            for (let m = 0; m < ph.count; m++) {
              const src = (plane * ph.count + m) * pw.count,
                dst = (plane * OH + ph.i0 + m * t.strideH) * OW + pw.i0;
              for (let q = 0; q < pw.count; q++) o[dst + q * t.strideW] = yd[src + q];
            }
          }
        },
      });
    }
  }
  return { jobs, result: () => out ?? fillBias(allocFloats('output', N * K * OH * OW), bias, N, K, OH * OW) };
}

/** Planes [P, H, W] -> [P, ph.length, pw.length], starting at (ph.cropBefore, pw.cropBefore). */
function crop(x: Float32Array, z: Float32Array, P: number, H: number, W: number, ph: Phase, pw: Phase): Float32Array {
  for (let pl = 0; pl < P; pl++) {
    for (let h = 0; h < ph.length; h++) {
      const src = (pl * H + h + ph.cropBefore) * W + pw.cropBefore;
      z.set(x.subarray(src, src + pw.length), (pl * ph.length + h) * pw.length);
    }
  }
  return z;
}

function fillBias(out: Float32Array, bias: Float32Array | null, N: number, K: number, P: number): Float32Array {
  if (!bias) return out;
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out.fill(bias[k], (n * K + k) * P, (n * K + k + 1) * P);
  return out;
}

export interface ConvTransposeOptions {
  bias?: Float32Array | null;
  stride?: number | readonly number[];
  /** number, per-dim [ph, pw], or explicit [top, bottom, left, right] (1-D: [left, right]): cropped from the output. */
  padding?: number | readonly number[];
  /** Extra rows/columns added at the bottom/right of the output (PyTorch's output_padding). */
  outputPadding?: number | readonly number[];
  dilation?: number | readonly number[];
  groups?: number;
  layout?: 'NCHW' | 'NHWC' | 'NCW' | 'NWC';
  backend?: BackendChoice;
  algorithm?: 'auto' | Algorithm;
}

const TRANSPOSE_KEYS = ['bias', 'stride', 'padding', 'outputPadding', 'dilation', 'groups', 'layout', 'backend', 'algorithm'];

interface NormalizedTranspose {
  t: TransposeParams;
  outShape: number[];
  channelsLast: boolean;
  bias: Float32Array | null;
  backend: BackendChoice;
  algorithm: 'auto' | Algorithm;
  /** input.data and weight.data as validated: nothing reads the tensors' fields again. */
  x: Float32Array;
  w: Float32Array;
}

function normalizeTranspose(dims: 1 | 2, input: unknown, weight: unknown, options: unknown): NormalizedTranspose {
  const o = (options === undefined ? {} : checkOptionsObject('options', options)) as ConvTransposeOptions;
  for (const key of Object.keys(o)) {
    if (!TRANSPOSE_KEYS.includes(key))
      throw new TypeError(`options.${key} is not a known option (known: ${TRANSPOSE_KEYS.join(', ')})`);
  }
  const layouts = dims === 2 ? (['NCHW', 'NHWC'] as const) : (['NCW', 'NWC'] as const);
  const layout = checkEnum<string>('layout', o.layout, layouts, layouts[0]);
  const channelsLast = layout === layouts[1];
  const xt = readTensor(input, 'input') as Tensor,
    wt = readTensor(weight, 'weight') as Tensor;
  const unbatched = isUnbatched(dims, xt?.shape);
  const xs = checkTensor(
    'input',
    xt,
    dims + (unbatched ? 1 : 2),
    channelsLast ? '(channels last)' : '(channels first)',
    xt?.data,
    !unbatched
  );
  if (unbatched) xs.unshift(1);
  const ws = checkTensor('weight', wt, dims + 2, dims === 2 ? '[C, K/groups, R, S]' : '[C, K/groups, R]', wt?.data);
  const N = xs[0],
    C = channelsLast ? xs[dims + 1] : xs[1];
  const spatial = channelsLast ? xs.slice(1, dims + 1) : xs.slice(2);
  const groups = o.groups === undefined ? 1 : checkPositiveInt('groups', o.groups);
  if (C % groups !== 0) throw new RangeError(`groups (${groups}) must divide the input channels C (${C})`);
  if (ws[0] !== C) throw new RangeError(`weight.shape[0] must be the input channels C = ${C}, got ${ws[0]}`);
  const K = ws[1] * groups;
  const kernel = ws.slice(2);
  const stride = perDim('stride', o.stride, dims, 1, 1);
  const dilation = perDim('dilation', o.dilation, dims, 1, 1);
  const outPad = perDim('outputPadding', o.outputPadding, dims, 0, 0);
  let pads: number[][];
  if (o.padding === undefined || typeof o.padding === 'number') {
    const p = o.padding === undefined ? 0 : checkPositiveInt('padding', o.padding, 0);
    pads = kernel.map(() => [p, p]);
  } else {
    const ints = checkIntArray('padding', o.padding, 0);
    if (ints.length !== dims && ints.length !== 2 * dims) {
      throw new RangeError(
        `padding must be a number, an array of ${dims} or of ${2 * dims} (before/after per dimension), got [${ints.join(', ')}]`
      );
    }
    pads = ints.length === dims ? ints.map((p) => [p, p]) : kernel.map((_, i) => [ints[2 * i], ints[2 * i + 1]]);
  }
  const outSpatial = spatial.map((size, i) => {
    if (outPad[i] >= stride[i] && outPad[i] >= dilation[i]) {
      throw new RangeError(
        `outputPadding[${i}] (${outPad[i]}) must be smaller than either stride (${stride[i]}) or dilation (${dilation[i]}), as in PyTorch`
      );
    }
    const out = (size - 1) * stride[i] - pads[i][0] - pads[i][1] + dilation[i] * (kernel[i] - 1) + outPad[i] + 1;
    if (out < 1)
      throw new RangeError(
        `output size would be ${out} in dimension ${i}: padding ${pads[i]} crops more than the ${out + pads[i][0] + pads[i][1]} computed positions`
      );
    return out;
  });
  // The output grows with the input spread by the stride and with the dilated kernel: blame the larger.
  const spread = Math.max(...spatial.map((size, i) => (size - 1) * stride[i]));
  const reach = Math.max(...kernel.map((k, i) => dilation[i] * (k - 1)));
  const blame = spread >= reach ? (stride.some((v) => v > 1) ? 'stride' : 'input.shape') : 'dilation';
  checkOutputSize(channelsLast ? [N, ...outSpatial, K] : [N, K, ...outSpatial], blame);
  let bias: Float32Array | null = null;
  if (o.bias !== undefined && o.bias !== null) {
    bias = plainView(checkFloat32Array('bias', o.bias));
    if (trueLength(bias) !== K)
      throw new RangeError(`bias length must be K = weight.shape[1] * groups = ${K}, got ${trueLength(bias)}`);
  }
  const algorithm = checkEnum('algorithm', o.algorithm, ['auto', ...ALGORITHMS] as const, 'auto');
  const two = (a: number[], d: number) => (dims === 2 ? [a[0], a[1]] : [d, a[0]]);
  const [H, W] = two(spatial, 1),
    [R, S] = two(kernel, 1),
    [strideH, strideW] = two(stride, 1);
  const [dilationH, dilationW] = two(dilation, 1),
    [outPadH, outPadW] = two(outPad, 0),
    [OH, OW] = two(outSpatial, 1);
  const [padTop, padBottom] = dims === 2 ? pads[0] : [0, 0];
  const [padLeft, padRight] = pads[dims - 1];
  const t: TransposeParams = {
    N,
    C,
    H,
    W,
    K,
    R,
    S,
    groups,
    strideH,
    strideW,
    dilationH,
    dilationW,
    padTop,
    padBottom,
    padLeft,
    padRight,
    outPadH,
    outPadW,
    OH,
    OW,
  };
  const outShape = (channelsLast ? [N, ...outSpatial, K] : [N, K, ...outSpatial]).slice(unbatched ? 1 : 0);
  return {
    t,
    outShape,
    channelsLast,
    bias,
    backend: checkBackendChoice('backend', o.backend),
    algorithm,
    x: xt.data,
    w: wt.data,
  };
}

/** `held`: the caller's arrays as validated, checked again after the async form's awaits (src/async-args.ts). */
interface Prepared {
  plan: TransposedPlan;
  finish: () => Tensor;
  held: HeldArgs;
}

function prepare(dims: 1 | 2, input: Tensor, weight: Tensor, options?: ConvTransposeOptions): Prepared {
  const n = normalizeTranspose(dims, input, weight, options);
  const { t } = n;
  const x = n.channelsLast ? channelsLastToFirst(n.x, t.N, t.H * t.W, t.C) : n.x;
  // An empty batch has an empty output and nothing to run.
  const plan =
    t.N === 0 ? { jobs: [], result: () => new Float32Array(0) } : planTransposed(t, x, n.w, n.bias, n.backend, n.algorithm);
  return {
    plan,
    finish: () => {
      const out = plan.result();
      return { data: n.channelsLast ? channelsFirstToLast(out, t.N, t.K, t.OH * t.OW) : out, shape: n.outShape };
    },
    held: [
      ['input', n.x, t.N * t.C * t.H * t.W],
      ['weight', n.w, t.C * (t.K / t.groups) * t.R * t.S],
      ['bias', n.bias, t.K],
    ],
  };
}

function run(job: Prepared): Tensor {
  for (const j of job.plan.jobs) runJob(j);
  return job.finish();
}

async function runAsync(job: Prepared, call: string): Promise<Tensor> {
  try {
    await Promise.all(job.plan.jobs.map(runJobAsync));
  } catch (e) {
    // The caller's names first: a backend names the arguments of the derived convolutions.
    checkAllIntact(call, job.held);
    throw e;
  }
  checkAllIntact(call, job.held);
  return job.finish();
}

/** PyTorch's conv_transpose2d: input [N, C, H, W] (or NHWC), weight [C, K/groups, R, S] -> [N, K, OH, OW]. */
export function convTranspose2d(input: Tensor, weight: Tensor, options?: ConvTransposeOptions): Tensor {
  return run(prepare(2, input, weight, options));
}

/** PyTorch's conv_transpose1d: input [N, C, W] (or NWC), weight [C, K/groups, R] -> [N, K, OW]. */
export function convTranspose1d(input: Tensor, weight: Tensor, options?: ConvTransposeOptions): Tensor {
  return run(prepare(1, input, weight, options));
}

export async function convTranspose2dAsync(input: Tensor, weight: Tensor, options?: ConvTransposeOptions): Promise<Tensor> {
  return runAsync(prepare(2, input, weight, options), 'convTranspose2dAsync');
}

export async function convTranspose1dAsync(input: Tensor, weight: Tensor, options?: ConvTransposeOptions): Promise<Tensor> {
  return runAsync(prepare(1, input, weight, options), 'convTranspose1dAsync');
}
