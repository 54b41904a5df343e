// The depthwise kernel family (algorithm 'direct', one input channel per group) on every backend x ISA
// path, against the float64 reference, on each of its code paths (DEPTHWISE_FAMILIES in tester.ts). The
// random shapes of conv.forward.test.ts are mostly narrower than one AVX-512 column block; these reach
// past two. neon.qemu.test.ts runs the same families on the NEON path.

import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { setNumThreads } from '../src/index.node.js';
import { normalizeConv } from '../src/shape.js';
import { allPaths, expectNative, nativeOnly, nativePaths, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import type { ConvProblem } from './tester.js';
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

// Layers big enough to split: the planes go to the pool in runs (split_planes in native/conv/depthwise.cc);
// 74 planes in runs of 4 leave a short last run, and the channel multiplier spans output channels.
function splitProblem(rng: Rng, H: number, stride: number): ConvProblem {
  const N = 2,
    C = 37,
    mult = 3;
  const input = { data: rng.floats(N * C * H * H), shape: [N, C, H, H] };
  const weight = { data: rng.floats(C * mult * 9), shape: [C * mult, 1, 3, 3] };
  const bias = rng.floats(C * mult);
  const n = normalizeConv(2, input, weight, { stride, padding: 1, groups: C, bias, activation: 'relu' });
  return { p: n.params, input: input.data, weight: weight.data, bias: n.bias, tag: `split seed ${rng.seed}` };
}

describe.skipIf(!expectNative)(nativeOnly('native depthwise split across threads'), () => {
  for (const path of nativePaths()) {
    it(`${path.label}: depthwise layers past the split size run on 2 threads, in place and in phase space`, () => {
      path.enter();
      setNumThreads(2);
      try {
        for (const [i, [H, stride]] of [
          [72, 1],
          [144, 2],
        ].entries()) {
          const prob = splitProblem(new Rng(7900 + i), H, stride);
          expect(path.backend.threadsFor!(prob.p, 'direct')).toBe(2);
          const c = checkBackend(path.backend, 'direct', prob, TOLERANCE.direct);
          if (!c.ok) expect.fail(formatFailure(`${path.label}/direct`, prob.p, c, prob.tag));
        }
      } finally {
        setNumThreads(os.availableParallelism());
      }
    });
  }
});
