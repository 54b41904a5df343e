// Winograd F(4x4,3x3) in the wasm backend (assembly/winograd.ts chooseTile): it runs on 3x3 stride-1
// undilated shapes whose padding read is < 2 on every side and where its tile grid plus weight
// transform need less work than F(2x2)'s. These shapes are drawn from that set only (f4Chosen mirrors the rule),
// so every call here runs F(4x4): on every wasm build, and split over 1-3 worker threads on both
// threaded builds, sync and async, against the float64 reference at the Winograd tolerance (1e-4 * S).
// Sizes cover partial tiles at every output edge (OW mod 16, OH mod 4), several tile-row blocks,
// groups, batch, ReLU, no bias, asymmetric padding. Wider padding and dilation keep F(2x2): the
// random shapes of conv.forward / wasm-threads tests run those.

import v8 from 'node:v8';
import { afterAll, describe, it } from 'vitest';
import type { ConvParams } from '../src/backends/types.js';
import type { WasmBackend, WasmVariant } from '../src/backends/wasm.js';
import { createWasmBackend, wasmRelaxedSimdSupported, wasmSimdSupported } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';
import { spawnNodeWorker } from '../src/backends/wasm-pool.node.js';
import { convReference } from '../src/backends/js.js';
import { Rng } from './random.js';
import type { ConvProblem } from './tester.js';
import { checkBackend, compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, TOLERANCE } from './tester.js';

// Node 20 validates relaxed SIMD only behind this flag (set before any compile, as test/paths.ts does).
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

type Build = WasmVariant | 'simd-threads' | 'relaxed-threads';
const module = (b: Build) => new WebAssembly.Module(loadWasmBytes(b as WasmVariant) as BufferSource);

/** assembly/winograd.ts chooseTile() == 4 for this 3x3 stride-1 undilated shape. */
function f4Chosen(p: ConvParams): boolean {
  const padBottom = Math.max(0, p.OH + 2 - p.padTop - p.H), padRight = Math.max(0, p.OW + 2 - p.padLeft - p.W);
  if (p.padTop >= 2 || p.padLeft >= 2 || padBottom >= 2 || padRight >= 2) return false;
  const row = (tiles: number) => (tiles + 3) & ~3;
  const tiles2 = p.N * Math.ceil(p.OH / 2) * row(Math.ceil(p.OW / 2));
  const tiles4 = p.N * Math.ceil(p.OH / 4) * row(Math.ceil(p.OW / 4));
  const WEIGHT_WORK = 20;
  return 36 * (tiles4 + WEIGHT_WORK) < 16 * (tiles2 + WEIGHT_WORK);
}

function f4Problem(rng: Rng, tag: string): ConvProblem {
  for (;;) {
    const large = rng.chance(0.1);
    const groups = rng.pick([1, 1, 2, 3]);
    const Cg = rng.int(1, large ? 24 : 8), Kg = rng.int(1, large ? 24 : 8);
    const H = rng.int(3, large ? 56 : 24), W = rng.int(3, large ? 70 : 24);
    const padTop = rng.int(0, 1), padBottom = rng.int(0, 1), padLeft = rng.int(0, 1), padRight = rng.int(0, 1);
    const p: ConvParams = {
      N: rng.int(1, 3), C: groups * Cg, H, W, K: groups * Kg, R: 3, S: 3, groups,
      strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, padTop, padBottom, padLeft, padRight,
      OH: H + padTop + padBottom - 2, OW: W + padLeft + padRight - 2, relu: rng.chance(0.3),
    };
    if (p.OH < 1 || p.OW < 1 || !f4Chosen(p)) continue;
    const input = rng.floats(p.N * p.C * H * W, rng.pick([1, 100]));
    const weight = rng.floats(p.K * Cg * 9);
    const bias = rng.chance(0.8) ? rng.floats(p.K) : null;
    return { p, input, weight, bias, tag };
  }
}

function problems(count: number, seed: number): ConvProblem[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => f4Problem(rng, `f4 seed ${seed} #${i}`));
}

function check(be: WasmBackend, label: string, probs: ConvProblem[]): void {
  for (const prob of probs) {
    const c = checkBackend(be, 'winograd', prob);
    if (!c.ok) throw new Error(formatFailure(`${label} ${prob.tag}`, prob.p, c));
  }
}

const made: WasmBackend[] = [];
afterAll(() => { for (const b of made) b.dispose(); });

const builds: WasmVariant[] = ['scalar'];
if (wasmSimdSupported()) builds.push('simd');
if (wasmRelaxedSimdSupported()) builds.push('relaxed');

describe('wasm Winograd F(4x4,3x3)', () => {
  it('the shape generator draws only F(4x4) shapes, including ones F(2x2) would take with wider padding', () => {
    // Sanity of the mirrored rule on the benchmark layers' shapes.
    const layer = (C: number, H: number, pad: number): ConvParams => ({
      N: 1, C, H, W: H, K: C, R: 3, S: 3, groups: 1, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1,
      padTop: pad, padBottom: pad, padLeft: pad, padRight: pad, OH: H + 2 * pad - 2, OW: H + 2 * pad - 2, relu: false });
    const want = [[layer(64, 56, 1), true], [layer(128, 28, 1), true], [layer(256, 14, 1), false], [layer(64, 56, 2), false]] as const;
    for (const [p, f4] of want) if (f4Chosen(p) !== f4) throw new Error(`f4Chosen(${p.H}x${p.W} pad ${p.padTop}) != ${f4}`);
  });

  for (const variant of builds) {
    it(`${variant}: 60 random F(4x4) shapes within ${TOLERANCE.winograd} * S`, () => {
      const be = createWasmBackend(module(variant), variant);
      made.push(be);
      check(be, `wasm-${variant}`, problems(60, 4100 + builds.indexOf(variant)));
    });
  }

  const threadedBuilds: Array<[WasmVariant, Build]> = [];
  if (wasmSimdSupported()) threadedBuilds.push(['simd', 'simd-threads']);
  if (wasmRelaxedSimdSupported()) threadedBuilds.push(['relaxed', 'relaxed-threads']);
  for (const [variant, build] of threadedBuilds) {
    for (const threads of [1, 2, 3]) {
      it(`${build}: ${threads} thread(s), sync, 20 random F(4x4) shapes`, () => {
        const be = createWasmBackend(module(variant), variant, { module: module(build), spawn: spawnNodeWorker, canBlock: true, threads });
        be.minFlopsPerThread = 0; // split every call, however small
        made.push(be);
        check(be, `${build}/${threads}t`, problems(20, 4200 + 10 * threads + (build === 'simd-threads' ? 0 : 1)));
      });
    }
    it(`${build}: 2 threads, async, 10 random F(4x4) shapes`, async () => {
      const be = createWasmBackend(module(variant), variant, { module: module(build), spawn: spawnNodeWorker, canBlock: true, threads: 2 });
      be.minFlopsPerThread = 0;
      made.push(be);
      for (const prob of problems(10, 4300)) {
        const { p, input, weight, bias } = prob;
        const want = convReference(p, input, weight, bias), S = convReference(p, input, weight, bias, true);
        const out = new Float32Array(want.length).fill(-7.5e33);
        await be.conv2dAsync(p, input, weight, bias, out, 'winograd');
        const c = compare(out, want, S, TOLERANCE.winograd, planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE.winograd));
        if (!c.ok) throw new Error(formatFailure(`${build} async ${prob.tag}`, p, c));
      }
    });
  }
});
