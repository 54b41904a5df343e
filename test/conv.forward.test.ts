// Every backend x ISA path x algorithm against the float64 reference on hundreds of random shapes.
// (The js path is the reference itself; it is checked against PyTorch in golden.test.ts instead.)

import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { Algorithm } from '../src/backends/types.js';
import { allPaths, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import type { ConvProblem, ShapeSpace } from './tester.js';
import {
  checkBackend,
  DEPTHWISE_FAMILIES,
  depthwiseProblem,
  formatFailure,
  randomProblem,
  relu6Problem,
  TOLERANCE,
} from './tester.js';

const SPACE: Record<Algorithm, ShapeSpace['kernel']> = { direct: 'any', im2col: 'any', winograd: '3x3s1', fft: 'stride1' };

const SMALL = 250; // per path x algorithm
const LARGE = 12; // channel counts past the GEMM blocking sizes, spatial sizes past one thread's share

afterAll(restoreNativeIsa);

// The float64 reference dominates the run time on large shapes: compute it once per problem and share
// it between every path and algorithm that draws the same seed.
const memo = new Map<string, { prob: ConvProblem; want: Float64Array; scale: Float64Array }>();
function problem(seed: number, kernel: ShapeSpace['kernel'], large: boolean) {
  const key = `${seed}/${kernel}/${large}`;
  let m = memo.get(key);
  if (!m) {
    const prob = randomProblem(new Rng(seed), { kernel, large });
    const { p, input, weight, bias } = prob;
    m = { prob, want: convReference(p, input, weight, bias), scale: convReference(p, input, weight, bias, true) };
    memo.set(key, m);
  }
  return m;
}

for (const path of allPaths().filter((p) => p.label !== 'js')) {
  describe(path.label, () => {
    for (const algo of path.backend.algorithms) {
      for (const [size, count, seed0] of [
        ['small', SMALL, 1000],
        ['large', LARGE, 5000],
      ] as const) {
        it(`${algo}: ${count} random ${size} shapes within ${TOLERANCE[algo]} * S`, () => {
          path.enter();
          let ran = 0;
          let worst = 0;
          for (let i = 0; i < count; i++) {
            const { prob, want, scale } = problem(seed0 + i, SPACE[algo], size === 'large');
            if (path.backend.supports(prob.p, algo) !== null) continue;
            const c = checkBackend(path.backend, algo, prob, TOLERANCE[algo], want, scale);
            if (!c.ok) expect.fail(formatFailure(`${path.label}/${algo}`, prob.p, c, prob.tag));
            worst = Math.max(worst, c.maxScaledErr);
            ran++;
          }
          // The shape space is drawn for this algorithm: most draws must apply, or the test proves nothing.
          expect(ran).toBeGreaterThanOrEqual(Math.ceil(count / 3));
          expect(worst).toBeLessThanOrEqual(TOLERANCE[algo]);
        });
      }
    }
  });
}

// ReLU6 (clamp(0, 6)) is fused where each engine fuses ReLU: every algorithm's epilogue, the depthwise
// kernels and the padding-only outputs. The draws are scaled so that outputs land on both sides of both
// bounds, and every third one carries a NaN, +Inf and -Inf input (positions checked exactly).
const RELU6 = 80;
const relu6Memo = new Map<string, { prob: ConvProblem; want: Float64Array; scale: Float64Array }>();
function relu6Case(key: string, make: () => ConvProblem) {
  let m = relu6Memo.get(key);
  if (!m) {
    const prob = make();
    const { p, input, weight, bias } = prob;
    m = { prob, want: convReference(p, input, weight, bias), scale: convReference(p, input, weight, bias, true) };
    relu6Memo.set(key, m);
  }
  return m;
}

for (const path of allPaths().filter((p) => p.label !== 'js')) {
  describe(`${path.label} relu6`, () => {
    const run = (label: string, algo: Algorithm, cases: { prob: ConvProblem; want: Float64Array; scale: Float64Array }[]) => {
      let ran = 0,
        clamped = 0,
        inside = 0,
        nonFinite = 0;
      for (const { prob, want, scale } of cases) {
        if (path.backend.supports(prob.p, algo) !== null) continue;
        const c = checkBackend(path.backend, algo, prob, TOLERANCE[algo], want, scale);
        if (!c.ok) expect.fail(formatFailure(`${path.label}/${algo} ${label}`, prob.p, c, prob.tag));
        for (const v of want) {
          if (v === 6) clamped++;
          else if (v > 0 && v < 6) inside++;
          else if (Number.isNaN(v)) nonFinite++;
        }
        ran++;
      }
      expect(ran).toBeGreaterThanOrEqual(Math.ceil(cases.length / 3));
      // Both bounds and the interior were exercised, and some NaN reached an output.
      expect(clamped).toBeGreaterThan(0);
      expect(inside).toBeGreaterThan(0);
      expect(nonFinite).toBeGreaterThan(0);
    };
    for (const algo of path.backend.algorithms) {
      it(`${algo}: ${RELU6} random shapes with relu6 (NaN/Inf in a third) within ${TOLERANCE[algo]} * S`, () => {
        path.enter();
        // The seeds of the tests above (small, then large), so each relu6 case is a shape they pass without it.
        const cases = Array.from({ length: RELU6 }, (_, i) =>
          relu6Case(`${algo}/${i}`, () => {
            const large = i >= RELU6 - LARGE,
              rng = new Rng(large ? 5000 + i - (RELU6 - LARGE) : 1000 + i);
            return relu6Problem(randomProblem(rng, { kernel: SPACE[algo], large }), rng, i % 3 === 0);
          })
        );
        run('relu6', algo, cases);
      });
    }
    it('rejects relu6 without relu (an upper bound with no ReLU is no activation the API has)', () => {
      path.enter();
      const { prob } = relu6Case('reject', () => relu6Problem(randomProblem(new Rng(1001), { kernel: 'any' }), new Rng(1)));
      const p = { ...prob.p, relu: false, relu6: true };
      const out = new Float32Array(p.N * p.K * p.OH * p.OW);
      expect(() => path.backend.conv2d(p, prob.input, prob.weight, prob.bias, out, 'direct')).toThrow(/relu6/);
    });
    it('depthwise kernel families with relu6 (direct)', () => {
      path.enter();
      for (const family of DEPTHWISE_FAMILIES) {
        const cases = Array.from({ length: 12 }, (_, i) =>
          relu6Case(`dw/${family}/${i}`, () => {
            const rng = new Rng(8000 + i);
            return relu6Problem(depthwiseProblem(rng, family), rng, i % 3 === 0);
          })
        );
        run(`depthwise ${family}`, 'direct', cases);
      }
    });
  });
}

// A dilated window can straddle an input narrower than its dilation with every tap in the padding on
// either side: such outputs are exactly relu(bias), and the transforms of Winograd and FFT must not
// leave their rounding noise there (S = |bias| has no room for it). Seed 7002 of the stride-1 space
// drew one (N2 C9 1x1, K9 4x4 groups 9 dilation 3, pads [4,5,4,5]) that native FFT got wrong.
describe('outputs whose dilated taps all miss the input', () => {
  const cases = (): ConvProblem[] => {
    const out: ConvProblem[] = [randomProblem(new Rng(7002), { kernel: 'stride1' })];
    const rng = new Rng(77);
    for (const [H, W, R, S, d, pad, groups] of [
      [1, 1, 4, 4, 3, [4, 5, 4, 5], 9],
      [2, 1, 3, 3, 4, [4, 4, 4, 4], 1],
      [1, 3, 2, 3, 2, [1, 1, 2, 2], 1],
      [2, 2, 3, 3, 3, [3, 3, 3, 3], 3],
      [1, 5, 1, 7, 6, [0, 0, 20, 16], 1],
    ] as const) {
      const C = 9,
        K = 9,
        N = 2;
      const OH = H + pad[0] + pad[1] - d * (R - 1),
        OW = W + pad[2] + pad[3] - d * (S - 1);
      const p = {
        N,
        C,
        H,
        W,
        K,
        R,
        S,
        groups,
        strideH: 1,
        strideW: 1,
        dilationH: d,
        dilationW: d,
        padTop: pad[0],
        padBottom: pad[1],
        padLeft: pad[2],
        padRight: pad[3],
        OH,
        OW,
        relu: false,
      };
      out.push({
        p,
        input: rng.floats(N * C * H * W),
        weight: rng.floats(K * (C / groups) * R * S),
        bias: rng.floats(K),
        tag: `gap ${H}x${W} d${d}`,
      });
    }
    return out;
  };
  for (const path of allPaths().filter((q) => q.label !== 'js')) {
    it(`${path.label}: every algorithm that applies gives relu(bias) exactly there`, () => {
      path.enter();
      let ran = 0;
      for (const prob of cases()) {
        for (const algo of path.backend.algorithms) {
          if (path.backend.supports(prob.p, algo) !== null) continue;
          const c = checkBackend(path.backend, algo, prob);
          if (!c.ok) expect.fail(formatFailure(`${path.label}/${algo}`, prob.p, c, prob.tag));
          ran++;
        }
      }
      expect(ran).toBeGreaterThan(6);
    });
  }
});
