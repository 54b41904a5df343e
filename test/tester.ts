// The one parameterized convolution tester: every backend x ISA path x algorithm is checked against the
// float64 reference (src/backends/js.ts) through it. Error bounds are relative to S = conv(|x|,|w|)+|b|,
// the natural scale of rounding error in any summation order.

import { convReference } from '../src/backends/js.js';
import type { Algorithm, Backend, ConvParams } from '../src/backends/types.js';
import type { ConvOptions } from '../src/shape.js';
import { normalizeConv, resolvePadding } from '../src/shape.js';
import type { Rng } from './random.js';

/**
 * Allowed |got - ref| / S per algorithm. Direct and GEMM paths sum in float32 in some blocked order:
 * observed errors are ~1e-7, the bound leaves room for long reductions. Winograd and FFT round in their
 * transforms, which grow with tile size (Lavin & Gray; F(4x4,3x3) loses about 3 bits more than F(2x2,3x3)).
 */
export const TOLERANCE: Record<Algorithm, number> = {
  direct: 1e-5,
  im2col: 1e-5,
  winograd: 1e-4,
  fft: 1e-4,
};

/**
 * An FFT's rounding error is normwise: about 1e-7 of the largest S in its tile, not of each output's own
 * S, so an output of tiny S beside much larger ones can miss the pointwise bound. For such algorithms the
 * allowed error also includes this fraction of the largest S of the same output plane.
 */
export const NORMWISE_TOLERANCE: Record<Algorithm, number> = { direct: 0, im2col: 0, winograd: 0, fft: 1e-6 };

/** Per-element additive slack: `frac` x the largest S of each [OH x OW] output plane. */
export function planeSlack(scale: ArrayLike<number>, planeSize: number, frac: number): Float64Array {
  const slack = new Float64Array(scale.length);
  if (frac === 0) return slack;
  for (let base = 0; base < scale.length; base += planeSize) {
    let m = 0;
    for (let i = base; i < base + planeSize; i++) if (Number.isFinite(scale[i])) m = Math.max(m, scale[i]);
    slack.fill(frac * m, base, base + planeSize);
  }
  return slack;
}

export interface Mismatch {
  index: number;
  got: number;
  want: number;
  scale: number;
}

export interface Comparison {
  ok: boolean;
  maxScaledErr: number;
  mismatches: Mismatch[];
  checked: number;
}

const FLT_MAX = 3.4028234663852886e38;

/**
 * NaN and ±Inf must sit exactly where the reference has them; finite values must be within tol * S.
 * A float64 reference beyond float32 range may legitimately round to ±Inf.
 */
export function compare(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  scale: ArrayLike<number>,
  tol: number,
  slack?: ArrayLike<number>
): Comparison {
  const mismatches: Mismatch[] = [];
  let maxScaledErr = 0;
  if (got.length !== want.length) {
    return {
      ok: false,
      maxScaledErr: Infinity,
      mismatches: [{ index: -1, got: got.length, want: want.length, scale: 0 }],
      checked: 0,
    };
  }
  for (let i = 0; i < want.length; i++) {
    const g = got[i],
      w = want[i],
      s = scale[i],
      extra = slack ? slack[i] : 0;
    let bad: boolean;
    if (Number.isNaN(w)) bad = !Number.isNaN(g);
    else if (!Number.isFinite(w)) bad = g !== w;
    else if (Math.abs(w) > FLT_MAX) bad = !(g === Math.sign(w) * Infinity || Math.abs(g - w) <= tol * s);
    else {
      const e = Math.abs(g - w);
      bad = !(e <= tol * s + extra + 1e-30);
      if (Number.isFinite(s) && s > 0 && Number.isFinite(e)) maxScaledErr = Math.max(maxScaledErr, Math.max(0, e - extra) / s);
    }
    if (bad) mismatches.push({ index: i, got: g, want: w, scale: s });
  }
  return { ok: mismatches.length === 0, maxScaledErr, mismatches, checked: want.length };
}

export function describeParams(p: ConvParams): string {
  return (
    `N${p.N} C${p.C} ${p.H}x${p.W} -> K${p.K} k${p.R}x${p.S} g${p.groups} s${p.strideH},${p.strideW} ` +
    `d${p.dilationH},${p.dilationW} pad[${p.padTop},${p.padBottom},${p.padLeft},${p.padRight}] out ${p.OH}x${p.OW}` +
    (p.relu6 ? ' relu6' : p.relu ? ' relu' : '')
  );
}

export function formatFailure(label: string, p: ConvParams, c: Comparison, extra = ''): string {
  const m = c.mismatches
    .slice(0, 5)
    .map((x) => `  [${x.index}] got ${x.got} want ${x.want} (S=${x.scale})`)
    .join('\n');
  return `${label}: ${describeParams(p)} ${extra}\n${c.mismatches.length} of ${c.checked} outside tolerance:\n${m}`;
}

export interface ConvProblem {
  p: ConvParams;
  input: Float32Array;
  weight: Float32Array;
  bias: Float32Array | null;
  /** Human-readable origin (seed or golden name) for failure messages. */
  tag: string;
}

