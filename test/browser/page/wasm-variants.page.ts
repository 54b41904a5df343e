// Inside Chromium: every wasm build the package ships (Chromium validates all of them, relaxed SIMD too), on every algorithm it implements, against the
// float64 reference on random shapes and against PyTorch's golden vectors; then the browser entry
// point end to end (ready() with explicit URLs, per-call backend choice, backendInfo()).

import { describe, expect, it } from 'vitest';
import { convReference } from '../../../src/backends/js.js';
import type { Backend } from '../../../src/backends/types.js';
import { createWasmBackend, wasmSimdSupported } from '../../../src/backends/wasm.js';
import { backendInfo, conv1d, conv2d, explain, ready } from '../../../src/index.browser.js';
import { normalizeConv } from '../../../src/shape.js';
import { Rng } from '../../random.js';
import { checkBackend, compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, randomProblem, TOLERANCE } from '../../tester.js';
import { forwardGolden } from '../golden.browser.js';

// Every single-threaded build assembly/build.mjs produced (simd, scalar, and relaxed once it exists), found
// by name so a new variant is tested the day it is built.
const URLS: Record<string, string> = Object.fromEntries(
  Object.entries(import.meta.glob('../../../assembly/build/fastconv-*.wasm', { query: '?url', import: 'default', eager: true }))
    .map(([path, url]) => [/fastconv-([\w-]+)\.wasm$/.exec(path)![1], url as string])
    // The threaded builds import a shared memory, which this page (not cross-origin isolated) cannot
    // create: test/browser/e2e/wasm-threads.e2e.ts runs them in a COOP/COEP page.
    .filter(([variant]) => !variant.endsWith('-threads'))
);
const VARIANTS = Object.keys(URLS).sort();
const RANDOM_CASES = 120;
const golden = forwardGolden();

async function backend(variant: string): Promise<Backend> {
  const module = await WebAssembly.compileStreaming(fetch(URLS[variant]));
  return createWasmBackend(module, variant as Parameters<typeof createWasmBackend>[1]);
}

it('runs in a browser engine with wasm SIMD128', () => {
  expect(typeof window).toBe('object');
  expect(wasmSimdSupported()).toBe(true);
});

it('has the golden set (57 forward cases or more) and the simd and scalar builds', () => {
  expect(golden.length).toBeGreaterThanOrEqual(57);
  expect(VARIANTS).toEqual(expect.arrayContaining(['simd', 'scalar']));
});

