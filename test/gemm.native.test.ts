// The native GEMM family (native/conv/gemm.cc, native/kernels/gemm_<isa>_<MR>x<NR>.cc; the wasm
// GEMM's are in gemm.wasm.test.ts): im2col on phase planes whose rows are wider than the output
// (Wq > OW): the microkernel drops the GEMM's padding columns as it stores the last k-block
// (GemmColumnMap: masked compress + partial store); with several k-blocks the earlier ones accumulate
// in a scratch tile that the last one reads. Both cases on every ISA path (AVX2 has no compress
// instruction and takes a lane loop), at 1-3 threads, with bias and fused ReLU, row tiles with fewer
// than MR rows, vectors that straddle one or several row ends, and the last, partial panel of a task.

import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import { setNativeIsa, setNativeThreads } from '../src/backends/native.js';
import type { ConvParams } from '../src/backends/types.js';
import { expectNative, nativeBackend, nativeIsas, nativeOnly, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import { checkBackend, formatFailure, TOLERANCE } from './tester.js';

interface Shape {
  N?: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R: number;
  S: number;
  groups?: number;
  stride?: number;
  dilation?: number;
  pad: [number, number, number, number];
  relu?: boolean;
}

function params(s: Shape): ConvParams {
  const [padTop, padBottom, padLeft, padRight] = s.pad;
  const st = s.stride ?? 1,
    d = s.dilation ?? 1;
  const OH = Math.floor((s.H + padTop + padBottom - d * (s.R - 1) - 1) / st) + 1;
  const OW = Math.floor((s.W + padLeft + padRight - d * (s.S - 1) - 1) / st) + 1;
  return {
    N: s.N ?? 1,
    C: s.C,
    H: s.H,
    W: s.W,
    K: s.K,
    R: s.R,
    S: s.S,
    groups: s.groups ?? 1,
    strideH: st,
    strideW: st,
    dilationH: d,
    dilationW: d,
    padTop,
    padBottom,
    padLeft,
    padRight,
    OH,
    OW,
    relu: s.relu ?? false,
  };
}

// Kd = C/groups*R*S against kc (AVX-512 192, AVX2 and scalar 256) decides the path.
const SHAPES: Array<[string, Shape]> = [
  [
    'stem-like 7x7/2, one k-block, K not a multiple of MR',
    { C: 3, H: 37, W: 41, K: 10, R: 7, S: 7, stride: 2, pad: [3, 3, 3, 3] },
  ],
  ['OW 5 of Wq 7: a vector spans three rows, ReLU', { C: 4, H: 9, W: 5, K: 9, R: 3, S: 3, pad: [1, 1, 1, 1], relu: true }],
  ['one k-block, batch 2, 2 groups', { N: 2, C: 12, H: 15, W: 23, K: 14, R: 3, S: 3, groups: 2, pad: [1, 1, 1, 1] }],
  [
    'asymmetric padding, dilation 2, stride 2',
    { C: 5, H: 29, W: 31, K: 7, R: 3, S: 3, stride: 2, dilation: 2, pad: [2, 0, 3, 1] },
  ],
  ['conv1d-like row, one k-block', { C: 8, H: 1, W: 100, K: 6, R: 1, S: 5, pad: [0, 0, 2, 2], relu: true }],
  [
    'several k-blocks staged in scratch, ReLU on the last block only',
    { C: 40, H: 13, W: 13, K: 17, R: 3, S: 3, pad: [1, 1, 1, 1], relu: true },
  ],
  ['several k-blocks, batch 2, stride 2', { N: 2, C: 33, H: 20, W: 27, K: 12, R: 3, S: 3, stride: 2, pad: [1, 1, 1, 1] }],
];

afterAll(() => {
  setNativeThreads(2);
  restoreNativeIsa();
});

describe.skipIf(!expectNative)(nativeOnly('native im2col: padding columns of phase rows (column maps, staged k-blocks)'), () => {
  const problems = SHAPES.map(([name, s], i) => {
    const p = params(s),
      rng = new Rng(700 + i);
    const input = rng.floats(p.N * p.C * p.H * p.W),
      weight = rng.floats(p.K * (p.C / p.groups) * p.R * p.S);
    const bias = rng.floats(p.K);
    return {
      name,
      prob: { p, input, weight, bias, tag: `seed ${700 + i}` },
      want: convReference(p, input, weight, bias),
      scale: convReference(p, input, weight, bias, true),
    };
  });
  for (const isa of nativeIsas()) {
    it(`${isa}: every shape at 1, 2 and 3 threads matches the reference`, () => {
      const be = nativeBackend();
      setNativeIsa(isa);
      for (const threads of [1, 2, 3]) {
        setNativeThreads(threads);
        for (const { name, prob, want, scale } of problems) {
          expect(prob.p.OW).toBeLessThan(prob.p.W + prob.p.padLeft + prob.p.padRight); // rows do have padding columns
          const c = checkBackend(be, 'im2col', prob, TOLERANCE.im2col, want, scale);
          if (!c.ok) expect.fail(formatFailure(`native-${isa}/im2col ${threads}t ${name}`, prob.p, c, prob.tag));
        }
      }
    });
  }
});