/** Runs one problem on one backend/algorithm and compares with the reference; also checks inputs are untouched. */
export function checkBackend(
  backend: Backend,
  algo: Algorithm,
  prob: ConvProblem,
  tol = TOLERANCE[algo],
  want?: Float64Array,
  scale?: Float64Array
): Comparison {
  const { p, input, weight, bias } = prob;
  const ref = want ?? convReference(p, input, weight, bias);
  const S = scale ?? convReference(p, input, weight, bias, true);
  const copies = [input.slice(), weight.slice(), bias?.slice()];
  // A sentinel that no correct kernel leaves behind: an output element a kernel forgets to write fails.
  const out = new Float32Array(ref.length).fill(-7.5e33);
  backend.conv2d(p, input, weight, bias, out, algo);
  const c = compare(out, ref, S, tol, planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo]));
  const same = (a: Float32Array, b: Float32Array | undefined) => !!b && a.every((v, i) => Object.is(v, b[i]));
  if (!same(input, copies[0]) || !same(weight, copies[1]) || (bias && !same(bias, copies[2]))) {
    c.ok = false;
    c.mismatches.unshift({ index: -1, got: NaN, want: NaN, scale: 0 });
    throw new Error(`${backend.name}/${algo} modified its input: ${prob.tag} ${describeParams(p)}`);
  }
  return c;
}

export interface ShapeSpace {
  /** Restrict to shapes an algorithm applies to. */
  kernel?: 'any' | '3x3s1' | 'stride1';
  /** Allow larger channel/spatial sizes (exercises GEMM blocking, thread splits). */
  large?: boolean;
  oneD?: boolean | 'both';
}

/**
 * A random convolution call: options in every accepted form (int / per-dim / explicit asymmetric padding,
 * 'same', 'valid'; groups incl. depthwise and channel multipliers; stride; dilation; bias; relu; batch > 1),
 * normalized through the public argument checker so the tested params are exactly what users produce.
 */
export function randomCall(rng: Rng, space: ShapeSpace = {}) {
  const dims: 1 | 2 = space.oneD === true ? 1 : space.oneD === false ? 2 : rng.chance(0.3) ? 1 : 2;
  const large = !!space.large;
  const N = rng.pick([1, 1, 2, 3]);
  const kind = rng.pick(['dense', 'dense', 'dense', 'groups', 'depthwise']);
  let groups = 1,
    Cg: number,
    Kg: number;
  if (kind === 'depthwise') {
    Cg = 1;
    groups = rng.int(1, large ? 24 : 9);
    Kg = rng.pick([1, 1, 2, 3]);
  } else if (kind === 'groups') {
    groups = rng.int(2, 4);
    Cg = rng.int(1, large ? 24 : 5);
    Kg = rng.int(1, large ? 24 : 5);
  } else {
    Cg = rng.int(1, large ? 70 : 9);
    Kg = rng.int(1, large ? 70 : 9);
  }
  const C = Cg * groups,
    K = Kg * groups;
  const kernelKind = space.kernel ?? 'any';
  const kdim = () => (kernelKind === '3x3s1' ? 3 : rng.pick([1, 1, 2, 3, 3, 3, 4, 5, 7]));
  const kernel = Array.from({ length: dims }, kdim);
  const strided = kernelKind === 'any' && rng.chance(0.35);
  const stride = kernel.map(() => (strided ? rng.int(1, 3) : 1));
  const dilated = kernelKind !== '3x3s1' && rng.chance(0.25);
  const dilation = kernel.map(() => (dilated ? rng.int(1, 3) : 1));
  const allStride1 = stride.every((s) => s === 1);
  const padForm = rng.pick(['int', 'perdim', 'explicit', 'same', 'valid', 'none']);
  let padding: ConvOptions['padding'];
  switch (padForm) {
    case 'int':
      padding = rng.int(0, 3);
      break;
    case 'perdim':
      padding = kernel.map(() => rng.int(0, 3));
      break;
    case 'explicit':
      padding = Array.from({ length: 2 * dims }, () => rng.int(0, 4));
      break;
    case 'same':
      padding = allStride1 ? 'same' : rng.int(0, 2);
      break;
    case 'valid':
      padding = 'valid';
      break;
    default:
      padding = undefined;
  }
  // Spatial sizes: just large enough for the dilated kernel after padding (sometimes exactly the minimum,
  // sometimes smaller than the kernel itself), else a random, often odd, excess.
  const pads = resolvePadding(padding, dims, kernel, dilation, stride);
  const spatial = kernel.map((k, i) => {
    const eff = dilation[i] * (k - 1) + 1;
    const extra = rng.chance(0.15) ? 0 : rng.int(0, large ? 40 : 13);
    return Math.max(1, eff - pads[i][0] - pads[i][1]) + extra;
  });
  const channelsLast = rng.chance(0.2);
  const inputShape = channelsLast ? [N, ...spatial, C] : [N, C, ...spatial];
  const weightShape = [K, Cg, ...kernel];
  const options: ConvOptions = {
    stride: rng.chance(0.5) ? stride : stride[0] === stride[dims - 1] ? stride[0] : stride,
    dilation: rng.chance(0.5) ? dilation : dilation[0] === dilation[dims - 1] ? dilation[0] : dilation,
    padding,
    groups,
    layout: dims === 2 ? (channelsLast ? 'NHWC' : 'NCHW') : channelsLast ? 'NWC' : 'NCW',
    activation: rng.chance(0.3) ? 'relu' : 'none',
  };
  const input = { data: rng.floats(inputShape.reduce((a, b) => a * b, 1)), shape: inputShape };
  const weight = { data: rng.floats(weightShape.reduce((a, b) => a * b, 1)), shape: weightShape };
  const bias = rng.chance(0.7) ? rng.floats(K) : undefined;
  if (bias) options.bias = bias;
  return { dims, input, weight, options };
}