for (const variant of VARIANTS) {
  describe(`wasm ${variant} in the page`, () => {
    it('reports its isa and algorithms', async () => {
      const be = await backend(variant);
      expect(be.name).toBe('wasm');
      expect(be.isa).toMatch(/^wasm-/);
      if (variant !== 'relaxed') expect(be.isa).toBe(`wasm-${variant}`);
      expect(be.algorithms.length).toBeGreaterThan(0);
    });

    it('matches the float64 reference on random shapes, every algorithm', async () => {
      const be = await backend(variant);
      for (const algo of be.algorithms) {
        let ran = 0;
        for (let seed = 1; seed <= RANDOM_CASES; seed++) {
          const rng = new Rng(0x5eed0000 + seed);
          const prob = randomProblem(rng, { large: seed % 4 === 0 });
          if (be.supports(prob.p, algo) !== null) continue;
          const c = checkBackend(be, algo, prob);
          if (!c.ok) expect.fail(formatFailure(`wasm-${variant}/${algo} ${prob.tag}`, prob.p, c));
          ran++;
        }
        expect(ran, `${algo} ran on some shapes`).toBeGreaterThan(RANDOM_CASES / 4);
      }
    });

    it('matches every golden forward case, every algorithm', async () => {
      const be = await backend(variant);
      for (const algo of be.algorithms) {
        let ran = 0;
        for (const g of golden) {
          const n = normalizeConv(g.dims, g.input, g.weight, { ...g.options, bias: g.bias });
          if (be.supports(n.params, algo) !== null) continue;
          const out = new Float32Array(g.output.length).fill(-7.5e33);
          be.conv2d(n.params, g.input.data, g.weight.data, n.bias, out, algo);
          const S = convReference(n.params, g.input.data, g.weight.data, n.bias, true);
          const c = compare(out, g.output, S, TOLERANCE[algo]);
          if (!c.ok) expect.fail(formatFailure(`wasm-${variant}/${algo} golden ${g.name}`, n.params, c));
          ran++;
        }
        expect(ran).toBeGreaterThan(0);
      }
    });

    it('per-layer weight stores: 2 layers in turn, hits equal misses bit for bit and match the reference', async () => {
      const be = await backend(variant);
      for (const algo of ['im2col', 'winograd', 'fft'] as const) {
        const rng = new Rng(0x570e + be.algorithms.indexOf(algo));
        const probs = [];
        while (probs.length < 2) {
          const prob = randomProblem(rng, {
            kernel: algo === 'im2col' ? 'any' : algo === 'winograd' ? '3x3s1' : 'stride1',
            large: true,
          });
          if (be.supports(prob.p, algo) === null) probs.push(prob);
        }
        const stores = probs.map(() => be.createWeightStore!());
        const first: Float32Array[] = [];
        for (let round = 0; round < 3; round++) {
          probs.forEach((prob, i) => {
            const { p, input, weight, bias } = prob;
            const out = new Float32Array(p.N * p.K * p.OH * p.OW).fill(-7.5e33);
            be.conv2d(p, input, weight, bias, out, algo, stores[i]);
            if (round === 0) {
              first.push(out);
              const S = convReference(p, input, weight, bias, true);
              const c = compare(
                out,
                convReference(p, input, weight, bias),
                S,
                TOLERANCE[algo],
                planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo])
              );
              if (!c.ok) expect.fail(formatFailure(`wasm-${variant}/${algo} stored ${prob.tag}`, p, c));
            } else {
              expect(
                out.every((v, j) => Object.is(v, first[i][j])),
                `${algo} layer ${i} round ${round}`
              ).toBe(true);
            }
          });
        }
        for (const s of stores) {
          expect(s.bytes).toBeGreaterThan(0);
          s.clear();
          expect(s.bytes).toBe(0);
        }
      }
    });
  });
}

describe('the browser entry point', () => {
  it('runs on js before ready(), on wasm after ready({ wasm: urls })', async () => {
    const g = golden.find((c) => c.op === 'conv2d')!;
    expect(backendInfo().selected).toBe('js');
    await ready({ wasm: { simd: URLS.simd, scalar: URLS.scalar } });
    const info = backendInfo();
    expect(info.available).toMatchObject({ native: false, wasmSimd: true, wasmScalar: true, js: true });
    expect(['simd', 'relaxed']).toContain(info.wasmVariant); // relaxed once the entry point loads it
    expect(info.selected).toBe('wasm');
    expect(explain(g.input, g.weight, { ...g.options, backend: 'wasm' }).isa).toMatch(/^wasm-(relaxed-)?simd$/);
  });

  it('gives the golden answers through conv1d/conv2d on wasm-simd and wasm-scalar', async () => {
    await ready();
    for (const backend of ['wasm-simd', 'wasm-scalar'] as const) {
      for (const g of golden) {
        const opts = { ...g.options, bias: g.bias, backend };
        const y = (g.dims === 2 ? conv2d : conv1d)(g.input, g.weight, opts);
        expect(y.shape).toEqual(g.outputShape);
        const n = normalizeConv(g.dims, g.input, g.weight, opts);
        const S = convReference(n.params, g.input.data, g.weight.data, n.bias, true);
        const c = compare(y.data, g.output, S, TOLERANCE[explain(g.input, g.weight, opts).algorithm]);
        if (!c.ok) expect.fail(formatFailure(`${backend} public API golden ${g.name}`, n.params, c));
      }
    }
  });
});
