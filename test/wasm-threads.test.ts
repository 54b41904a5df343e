// The threaded wasm builds: one call split across a pool of worker_threads sharing one
// WebAssembly.Memory. Every algorithm on many random shapes (odd sizes, stride, dilation, groups,
// padding, batch) against the float64 reference through the shared tester, at 1, 2 and 3 threads,
// sync and async; concurrent async calls; sync calls while an async call waits for its workers; the
// split itself without workers (run() computes every slice in turn); dispose.

import { afterAll, describe, expect, it } from 'vitest';
import type { Algorithm } from '../src/backends/types.js';
import { ALGORITHMS } from '../src/backends/types.js';
import type { WasmBackend, WasmVariant } from '../src/backends/wasm.js';
import { createWasmBackend, wasmSimdSupported } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';
import { spawnNodeWorker } from '../src/backends/wasm-pool.node.js';
import { convReference } from '../src/backends/js.js';
import { Rng } from './random.js';
import type { ConvProblem, ShapeSpace } from './tester.js';
import { checkBackend, compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, randomProblem, TOLERANCE } from './tester.js';

const module = (v: WasmVariant | 'simd-threads') => new WebAssembly.Module(loadWasmBytes(v as WasmVariant) as BufferSource);
const threadedModule = module('simd-threads');

function threaded(threads: number): WasmBackend {
  const be = createWasmBackend(module('simd'), 'simd', { module: threadedModule, spawn: spawnNodeWorker, canBlock: true, threads });
  be.minFlopsPerThread = 0; // split every call, however small
  return be;
}

const SPACE: Record<Algorithm, ShapeSpace> = {
  direct: { large: true }, im2col: { large: true }, winograd: { kernel: '3x3s1', large: true }, fft: { kernel: 'stride1', large: true },
};

function problems(algo: Algorithm, count: number, seed: number, be: WasmBackend): ConvProblem[] {
  const rng = new Rng(seed);
  const out: ConvProblem[] = [];
  while (out.length < count) {
    const prob = randomProblem(rng, SPACE[algo]);
    if (be.supports(prob.p, algo) === null) out.push(prob);
  }
  return out;
}

const backends = new Map<number, WasmBackend>();
const pool = (t: number) => { let b = backends.get(t); if (!b) { b = threaded(t); backends.set(t, b); } return b; };
afterAll(() => { for (const b of backends.values()) b.dispose(); });

describe.runIf(wasmSimdSupported())('wasm threads', () => {
  it('reports its threads, and threads are on', () => {
    const be = pool(3);
    expect(be.threadsOff).toBeNull();
    expect(be.threads).toBe(3);
  });

  for (const algo of ALGORITHMS) {
    for (const t of [1, 2, 3]) {
      it(`${algo}: ${t} thread(s), sync, 30 random shapes match the reference`, () => {
        const be = pool(t);
        for (const prob of problems(algo, 30, 1000 * t + ALGORITHMS.indexOf(algo), be)) {
          const c = checkBackend(be, algo, prob);
          if (!c.ok) throw new Error(formatFailure(`wasm-threads ${t}/${algo}`, prob.p, c));
        }
      });
    }
    it(`${algo}: 2 threads, async, 15 random shapes match the reference`, async () => {
      const be = pool(2);
      for (const prob of problems(algo, 15, 77 + ALGORITHMS.indexOf(algo), be)) {
        const { p, input, weight, bias } = prob;
        const want = convReference(p, input, weight, bias), S = convReference(p, input, weight, bias, true);
        const out = new Float32Array(want.length).fill(-7.5e33);
        await be.conv2dAsync(p, input, weight, bias, out, algo);
        const c = compare(out, want, S, TOLERANCE[algo], planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo]));
        if (!c.ok) throw new Error(formatFailure(`wasm-threads async/${algo}`, p, c));
      }
    });
  }
});
