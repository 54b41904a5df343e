// Each engine's own rules against what its kernels really do: on every native ISA path and every wasm
// build, for random shapes drawn around the algorithms' limits (kernel sizes, 1x3 kernels with a
// vertical stride, dilation, wide padding, groups, depthwise), an algorithm that supports() allows
// must run and match the float64 reference, one it refuses must throw a RangeError with the same
// sentence, and choose() must name an algorithm that supports() allows. The rules live in the
// engines (native/conv/conv.cc and choose.cc, assembly/choose.ts); this test only asks them.

import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { Algorithm, Backend, ConvParams } from '../src/backends/types.js';
import { allPaths, expectNative, nativeBackend, nativeOnly, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import type { ConvProblem } from './tester.js';
import { checkBackend, describeParams, formatFailure, TOLERANCE } from './tester.js';

afterAll(restoreNativeIsa);

const outSize = (n: number, p0: number, p1: number, d: number, k: number, s: number) =>
  Math.floor((n + p0 + p1 - d * (k - 1) - 1) / s) + 1;

/** Builds a ConvParams with PyTorch's output size; null where the window does not fit. */
function conv(o: Omit<ConvParams, 'OH' | 'OW'>): ConvParams | null {
  const OH = outSize(o.H, o.padTop, o.padBottom, o.dilationH, o.R, o.strideH);
  const OW = outSize(o.W, o.padLeft, o.padRight, o.dilationW, o.S, o.strideW);
  return OH >= 1 && OW >= 1 ? { ...o, OH, OW } : null;
}

/** A shape near some algorithm's limit, small enough for the float64 reference. */
function edgeShape(rng: Rng): ConvParams {
  for (;;) {
    const kind = rng.pick(['3x3', '3x3', '1x3', '1x3', 'large2d', 'large1d', 'other']);
    const [R, S] =
      kind === '3x3'
        ? [3, 3]
        : kind === '1x3'
          ? [1, 3]
          : kind === 'large2d'
            ? [rng.pick([5, 7]), rng.pick([5, 7])]
            : kind === 'large1d'
              ? [1, rng.pick([9, 17, 33])]
              : [rng.pick([1, 2, 4]), rng.pick([1, 2, 3, 5])];
    const stride = () => (rng.chance(0.35) ? rng.int(2, 3) : 1);
    const dilation = () => (rng.chance(0.3) ? rng.int(2, 3) : 1);
    const strideH = stride(),
      strideW = stride(),
      dilationH = dilation(),
      dilationW = dilation();
    // Wide padding (past the dilated kernel) leaves outputs that see only padding.
    const pad = (k: number, d: number) => (rng.chance(0.25) ? rng.int(0, d * (k - 1) + 2) : rng.int(0, (d * (k - 1)) >> 1));
    const depthwise = rng.chance(0.15);
    const groups = depthwise ? rng.int(2, 6) : rng.pick([1, 1, 1, 2]);
    const Cg = depthwise ? 1 : rng.pick([1, 3, 5, 16, 18]),
      Kg = depthwise ? rng.pick([1, 2]) : rng.pick([1, 4, 16, 17]);
    const H = R === 1 && rng.chance(0.5) ? 1 : rng.int(1, 14),
      W = rng.int(1, kind === 'large1d' ? 60 : 16);
    const p = conv({
      N: rng.pick([1, 2]),
      C: groups * Cg,
      H,
      W,
      K: groups * Kg,
      R,
      S,
      groups,
      strideH,
      strideW,
      dilationH,
      dilationW,
      padTop: pad(R, dilationH),
      padBottom: pad(R, dilationH),
      padLeft: pad(S, dilationW),
      padRight: pad(S, dilationW),
      relu: rng.chance(0.3),
    });
    if (p && p.N * p.K * Cg * R * S * p.OH * p.OW <= 2e6) return p;
  }
}

const COUNT = 200;
const memo: { prob: ConvProblem; want: Float64Array; scale: Float64Array }[] = [];
function problem(i: number) {
  if (!memo[i]) {
    const rng = new Rng(7100 + i);
    const p = edgeShape(rng);
    const input = rng.floats(p.N * p.C * p.H * p.W),
      weight = rng.floats(p.K * (p.C / p.groups) * p.R * p.S);
    const bias = rng.chance(0.7) ? rng.floats(p.K) : null;
    memo[i] = {
      prob: { p, input, weight, bias, tag: `seed ${7100 + i}` },
      want: convReference(p, input, weight, bias),
      scale: convReference(p, input, weight, bias, true),
    };
  }
  return memo[i];
}

function refusal(be: Backend, p: ConvParams, algo: Algorithm): unknown {
  try {
    be.conv2d(
      p,
      new Float32Array(p.N * p.C * p.H * p.W),
      new Float32Array(p.K * (p.C / p.groups) * p.R * p.S),
      null,
      new Float32Array(p.N * p.K * p.OH * p.OW),
      algo
    );
  } catch (e) {
    return e;
  }
  return null;
}

for (const path of allPaths().filter((q) => q.backend.name !== 'js')) {
  describe(path.label, () => {
    it(`supports() and choose() agree with the kernels on ${COUNT} shapes around the algorithms' limits`, () => {
      path.enter();
      const be = path.backend;
      const ran: Record<string, number> = {},
        refused: Record<string, number> = {};
      for (let i = 0; i < COUNT; i++) {
        const { prob, want, scale } = problem(i);
        const p = prob.p,
          label = `${path.label} ${prob.tag} ${describeParams(p)}`;
        for (const algo of be.algorithms) {
          const why = be.supports(p, algo);
          if (why === null) {
            const c = checkBackend(be, algo, prob, TOLERANCE[algo], want, scale);
            if (!c.ok) expect.fail(formatFailure(`${path.label}/${algo} (supports() allowed it)`, p, c, prob.tag));
            ran[algo] = (ran[algo] ?? 0) + 1;
          } else {
            expect(why.length, `${label} ${algo}`).toBeGreaterThan(10);
            const e = refusal(be, p, algo);
            expect(e, `${label}: ${algo} refused (${why}) but ran`).toBeInstanceOf(RangeError);
            expect((e as Error).message, label).toContain(why);
            refused[algo] = (refused[algo] ?? 0) + 1;
          }
        }
        const choice = be.choose(p);
        expect(be.supports(p, choice.algorithm), `${label}: chose ${choice.algorithm}`).toBeNull();
        expect(choice.reason.length, label).toBeGreaterThan(10);
      }
      // The draw reaches both sides of every shape-limited algorithm.
      for (const algo of ['winograd', 'fft']) {
        expect(ran[algo] ?? 0, `${algo} ran`).toBeGreaterThanOrEqual(5);
        expect(refused[algo] ?? 0, `${algo} refused`).toBeGreaterThanOrEqual(5);
      }
      expect((ran.direct ?? 0) + (ran.im2col ?? 0)).toBe(2 * COUNT);
    });
  });
}

describe('choose() follows the knobs', () => {
  for (const path of allPaths().filter((q) => q.backend.name !== 'js')) {
    it.skipIf(path.backend.name === 'native' && !expectNative)(
      `${path.label}: a forced Winograd tile shows in the next choice of the same shape`,
      () => {
        path.enter();
        const be = path.backend;
        const p = conv({
          N: 1,
          C: 64,
          H: 56,
          W: 56,
          K: 64,
          R: 3,
          S: 3,
          groups: 1,
          strideH: 1,
          strideW: 1,
          dilationH: 1,
          dilationW: 1,
          padTop: 1,
          padBottom: 1,
          padLeft: 1,
          padRight: 1,
          relu: false,
        })!;
        try {
          for (const tile of [4, 2, 4]) {
            be.setKnob!('winogradTile', tile);
            const c = be.choose(p);
            expect(c.algorithm).toBe('winograd');
            expect(c.reason).toContain(tile === 4 ? 'F(4x4,3x3)' : 'F(2x2,3x3)');
            expect(be.winogradTile!(p)).toBe(tile);
          }
        } finally {
          be.setKnob!('winogradTile', 0);
        }
        expect(() => be.setKnob!('winogradTile', 3)).toThrow(RangeError);
        expect(() => be.setKnob!('noSuchKnob' as never, 1)).toThrow(RangeError);
      }
    );
  }
});

// The 1x3 Winograd rule differs by engine, each by what its kernel handles: the native driver steps
// input rows by the vertical stride, the wasm module's planes hold one input row per output row.
describe('1x3 Winograd with a vertical stride', () => {
  const p = conv({
    N: 1,
    C: 6,
    H: 11,
    W: 13,
    K: 5,
    R: 1,
    S: 3,
    groups: 1,
    strideH: 2,
    strideW: 1,
    dilationH: 1,
    dilationW: 1,
    padTop: 1,
    padBottom: 0,
    padLeft: 1,
    padRight: 1,
    relu: false,
  })!;
  const rng = new Rng(7300);
  const prob: ConvProblem = {
    p,
    input: rng.floats(6 * 11 * 13),
    weight: rng.floats(5 * 6 * 3),
    bias: rng.floats(5),
    tag: 'seed 7300',
  };

  it.skipIf(!expectNative)(nativeOnly('native runs it and matches the reference'), () => {
    restoreNativeIsa();
    const be = nativeBackend();
    expect(be.supports(p, 'winograd')).toBeNull();
    const c = checkBackend(be, 'winograd', prob);
    if (!c.ok) expect.fail(formatFailure('native/winograd 1x3 strideH 2', p, c));
  });

  it('wasm refuses it and says why', () => {
    for (const path of allPaths().filter((q) => q.label.startsWith('wasm'))) {
      const why = path.backend.supports(p, 'winograd');
      expect(why, path.label).toMatch(/stride 1; got 1x3 stride 2x1/);
      expect(() =>
        path.backend.conv2d(p, prob.input, prob.weight, prob.bias, new Float32Array(5 * p.OH * p.OW), 'winograd')
      ).toThrow(RangeError);
    }
  });
});
