// Every backend x ISA path x algorithm against the float64 reference on hundreds of random shapes.
// (The js path is the reference itself; it is checked against PyTorch in golden.test.ts instead.)

import { afterAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../src/backends/types.js';
import { allPaths, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import type { ShapeSpace } from './tester.js';
import { convReference } from '../src/backends/js.js';
import type { ConvProblem } from './tester.js';
import { checkBackend, formatFailure, randomProblem, TOLERANCE } from './tester.js';

const SPACE: Record<Algorithm, ShapeSpace['kernel']> = { direct: 'any', im2col: 'any', winograd: '3x3s1', fft: 'stride1' };

const SMALL = 250;   // per path x algorithm
const LARGE = 12;    // channel counts past the GEMM blocking sizes, spatial sizes past one thread's share

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
      for (const [size, count, seed0] of [['small', SMALL, 1000], ['large', LARGE, 5000]] as const) {
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