/** A random call as a backend-level problem (NCHW data; channels-last inputs are not produced here). */
export function randomProblem(rng: Rng, space: ShapeSpace = {}): ConvProblem {
  for (;;) {
    const seedTag = `seed ${rng.seed}`;
    const call = randomCall(rng, space);
    if (call.options.layout === 'NHWC' || call.options.layout === 'NWC') continue;
    const n = normalizeConv(call.dims, call.input, call.weight, call.options);
    if (space.kernel === 'stride1' && (n.params.strideH !== 1 || n.params.strideW !== 1)) continue;
    return { p: n.params, input: call.input.data, weight: call.weight.data, bias: n.bias, tag: seedTag };
  }
}

/**
 * The depthwise kernel family's code paths (native kernels/depthwise_*.inc, assembly/ depthwise):
 * 3x3 stride 1 read in place (zero padding from load masks and a zero row); dense 3x3 / 5x5 windows in
 * phase space (stride 2 with dilation 2; 5x5 stride 1); any other tap set (2x2, 4x4, 7x7, strided,
 * dilated).
 */
export const DEPTHWISE_FAMILIES = ['inplace3x3', 'grid3x3s2d2', 'grid5x5', 'taps'] as const;
export type DepthwiseFamily = (typeof DEPTHWISE_FAMILIES)[number];

/**
 * A random depthwise problem of one family: widths up to ~150 cross every vector and column-block edge
 * (AVX-512 blocks are 64 columns, AVX2 16, NEON 8), padding asymmetric up to 4, channel multipliers,
 * batch 2, bias and ReLU.
 */
export function depthwiseProblem(rng: Rng, family: DepthwiseFamily): ConvProblem {
  const N = rng.pick([1, 1, 2]);
  const C = rng.int(1, 5),
    mult = rng.pick([1, 1, 2, 3]);
  const k = family === 'grid5x5' ? 5 : family === 'taps' ? rng.pick([2, 4, 7]) : 3;
  const stride = family === 'grid3x3s2d2' ? 2 : family === 'taps' ? rng.int(1, 3) : 1;
  const dilation = family === 'grid3x3s2d2' ? 2 : family === 'taps' ? rng.int(1, 2) : 1;
  const padding = [rng.int(0, 4), rng.int(0, 4), rng.int(0, 4), rng.int(0, 4)];
  const eff = dilation * (k - 1) + 1;
  const H = Math.max(1, eff - padding[0] - padding[1]) + rng.int(0, 19);
  const W = Math.max(1, eff - padding[2] - padding[3]) + rng.int(0, 150);
  const input = { data: rng.floats(N * C * H * W), shape: [N, C, H, W] };
  const weight = { data: rng.floats(C * mult * k * k), shape: [C * mult, 1, k, k] };
  const bias = rng.chance(0.7) ? rng.floats(C * mult) : undefined;
  const n = normalizeConv(2, input, weight, {
    stride,
    dilation,
    padding,
    groups: C,
    bias,
    activation: rng.chance(0.3) ? 'relu' : 'none',
  });
  return { p: n.params, input: input.data, weight: weight.data, bias: n.bias, tag: `${family} seed ${rng.seed}` };
}

/**
 * The problem with ReLU6 fused and its input and bias scaled so that the outputs straddle both bounds
 * (the mean of S becomes 8: the usual shapes' outputs stay well inside [-6, 6] otherwise, and a clamp at
 * 6 that never fires proves nothing). With `nonFinite`, one input each is NaN, +Inf and -Inf, so the
 * engines' non-finite paths run and the clamp's NaN/Inf handling shows in the exact-position check.
 */
export function relu6Problem(prob: ConvProblem, rng: Rng, nonFinite = false): ConvProblem {
  const p: ConvParams = { ...prob.p, relu: true, relu6: true };
  const S = convReference(p, prob.input, prob.weight, prob.bias, true);
  let mean = 0;
  for (let i = 0; i < S.length; i++) mean += S[i] / S.length;
  const f = mean > 0 ? 8 / mean : 1;
  const input = prob.input.map((v) => v * f);
  const bias = prob.bias ? prob.bias.map((v) => v * f) : null;
  if (nonFinite) for (const v of [NaN, Infinity, -Infinity]) input[rng.int(0, input.length - 1)] = v;
  return { p, input, weight: prob.weight, bias, tag: `${prob.tag} relu6${nonFinite ? ' non-finite' : ''}` };
}
