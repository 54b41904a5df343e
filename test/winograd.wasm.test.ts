// The wasm backend's Winograd tile sizes (assembly/winograd.ts chooseTile): F(4x4,3x3) and F(2x2,3x3)
// for 3x3 kernels, F(4,3) and F(2,3) for 1x3 / conv1d kernels of 3, dilated shapes through polyphase
// sub-grids with either. forceWinogradTile runs each tile size on the same random shapes, and
// lastWinogradTile confirms which one ran: on every wasm build, split over 1-3 worker threads on both
// threaded builds (the workers read the tile from the shared area, not their own globals), sync and
// async, against the float64 reference at the Winograd tolerance (1e-4 * S). Shapes are drawn where
// the module runs F(4) when forced to (its winogradTile answer: F(4) only where it is accurate);
// sizes cover partial tiles at every output edge, several tile-row blocks, groups, batch, ReLU, no
// bias, asymmetric padding.

import v8 from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { ConvParams } from '../src/backends/types.js';
import type { WasmBackend, WasmVariant } from '../src/backends/wasm.js';
import { createWasmBackend, wasmRelaxedSimdSupported, wasmSimdSupported } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';
import { spawnNodeWorker } from '../src/backends/wasm-pool.node.js';
import { Rng } from './random.js';
import type { ConvProblem } from './tester.js';
import { checkBackend, compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, TOLERANCE } from './tester.js';

// Node 20 validates relaxed SIMD only behind this flag (set before any compile, as test/paths.ts does).
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

type Build = WasmVariant | 'simd-threads' | 'relaxed-threads';
const module = (b: Build) => new WebAssembly.Module(loadWasmBytes(b as WasmVariant) as BufferSource);

/** The module's own answer: a call of p forced to F(4) runs F(4) (the shape is one where F(4) is accurate). */
const oracle = createWasmBackend(module('scalar'), 'scalar');
oracle.setKnob!('winogradTile', 4);
const runsF4 = (p: ConvParams) => oracle.winogradTile!(p) === 4;

type Kind = '3x3' | '1x3' | 'dilated';

function problem(rng: Rng, kind: Kind, tag: string): ConvProblem {
  for (;;) {
    const large = rng.chance(0.1);
    const groups = rng.pick([1, 1, 2, 3]);
    const Cg = rng.int(1, large ? 24 : 8),
      Kg = rng.int(1, large ? 24 : 8);
    const R = kind === '1x3' ? 1 : 3;
    const dh = kind === 'dilated' ? rng.int(1, 3) : 1,
      dw = kind === 'dilated' ? rng.int(dh === 1 ? 2 : 1, 3) : 1;
    // 1x3 rows longer than 64 tiles (256 outputs under F(4,3), 128 under F(2,3)) run as segments.
    const long = R === 1 && rng.chance(0.3);
    const H = R === 1 ? rng.int(1, 3) : rng.int(3, large ? 56 : 24),
      W = long ? rng.int(130, 1500) : rng.int(3, large ? 70 : 40);
    const pad = (d: number) => rng.int(0, 2 * d);
    const padTop = R === 1 ? 0 : pad(dh),
      padBottom = R === 1 ? 0 : pad(dh),
      padLeft = pad(dw),
      padRight = pad(dw);
    const p: ConvParams = {
      N: rng.int(1, 3),
      C: groups * Cg,
      H,
      W,
      K: groups * Kg,
      R,
      S: 3,
      groups,
      strideH: 1,
      strideW: 1,
      dilationH: dh,
      dilationW: dw,
      padTop,
      padBottom,
      padLeft,
      padRight,
      OH: H + padTop + padBottom - dh * (R - 1),
      OW: W + padLeft + padRight - 2 * dw,
      relu: rng.chance(0.3),
    };
    if (p.OH < 1 || p.OW < 1 || !runsF4(p)) continue;
    const input = rng.floats(p.N * p.C * H * W, rng.pick([1, 100]));
    const weight = rng.floats(p.K * Cg * R * 3);
    const bias = rng.chance(0.8) ? rng.floats(p.K) : null;
    return { p, input, weight, bias, tag };
  }
}

const KINDS: Kind[] = ['3x3', '1x3', 'dilated'];
function problems(count: number, seed: number): ConvProblem[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) =>
    problem(rng, KINDS[i % KINDS.length], `${KINDS[i % KINDS.length]} seed ${seed} #${i}`)
  );
}

function check(be: WasmBackend, label: string, probs: ConvProblem[], tile: number): void {
  for (const prob of probs) {
    const c = checkBackend(be, 'winograd', prob);
    if (!c.ok) throw new Error(formatFailure(`${label} F(${tile}) ${prob.tag}`, prob.p, c));
    expect(be.lastWinogradTile(), `${label} ${prob.tag}`).toBe(tile);
  }
}

const made: WasmBackend[] = [];
afterAll(() => {
  for (const b of made) b.dispose();
});

const builds: WasmVariant[] = ['scalar'];
if (wasmSimdSupported()) builds.push('simd');
if (wasmRelaxedSimdSupported()) builds.push('relaxed');

