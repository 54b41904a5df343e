// Differential fuzzing (fast-check): random conv1d/conv2d configurations and edge-value data on every
// backend x ISA path x algorithm against the float64 reference, forward and backward.
// `npm test` runs a fixed-seed batch; on failure fast-check prints the seed and the shrunk case, and
//   FASTCONV_FUZZ_SEED=<seed> npx vitest run --config test/vitest.config.ts test/fuzz.test.ts
// replays it. `npm run fuzz -- --minutes N [--seed S]` (test/fuzz/run.mjs) runs longer with fresh seeds.

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBackwardCase } from './fuzz/backward.js';
import { fuzzCaseArb } from './fuzz/case.js';
import { checkCase } from './fuzz/check.js';
import { fuzzTargets, splitWasmCalls } from './fuzz/targets.js';
import { expectNative, restoreNativeIsa } from './paths.js';

const env = process.env;
const SEED = env.FASTCONV_FUZZ_SEED ? Number(env.FASTCONV_FUZZ_SEED) : 20261127;
/** Long runs (npm run fuzz): keep drawing fresh batches until this many minutes have passed. */
const MINUTES = env.FASTCONV_FUZZ_MINUTES ? Number(env.FASTCONV_FUZZ_MINUTES) : 0;
const FORWARD_CASES = 2000;
const BACKWARD_CASES = 300;

afterAll(restoreNativeIsa);

const targets = fuzzTargets();

/** Runs `cases` per batch from `seed`, then (long mode) fresh seeds until the deadline. */
async function fuzz(name: string, cases: number, property: fc.IAsyncProperty<[unknown]> | fc.IAsyncPropertyWithHooks<never>) {
  const deadline = Date.now() + MINUTES * 60_000;
  let seed = SEED,
    total = 0;
  do {
    // endOnFailure off: fast-check shrinks the failing case, then throws with seed, path and counterexample.
    await fc.assert(property as fc.IAsyncProperty<[unknown]>, { seed, numRuns: cases });
    total += cases;
    seed = (seed * 1103515245 + 12345) >>> 0;
  } while (Date.now() < deadline);
  if (MINUTES > 0) console.log(`fuzz ${name}: ${total} cases passed (first seed ${SEED})`);
  return total;
}

describe('differential fuzzing', () => {
  it('fuzzes the native addon exactly when the run has it', () => {
    expect(targets.some((t) => t.choice === 'native')).toBe(expectNative);
  });

  it(
    `forward: ${FORWARD_CASES} random cases x ${targets.length} paths x every algorithm (seed ${SEED})`,
    async () => {
      let runs = 0;
      const property = fc.asyncProperty(fuzzCaseArb, async (c) => {
        runs += (await checkCase(c, targets)).runs;
      });
      const cases = await fuzz('forward', FORWARD_CASES, property);
      // Half of the cases ran the SIMD wasm paths split across worker threads (Node always has them).
      const threaded = splitWasmCalls(false);
      console.log(
        `fuzz forward: ${cases} cases, ${runs} path x algorithm runs; wasm backends split across threads in half of them: ${threaded}`
      );
      if (targets.some((t) => t.choice === 'wasm-simd')) expect(threaded).toBeGreaterThanOrEqual(1);
      // Every path runs every case at least once ('direct' applies to any shape), or the batch proves little.
      expect(runs).toBeGreaterThanOrEqual(cases * targets.length);
    },
    MINUTES * 60_000 + 240_000
  );

  it(
    `backward: ${BACKWARD_CASES} random cases on every backend (seed ${SEED})`,
    async () => {
      let runs = 0;
      const property = fc.asyncProperty(fuzzCaseArb, async (c) => {
        runs += await checkBackwardCase(c, targets);
      });
      const cases = await fuzz('backward', BACKWARD_CASES, property);
      console.log(`fuzz backward: ${cases} cases, ${runs} path x algorithm runs (3 gradients each)`);
    },
    MINUTES * 60_000 + 240_000
  );
});
