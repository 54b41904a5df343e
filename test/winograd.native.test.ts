// The native Winograd family (driver native/conv/winograd.cc, kernels
// native/kernels/winograd_f2x2_f4x4_<isa>.cc), each output tile forced through the winogradTile knob
// and confirmed by the backend's winogradTile answer; the wasm backend's are in winograd.wasm.test.ts.
// - Task split across threads: images whose tile blocks do not divide evenly among the threads get
//   their last blocks split by output channels while the others run whole (run_dense). Every mix of
//   whole and split tasks must give the same result as the float64 reference, at 2 and 3 threads, for
//   F(2x2), F(4x4) and the dilated path.
// - A non-finite input, F(2) and F(4) on every native ISA: the call goes to im2col.
// - An input over 8 MiB (guided schedule, input prefetch).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import { setNativeIsa, setNativeThreads } from '../src/backends/native.js';
import type { Backend, ConvParams } from '../src/backends/types.js';
import { KNOBS } from '../src/backends/types.js';
import { expectNative, nativeBackend, nativeDefaultIsa, nativeIsas, nativeOnly } from './paths.js';
import { Rng } from './random.js';
import type { ConvProblem } from './tester.js';
import { checkBackend, formatFailure, TOLERANCE } from './tester.js';

/** One group, no ReLU, kernel 3 along W (R: 3 or 1), padding `pad` on every side unless given; OH, OW by PyTorch's formula. */
function shape(o: {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R?: 1 | 3;
  strideH?: number;
  dilation?: number;
  pad?: number;
}): ConvParams {
  const R = o.R ?? 3,
    strideH = o.strideH ?? 1,
    d = o.dilation ?? 1,
    pad = o.pad ?? d;
  const padH = R === 1 && o.H === 1 ? 0 : pad;
  return {
    N: o.N,
    C: o.C,
    H: o.H,
    W: o.W,
    K: o.K,
    R,
    S: 3,
    groups: 1,
    strideH,
    strideW: 1,
    dilationH: d,
    dilationW: d,
    padTop: padH,
    padBottom: padH,
    padLeft: pad,
    padRight: pad,
    OH: Math.floor((o.H + 2 * padH - d * (R - 1) - 1) / strideH) + 1,
    OW: o.W + 2 * pad - 2 * d,
    relu: false,
  };
}
const params = (N: number, C: number, H: number, K: number, dilation = 1) => shape({ N, C, H, W: H + 3, K, dilation });

// Tile blocks per image at F(4x4) here: 7 (56x59), 3 (36x39), 2 per image with N = 2, and per phase
// of the dilated case.
const SHAPES: ConvParams[] = [
  params(1, 32, 56, 32),
  params(1, 40, 56, 44),
  params(1, 48, 36, 40),
  params(2, 32, 28, 96),
  params(1, 32, 40, 48, 2),
  params(1, 24, 63, 30),
];

// The float64 reference dominates the run time: once per shape, shared by every tile and thread count.
const memo = new Map<number, { prob: ConvProblem; want: Float64Array; scale: Float64Array }>();
function problem(i: number) {
  let m = memo.get(i);
  if (!m) {
    const p = SHAPES[i],
      rng = new Rng(40 + i);
    const input = rng.floats(p.N * p.C * p.H * p.W),
      weight = rng.floats(p.K * p.C * 9),
      bias = rng.floats(p.K);
    m = {
      prob: { p, input, weight, bias, tag: `seed ${40 + i}` },
      want: convReference(p, input, weight, bias),
      scale: convReference(p, input, weight, bias, true),
    };
    memo.set(i, m);
  }
  return m;
}

/** Forces the output tile (the winogradTile knob) and checks that p really runs with it. */
function forceTile(be: Backend, tile: number, p?: ConvParams): void {
  be.setKnob!('winogradTile', tile);
  if (p) expect(be.winogradTile!(p), `tile of ${JSON.stringify(p)}`).toBe(tile);
}

afterAll(() => {
  setNativeThreads(2);
  if (expectNative) nativeBackend().setKnob!('winogradTile', KNOBS.winogradTile.dflt);
});

describe.skipIf(!expectNative)(nativeOnly('native Winograd thread split'), () => {
  let be: Backend;
  beforeAll(() => {
    be = nativeBackend();
  });
  for (const tile of [4, 2]) {
    for (const threads of [2, 3]) {
      it(`F(${tile}x${tile}) at ${threads} threads: odd block counts match the reference`, () => {
        setNativeThreads(threads);
        for (const [i, p] of SHAPES.entries()) {
          const { prob, want, scale } = problem(i);
          expect(be.supports(p, 'winograd')).toBeNull();
          forceTile(be, tile, p);
          expect(be.threadsFor!(p, 'winograd')).toBe(threads);
          const c = checkBackend(be, 'winograd', prob, TOLERANCE.winograd, want, scale);
          if (!c.ok) expect.fail(formatFailure(`native/winograd F(${tile}) ${threads}t`, p, c, prob.tag));
        }
      });
    }
  }
});

