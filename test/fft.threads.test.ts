// The native FFT convolution split across 2 threads (conv_fft_transformed in native/conv/fft.cc), on
// every native ISA path, against the float64 reference: with at least as many tile vectors as threads
// each task carries whole vectors through forward transform, complex GEMM and inverse; otherwise (or
// when one vector's spectra are too big for a slot) the stages are split across the pool. The random
// shapes of conv.forward.test.ts are mostly too small to get a second thread.

import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import { setNumThreads } from '../src/index.node.js';
import { normalizeConv } from '../src/shape.js';
import { expectNative, nativeOnly, nativePaths, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import type { ConvProblem } from './tester.js';
import { checkBackend, formatFailure, TOLERANCE } from './tester.js';

afterAll(() => {
  restoreNativeIsa();
  setNumThreads(os.availableParallelism());
});

function problem(
  seed: number,
  dims: 1 | 2,
  N: number,
  C: number,
  K: number,
  groups: number,
  size: number,
  k: number
): ConvProblem {
  const rng = new Rng(seed);
  const spatial = dims === 1 ? [size] : [size, size - 3];
  const kernel = dims === 1 ? [k] : [k, k];
  const input = { data: rng.floats(N * C * spatial.reduce((a, b) => a * b, 1)), shape: [N, C, ...spatial] };
  const weight = { data: rng.floats(K * (C / groups) * kernel.reduce((a, b) => a * b, 1)), shape: [K, C / groups, ...kernel] };
  const bias = rng.floats(K);
  const n = normalizeConv(dims, input, weight, { padding: 'same', groups, bias, activation: seed % 2 ? 'relu' : 'none' });
  return { p: n.params, input: input.data, weight: weight.data, bias: n.bias, tag: `fft threads seed ${seed}` };
}

const CASES: Array<[string, ConvProblem]> = [
  // The audio layer's shape, smaller: one input channel, tile vectors per thread.
  ['conv1d, 1 input channel (L10-like)', problem(8101, 1, 1, 1, 24, 1, 9000, 151)],
  // Batch 2 and 2 groups: vectors hold tiles of both images; each group its own spectra.
  ['conv1d, batch 2, 2 groups', problem(8102, 1, 2, 4, 6, 2, 5000, 101)],
  ['conv2d 9x9, batch 2, 2 groups', problem(8103, 2, 2, 6, 8, 2, 70, 9)],
  // Spectra of one vector past a slot's budget: the stage-split path.
  ['conv2d 11x11, 32 -> 32 channels (stage split)', problem(8104, 2, 1, 32, 32, 1, 24, 11)],
];

// The float64 reference of each case, computed once for all paths.
const refs: Array<{ want: Float64Array; scale: Float64Array }> = [];
function reference(i: number) {
  if (!refs[i]) {
    const { p, input, weight, bias } = CASES[i][1];
    refs[i] = { want: convReference(p, input, weight, bias), scale: convReference(p, input, weight, bias, true) };
  }
  return refs[i];
}

describe.skipIf(!expectNative)(nativeOnly('native FFT split across threads'), () => {
  for (const path of nativePaths()) {
    it(`${path.label}: FFT on 2 threads matches the reference (per-vector and stage-split paths)`, () => {
      path.enter();
      setNumThreads(2);
      for (const [i, [label, prob]] of CASES.entries()) {
        expect(path.backend.supports(prob.p, 'fft'), label).toBeNull();
        expect(path.backend.threadsFor!(prob.p, 'fft'), label).toBe(2);
        const { want, scale } = reference(i);
        const c = checkBackend(path.backend, 'fft', prob, TOLERANCE.fft, want, scale);
        if (!c.ok) expect.fail(`${label}: ${formatFailure(`${path.label}/fft`, prob.p, c, prob.tag)}`);
      }
    });
  }
});
