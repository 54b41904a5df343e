// One differential fuzz case: the call on every target x algorithm against the float64 reference, with
// NaN/±Inf positions exact and finite values within the tester's per-algorithm tolerance; `out`
// placement, result shape, and untouched inputs (hashed before and after) checked on every run.

import { convReference } from '../../src/backends/js.js';
import type { Algorithm } from '../../src/backends/types.js';
import { convolve, convolveAsync } from '../../src/conv.js';
import { conv1d, conv1dAsync, conv2d, conv2dAsync } from '../../src/index.node.js';
import { channelsLastToFirst } from '../../src/layout.js';
import type { ConvOptions, Tensor } from '../../src/shape.js';
import { normalizeConv } from '../../src/shape.js';
import { compare, describeParams, NORMWISE_TOLERANCE, planeSlack, TOLERANCE } from '../tester.js';
import type { FuzzCase } from './case.js';
import { buildCall, describeCase, makeOut } from './case.js';
import { hashBacking, hashView, WIDE_RANGE } from './data.js';
import type { Target } from './targets.js';
import { splitWasmCalls } from './targets.js';

/**
 * Where an algorithm legitimately cannot match the float64 reference, and why. Everything else must.
 * Winograd and FFT transform operands before multiplying: when |x|·|w| itself overflows float32 (the
 * 'overflow' data), the transformed products carry mixed signs and sum to Inf - Inf = NaN where the
 * reference (and PyTorch's direct and GEMM paths) give +Inf.
 */
export function exempt(c: FuzzCase, algo: Algorithm): string | null {
  const overflowing = c.xKind === 'overflow' && c.wKind === 'overflow';
  if (overflowing && (algo === 'winograd' || algo === 'fft')) return 'products overflow float32 inside a transform';
  return null;
}

/**
 * Extra error allowed per output, as a fraction of the largest S in its plane. Winograd and FFT mix every
 * value of a tile in their transforms, so their rounding error is normwise: with data spanning many
 * binades (or subnormal, with few significant bits) an output of small S next to large ones can miss the
 * pointwise bound by far while the plane as a whole is accurate to TOLERANCE. Exact orders get none.
 */
export function normwiseSlack(c: FuzzCase, algo: Algorithm): number {
  if (algo !== 'winograd' && algo !== 'fft') return NORMWISE_TOLERANCE[algo];
  const wide = WIDE_RANGE.has(c.xKind) || WIDE_RANGE.has(c.wKind);
  return wide ? Math.max(NORMWISE_TOLERANCE[algo], TOLERANCE[algo]) : NORMWISE_TOLERANCE[algo];
}

const FLT_TRUE_MIN = 2 ** -149;

function maxAbs(a: Float32Array | null): number {
  let m = 0;
  if (a) for (const v of a) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * Extra absolute error allowed for transforms of subnormal data: a transformed subnormal operand keeps
 * an absolute error of about FLT_TRUE_MIN per entry (few or no significant bits), multiplied by the other
 * operand over every tap and a tile's worth of transform coefficients. Exact orders multiply the
 * subnormal itself and need none.
 */
export function subnormalSlack(c: FuzzCase, algo: Algorithm, x: Float32Array, w: Float32Array, taps: number): number {
  if (algo !== 'winograd' && algo !== 'fft') return 0;
  if (!WIDE_RANGE.has(c.xKind) && !WIDE_RANGE.has(c.wKind)) return 0;
  return 256 * FLT_TRUE_MIN * taps * (maxAbs(x) + maxAbs(w));
}

/**
 * Winograd and FFT rounding is relative to the operands of a whole tile, not to any output's S: taps
 * that only ever meet the zero padding are absent from S but still pass through the transforms. Found
 * by this fuzzer: an output whose taps all fall in the padding (S = 0, exact answer 0) got ~1e-8·|x|·|w|
 * from FFT; a 1x3 'same' kernel on width 1 with a 5e11 weight on a padding-only tap gave errors of 2048
 * on outputs of S ~ 1e3 through Winograd. The tester's per-plane bound (a fraction of the plane's
 * largest S) cannot allow that; this bound is a fraction of terms·max|a|·max|b| instead.
 */
export function transformOperandSlack(algo: Algorithm, a: Float32Array, b: Float32Array, terms: number): number {
  return algo === 'fft' || algo === 'winograd' ? 1e-6 * terms * maxAbs(a) * maxAbs(b) : 0;
}

export interface CaseStats {
  runs: number;
  skipped: number;
}

type Runner = (x: Tensor, w: Tensor, o: ConvOptions) => Tensor | Promise<Tensor>;
const RUNNERS: Record<'1' | '2', { sync: Runner; async: Runner }> = {
  1: { sync: conv1d, async: conv1dAsync },
  2: { sync: conv2d, async: conv2dAsync },
};

/** [N, K, P] float64 -> [N, P, K]. */
function toChannelsLast(a: Float64Array, N: number, K: number, P: number): Float64Array {
  const b = new Float64Array(a.length);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) for (let q = 0; q < P; q++) b[(n * P + q) * K + k] = a[(n * K + k) * P + q];
  return b;
}