// The input's NaN/Inf check runs inside each ISA's input transform, on the values its tiles load (no
// pass of its own): a non-finite value in any block, under any split and on every ISA path, must
// still send the whole call to im2col, whose NaN/Inf placement is exact.
describe.skipIf(!expectNative)(nativeOnly('native Winograd with a non-finite input'), () => {
  let be: Backend;
  beforeAll(() => {
    be = nativeBackend();
  });
  const conv1d = shape({ N: 2, C: 16, H: 1, W: 3000, K: 24, R: 1 });
  // A 1x3 kernel with strideH 3: tile rows read every third input row.
  const rows1x3 = shape({ N: 1, C: 12, H: 61, W: 70, K: 20, R: 1, strideH: 3 });
  // No padding, OH and OW multiples of 4: the last input row and column are read only by the last
  // tile's last row and column, under F(2x2) and F(4x4) alike.
  const valid = shape({ N: 1, C: 20, H: 42, W: 58, K: 24, pad: 0 });
  const cases: ConvParams[] = [SHAPES[3], SHAPES[4], SHAPES[5], conv1d, rows1x3, valid];
  // Each case's three poisoned inputs and their references, shared by every ISA and thread count.
  let poisoned: { prob: ConvProblem; want: Float64Array; scale: Float64Array }[][] | undefined;
  const poison = () =>
    (poisoned ??= cases.map((p, i) => {
      const rng = new Rng(90 + i);
      const input = rng.floats(p.N * p.C * p.H * p.W),
        weight = rng.floats(p.K * p.C * p.R * p.S),
        bias = rng.floats(p.K);
      // Last: an element of the last input row some tile reads (the last row, or for rows1x3 row 59).
      const lastRead = (p.OH - 1) * p.strideH - p.padTop + p.R - 1;
      const late = ((p.N * p.C - 1) * p.H + Math.min(p.H - 1, lastRead)) * p.W + p.W - 1;
      return (
        [
          [0, NaN],
          [late, Infinity],
          [rng.int(1, input.length - 2), -Infinity],
        ] as const
      ).map(([at, v]) => {
        const x = input.slice();
        x[at] = v;
        return {
          prob: { p, input: x, weight, bias, tag: `seed ${90 + i}, input[${at}] = ${v}` },
          want: convReference(p, x, weight, bias),
          scale: convReference(p, x, weight, bias, true),
        };
      });
    }));
  afterAll(() => setNativeIsa(nativeDefaultIsa()));
  for (const tile of [4, 2])
    for (const isa of nativeIsas())
      for (const threads of [1, 2]) {
        it(`F(${tile}) ${isa} at ${threads} thread(s): first, last and inner elements, in every block layout`, () => {
          setNativeIsa(isa);
          setNativeThreads(threads);
          for (const [i, p] of cases.entries()) {
            expect(be.supports(p, 'winograd')).toBeNull();
            forceTile(be, tile, p);
            for (const { prob, want, scale } of poison()[i]) {
              const c = checkBackend(be, 'winograd', prob, TOLERANCE.winograd, want, scale);
              if (!c.ok)
                expect.fail(formatFailure(`native/winograd F(${tile}) ${isa} ${threads}t non-finite input`, p, c, prob.tag));
            }
          }
        });
      }
});

// Inputs over 8 MiB run under a guided schedule (each claim a run of consecutive blocks, the slot
// prefetching the next block's input during the current one's GEMMs); smaller ones keep the pool's
// first-come order. Both must cover every block once, split parts included, at any thread count.
describe.skipIf(!expectNative)(nativeOnly('native Winograd on an input over 8 MiB (guided schedule, input prefetch)'), () => {
  let be: Backend;
  beforeAll(() => {
    be = nativeBackend();
  });
  const p = shape({ N: 2, C: 12, H: 300, W: 301, K: 10 });
  let big: { prob: ConvProblem; want: Float64Array; scale: Float64Array } | undefined;
  const bigProblem = () => {
    if (!big) {
      expect(p.N * p.C * p.H * p.W * 4).toBeGreaterThan(8 << 20);
      const rng = new Rng(77);
      const input = rng.floats(p.N * p.C * p.H * p.W),
        weight = rng.floats(p.K * p.C * 9),
        bias = rng.floats(p.K);
      big = {
        prob: { p, input, weight, bias, tag: 'seed 77' },
        want: convReference(p, input, weight, bias),
        scale: convReference(p, input, weight, bias, true),
      };
    }
    return big;
  };
  for (const tile of [4, 2]) {
    it(`F(${tile}x${tile}) at 1, 2 and 3 threads matches the reference`, () => {
      forceTile(be, tile, p);
      const { prob, want, scale } = bigProblem();
      for (const threads of [1, 2, 3]) {
        setNativeThreads(threads);
        expect(be.threadsFor!(p, 'winograd')).toBe(threads);
        const c = checkBackend(be, 'winograd', prob, TOLERANCE.winograd, want, scale);
        if (!c.ok) expect.fail(formatFailure(`native/winograd F(${tile}) ${threads}t, input over 8 MiB`, p, c, prob.tag));
      }
    });
  }
  it('a NaN in a late block still sends the call to im2col, at 2 threads', () => {
    forceTile(be, 4, p);
    setNativeThreads(2);
    const { prob } = bigProblem();
    const x = prob.input.slice();
    x[(p.C + 5) * p.H * p.W + 250 * p.W + 123] = NaN; // second image, channel 5, row 250
    const poisoned = { ...prob, input: x, tag: 'seed 77, NaN in image 1' };
    const c = checkBackend(be, 'winograd', poisoned, TOLERANCE.winograd);
    if (!c.ok) expect.fail(formatFailure('native/winograd 2t, input over 8 MiB with a NaN', p, c, poisoned.tag));
  });
});