const square = (C: number, H: number, pad: number, dilation = 1): ConvParams => ({
  N: 1,
  C,
  H,
  W: H,
  K: C,
  R: 3,
  S: 3,
  groups: 1,
  strideH: 1,
  strideW: 1,
  dilationH: dilation,
  dilationW: dilation,
  padTop: pad,
  padBottom: pad,
  padLeft: pad,
  padRight: pad,
  OH: H + 2 * pad - 2 * dilation,
  OW: H + 2 * pad - 2 * dilation,
  relu: false,
});
const line = (C: number, W: number, pad: number): ConvParams => ({
  N: 1,
  C,
  H: 1,
  W,
  K: C,
  R: 1,
  S: 3,
  groups: 1,
  strideH: 1,
  strideW: 1,
  dilationH: 1,
  dilationW: 1,
  padTop: 0,
  padBottom: 0,
  padLeft: pad,
  padRight: pad,
  OH: 1,
  OW: W + 2 * pad - 2,
  relu: false,
});

describe('wasm Winograd tile sizes', () => {
  it('the rule picks F(4) where it measured faster and accurate, F(2) elsewhere', () => {
    const variant: WasmVariant = wasmSimdSupported() ? 'simd' : 'scalar';
    const be = createWasmBackend(module(variant), variant);
    made.push(be);
    const rng = new Rng(4000);
    const want: Array<[string, ConvParams, number]> = [
      ['L2 64ch 56x56', square(64, 56, 1), 4],
      ['128ch 28x28', square(128, 28, 1), 4],
      ['L6 256ch 56x56', square(256, 56, 1), 4],
      ['L3 256ch 14x14 (cold U)', square(256, 14, 1), 2],
      ['32ch 56x56 (transforms dominate)', square(32, 56, 1), 2],
      ['64ch 56x56 pad 2 (inaccurate)', square(64, 56, 2), 2],
      ['L8 dilated 64ch 112x112 (phases of 56x56)', square(64, 112, 2, 2), 4],
      ['dilation 2, 32ch 112x112 (phases of 56x56)', square(32, 112, 2, 2), 2],
      ['dilation 2 pad 4 (inaccurate phases)', square(32, 40, 4, 2), 2],
      ['conv1d 64ch 512', line(64, 512, 1), 4],
      ['conv1d 64ch 512 pad 2 (inaccurate)', line(64, 512, 2), 2],
    ];
    for (const [name, p, tile] of want) {
      const Cg = p.C / p.groups;
      be.conv2d(
        p,
        rng.floats(p.N * p.C * p.H * p.W),
        rng.floats(p.K * Cg * p.R * p.S),
        null,
        new Float32Array(p.N * p.K * p.OH * p.OW),
        'winograd'
      );
      expect(be.lastWinogradTile(), name).toBe(tile);
    }
    // The dispatcher sends conv1d of kernel 3 to Winograd from 32 channels (measured faster than im2col there).
    expect(be.choose(line(64, 512, 1)).algorithm).toBe('winograd');
    expect(be.choose({ ...line(32, 512, 1), K: 48 }).algorithm).toBe('winograd');
    expect(be.choose(line(16, 512, 1)).algorithm).toBe('im2col');
    // Forcing F(4) where it is inaccurate still runs F(2).
    be.forceWinogradTile(4);
    const p = square(8, 20, 2);
    be.conv2d(p, rng.floats(8 * 400), rng.floats(8 * 8 * 9), null, new Float32Array(8 * p.OH * p.OW), 'winograd');
    expect(be.lastWinogradTile()).toBe(2);
  });

  for (const variant of builds) {
    for (const tile of [4, 2] as const) {
      it(`${variant}: F(${tile}) on 60 random 3x3, 1x3 and dilated shapes within ${TOLERANCE.winograd} * S`, () => {
        const be = createWasmBackend(module(variant), variant);
        made.push(be);
        be.forceWinogradTile(tile);
        check(be, `wasm-${variant}`, problems(60, 4100 + builds.indexOf(variant)), tile);
      });
    }
  }

  const threadedBuilds: Array<[WasmVariant, Build]> = [];
  if (wasmSimdSupported()) threadedBuilds.push(['simd', 'simd-threads']);
  if (wasmRelaxedSimdSupported()) threadedBuilds.push(['relaxed', 'relaxed-threads']);
  for (const [variant, build] of threadedBuilds) {
    for (const threads of [1, 2, 3]) {
      it(`${build}: ${threads} thread(s), sync, 21 random F(4) shapes`, () => {
        const be = createWasmBackend(module(variant), variant, {
          module: module(build),
          spawn: spawnNodeWorker,
          canBlock: true,
          threads,
        });
        be.minFlopsPerThread = 0; // split every call, however small
        be.forceWinogradTile(4);
        made.push(be);
        check(be, `${build}/${threads}t`, problems(21, 4200 + 10 * threads + (build === 'simd-threads' ? 0 : 1)), 4);
      });
    }
    it(`${build}: 2 threads, async, 12 random F(4) shapes`, async () => {
      const be = createWasmBackend(module(variant), variant, {
        module: module(build),
        spawn: spawnNodeWorker,
        canBlock: true,
        threads: 2,
      });
      be.minFlopsPerThread = 0;
      be.forceWinogradTile(4);
      made.push(be);
      for (const prob of problems(12, 4300)) {
        const { p, input, weight, bias } = prob;
        const want = convReference(p, input, weight, bias),
          S = convReference(p, input, weight, bias, true);
        const out = new Float32Array(want.length).fill(-7.5e33);
        await be.conv2dAsync(p, input, weight, bias, out, 'winograd');
        const c = compare(out, want, S, TOLERANCE.winograd, planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE.winograd));
        if (!c.ok) throw new Error(formatFailure(`${build} async ${prob.tag}`, p, c));
        expect(be.lastWinogradTile(), `${build} async ${prob.tag}`).toBe(4);
      }
    });
  }
});