/** Failures go to `report` when given (survey mode: keep going), else throw. */
export type Reporter = (target: string, algo: Algorithm, message: string) => void;

export async function checkCase(c: FuzzCase, targets: readonly Target[], report?: Reporter): Promise<CaseStats> {
  const call = buildCall(c);
  const { input, weight, options } = call;
  const n = normalizeConv(c.dims, input, weight, options);
  const p = n.params;
  const P = p.OH * p.OW;
  const xFirst = c.channelsLast ? channelsLastToFirst(input.data, p.N, p.H * p.W, p.C) : input.data;
  const refFirst = convReference(p, xFirst, weight.data, n.bias);
  const scaleFirst = convReference(p, xFirst, weight.data, n.bias, true);
  const layoutOf = (a: Float64Array) => (c.channelsLast ? toChannelsLast(a, p.N, p.K, P) : a);
  const want = layoutOf(refFirst),
    scale = layoutOf(scaleFirst);
  const count = want.length;

  const tensors = [input.data, weight.data, n.bias];
  const before = tensors.map((t) => [hashView(t), hashBacking(t)].join());
  const run = RUNNERS[c.dims][c.async ? 'async' : 'sync'];
  const stats: CaseStats = { runs: 0, skipped: 0 };
  const where = () => `${describeParams(p)} layout ${options.layout}\ncase ${describeCase(c)}`;

  // A third of the cases run as a layer does, with a weight store: a miss that fills it, then the
  // checked call, which reuses the transformed weights.
  const stored = c.dataSeed % 3 === 0;
  // Half of the cases split every SIMD wasm call across the worker threads, however small.
  splitWasmCalls(c.dataSeed % 2 === 1);
  for (const t of targets) {
    t.path.enter();
    const store = stored ? t.path.backend.createWeightStore?.() : undefined;
    for (const algo of t.algorithms) {
      if (t.path.backend.supports(p, algo) !== null || exempt(c, algo) !== null) {
        stats.skipped++;
        continue;
      }
      const { out, backing } = makeOut(c.out, count);
      const label = `${t.label}/${algo}${c.async ? ' (async)' : ''}${store ? ' (weight store)' : ''}`;
      const opts: ConvOptions = { ...options, backend: t.choice, algorithm: algo, out };
      let result: Tensor;
      if (store) {
        const ctx = { store: () => store };
        const once = async () =>
          c.async ? (await convolveAsync(c.dims, input, weight, opts, ctx)).y : convolve(c.dims, input, weight, opts, ctx).y;
        await once();
        result = await once();
      } else {
        result = await run(input, weight, opts);
      }
      stats.runs++;
      if (result.shape.join() !== n.outShape.join())
        throw new Error(`${label}: shape [${result.shape}] instead of [${n.outShape}]\n${where()}`);
      if (result.data.length !== count)
        throw new Error(`${label}: ${result.data.length} outputs instead of ${count}\n${where()}`);
      if (out && backing) {
        if (result.data.buffer !== backing.buffer || result.data.byteOffset !== out.byteOffset) {
          throw new Error(`${label}: the result is not a view at the start of options.out\n${where()}`);
        }
        const start = out.byteOffset / 4;
        for (let i = 0; i < backing.length; i++) {
          if ((i < start || i >= start + count) && backing[i] !== Math.fround(-7.5e33)) {
            throw new Error(`${label}: wrote element ${i} of out's buffer, outside the ${count} results at ${start}\n${where()}`);
          }
        }
      }
      const hashes = tensors.map((t) => [hashView(t), hashBacking(t)].join());
      if (hashes.join() !== before.join())
        throw new Error(`${label}: modified its input, weight or bias (or memory around them)\n${where()}`);
      // Wide-range data: the bound is over the whole output, as the FFT pairs planes (groups, images)
      // in one complex transform and its rounding crosses between them.
      const wide = normwiseSlack(c, algo) > NORMWISE_TOLERANCE[algo];
      const slackFirst = planeSlack(scaleFirst, wide ? scaleFirst.length : P, normwiseSlack(c, algo));
      const taps = (p.C / p.groups) * p.R * p.S;
      const tiny =
        subnormalSlack(c, algo, input.data, weight.data, taps) + transformOperandSlack(algo, input.data, weight.data, taps);
      if (tiny > 0) for (let i = 0; i < slackFirst.length; i++) slackFirst[i] += tiny;
      const cmp = compare(result.data, want, scale, TOLERANCE[algo], layoutOf(slackFirst));
      if (!cmp.ok) {
        const m = cmp.mismatches
          .slice(0, 5)
          .map((x) => `  [${x.index}] got ${x.got} want ${x.want} (S=${x.scale})`)
          .join('\n');
        const msg = `${label}: ${cmp.mismatches.length} of ${count} outputs wrong (tolerance ${TOLERANCE[algo]} * S)\n${m}\n${where()}`;
        if (!report) throw new Error(msg);
        report(t.label, algo, msg);
      }
    }
  }
  return stats;
}
