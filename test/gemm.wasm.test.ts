// Output-channel counts around the wasm GEMM's register tile height (MR = 4 rows in
// assembly/kernels/gemm_4x8.ts): 1, MR-1, MR+1 and 2*MR+3 channels per group leave a partial row
// strip that runs through the scratch edge tile, reads bias past K (padded to K + MR), and for Winograd
// pads the tuple GEMM's rows. Every build (relaxed, simd, scalar; threaded simd and relaxed at 2 and 3
// threads, sync and async) on each way B reaches the kernel: packed pointwise rows, packed im2col
// panels, indirect reads from padded planes, depth past one KC slice (accumulating onto C), groups,
// conv1d, batch 2, ReLU, no bias.

import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { Algorithm, Backend } from '../src/backends/types.js';
import type { WasmBackend, WasmBuild, WasmVariant } from '../src/backends/wasm.js';
import { createWasmBackend, wasmRelaxedSimdSupported, wasmSimdSupported } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';
import { spawnNodeWorker } from '../src/backends/wasm-pool.node.js';
import type { ConvOptions } from '../src/shape.js';
import { normalizeConv } from '../src/shape.js';
import './paths.js'; // sets Node 20's relaxed-SIMD flag before any module compiles
import { Rng } from './random.js';
import type { ConvProblem } from './tester.js';
import { checkBackend, compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, TOLERANCE } from './tester.js';

const MR = 4;
const ROWS = [1, MR - 1, MR + 1, 2 * MR + 3];

interface Shape {
  what: string;
  dims: 1 | 2;
  N: number;
  Cg: number;
  groups: number;
  size: number[];
  kernel: number[];
  options: ConvOptions;
  algos: Algorithm[];
}

// Spatial sizes are odd and rows of 37 pixels end in a partial 8-pixel strip.
const SHAPES: Shape[] = [
  {
    what: 'pointwise (packed plain rows)',
    dims: 2,
    N: 2,
    Cg: 7,
    groups: 1,
    size: [13, 11],
    kernel: [1, 1],
    options: { activation: 'relu' },
    algos: ['im2col'],
  },
  {
    what: '3x3 stride 1, wide rows (indirect B)',
    dims: 2,
    N: 1,
    Cg: 6,
    groups: 1,
    size: [5, 37],
    kernel: [3, 3],
    options: { padding: 1 },
    algos: ['im2col', 'winograd'],
  },
  {
    what: '3x3 stride 2 (packed panels)',
    dims: 2,
    N: 1,
    Cg: 5,
    groups: 1,
    size: [9, 19],
    kernel: [3, 3],
    options: { stride: 2, padding: 1, activation: 'relu' },
    algos: ['im2col'],
  },
  {
    what: 'depth 270 > KC (C accumulated across slices)',
    dims: 2,
    N: 1,
    Cg: 30,
    groups: 1,
    size: [9, 10],
    kernel: [3, 3],
    options: { padding: 1, activation: 'relu' },
    algos: ['im2col', 'winograd'],
  },
  {
    what: '2 groups, no bias',
    dims: 2,
    N: 2,
    Cg: 3,
    groups: 2,
    size: [7, 9],
    kernel: [3, 3],
    options: { padding: 1, noBias: true } as ConvOptions,
    algos: ['im2col', 'winograd'],
  },
  {
    what: 'conv1d k5, 70 columns',
    dims: 1,
    N: 1,
    Cg: 4,
    groups: 1,
    size: [70],
    kernel: [5],
    options: { padding: 2 },
    algos: ['im2col'],
  },
];

function make(s: Shape, Kg: number, seed: number): ConvProblem {
  const rng = new Rng(seed);
  const C = s.Cg * s.groups,
    K = Kg * s.groups;
  const { noBias, ...rest } = s.options as ConvOptions & { noBias?: boolean };
  const options: ConvOptions = { ...rest, groups: s.groups };
  if (!noBias) options.bias = rng.floats(K);
  const inShape = [s.N, C, ...s.size],
    wShape = [K, s.Cg, ...s.kernel];
  const input = { data: rng.floats(inShape.reduce((a, b) => a * b, 1)), shape: inShape };
  const weight = { data: rng.floats(wShape.reduce((a, b) => a * b, 1)), shape: wShape };
  const n = normalizeConv(s.dims, input, weight, options);
  return { p: n.params, input: input.data, weight: weight.data, bias: n.bias, tag: `${s.what}, Kg ${Kg}` };
}

const cases = SHAPES.flatMap((s, i) => ROWS.map((Kg) => ({ s, Kg, prob: make(s, Kg, 100 * i + Kg) })));

const module = (b: WasmBuild) => new WebAssembly.Module(loadWasmBytes(b as WasmVariant) as BufferSource);
const owned: WasmBackend[] = [];
afterAll(() => {
  for (const b of owned) b.dispose();
});

function builds(): { label: string; be: () => Backend }[] {
  const out: { label: string; be: () => Backend }[] = [];
  const variants: WasmVariant[] = [];
  if (wasmRelaxedSimdSupported()) variants.push('relaxed');
  if (wasmSimdSupported()) variants.push('simd');
  variants.push('scalar');
  for (const v of variants) out.push({ label: v, be: () => createWasmBackend(module(v), v) });
  for (const v of variants.filter((x) => x !== 'scalar')) {
    for (const threads of [2, 3]) {
      out.push({
        label: `${v}-threads x${threads}`,
        be: () => {
          const be = createWasmBackend(module(v), v, {
            module: module(`${v}-threads` as WasmBuild),
            spawn: spawnNodeWorker,
            canBlock: true,
            threads,
          });
          be.minFlopsPerThread = 0; // split every call, however small
          owned.push(be);
          return be;
        },
      });
    }
  }
  return out;
}

describe('wasm GEMM: output channels not a multiple of the tile height', () => {
  it('covers every row count on every shape', () => {
    expect(cases.length).toBe(SHAPES.length * ROWS.length);
  });

  for (const { label, be: makeBackend } of builds()) {
    it(`${label}: ${ROWS.join(', ')} channels per group, im2col and Winograd, sync`, () => {
      const be = makeBackend();
      let ran = 0;
      for (const { s, prob } of cases) {
        for (const algo of s.algos) {
          const why = be.supports(prob.p, algo);
          if (why !== null) throw new Error(`${label}/${algo} refused ${prob.tag}: ${why}`);
          const c = checkBackend(be, algo, prob);
          if (!c.ok) throw new Error(formatFailure(`${label}/${algo}`, prob.p, c, prob.tag));
          ran++;
        }
      }
      expect(ran).toBe(cases.reduce((n, c) => n + c.s.algos.length, 0));
    });
  }

  it.runIf(wasmSimdSupported())('simd-threads x2, async: the same problems', async () => {
    const be = createWasmBackend(module('simd'), 'simd', {
      module: module('simd-threads'),
      spawn: spawnNodeWorker,
      canBlock: true,
      threads: 2,
    });
    be.minFlopsPerThread = 0;
    owned.push(be);
    for (const { s, prob } of cases) {
      for (const algo of s.algos) {
        const { p, input, weight, bias } = prob;
        const want = convReference(p, input, weight, bias),
          S = convReference(p, input, weight, bias, true);
        const out = new Float32Array(want.length).fill(-7.5e33);
        await be.conv2dAsync(p, input, weight, bias, out, algo);
        const c = compare(out, want, S, TOLERANCE[algo], planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo]));
        if (!c.ok) throw new Error(formatFailure(`simd-threads async/${algo}`, p, c, prob.tag));
      }
    }
  });
});
