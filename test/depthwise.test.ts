// The depthwise kernel family (algorithm 'direct', one input channel per group) on every backend x ISA
// path, against the float64 reference, on each of its code paths (DEPTHWISE_FAMILIES in tester.ts). The
// random shapes of conv.forward.test.ts are mostly narrower than one AVX-512 column block; these reach
// past two. neon.qemu.test.ts runs the same families on the NEON path.

import { afterAll, describe, expect, it } from 'vitest';
import { allPaths, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import { checkBackend, DEPTHWISE_FAMILIES, depthwiseProblem, formatFailure, TOLERANCE } from './tester.js';

afterAll(restoreNativeIsa);

const COUNT = 60;

for (const path of allPaths().filter((p) => p.label !== 'js')) {
  describe(path.label, () => {
    for (const [fi, family] of DEPTHWISE_FAMILIES.entries()) {
      it(`${family}: ${COUNT} random depthwise shapes within ${TOLERANCE.direct} * S`, () => {
        path.enter();
        let worst = 0;
        for (let i = 0; i < COUNT; i++) {
          const prob = depthwiseProblem(new Rng(7000 + 100 * fi + i), family);
          const c = checkBackend(path.backend, 'direct', prob, TOLERANCE.direct);
          if (!c.ok) expect.fail(formatFailure(`${path.label}/direct`, prob.p, c, prob.tag));
          worst = Math.max(worst, c.maxScaledErr);
        }
        expect(worst).toBeLessThanOrEqual(TOLERANCE.direct);
      });
    }
  });
}
