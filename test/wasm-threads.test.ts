// The threaded wasm builds: one call split across a pool of worker_threads sharing one
// WebAssembly.Memory. Every algorithm on many random shapes (odd sizes, stride, dilation, groups,
// padding, batch) against the float64 reference through the shared tester, at 1, 2 and 3 threads,
// sync and async; workers alone computing every chunk while thread 0 idles; run() on one instance
// laid out for several threads; concurrent async calls; sync calls while an async call waits for its
// workers; the public API; dispose.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { Algorithm } from '../src/backends/types.js';
import { ALGORITHM_CODE, ALGORITHMS, PARAM_FIELDS, packParams } from '../src/backends/types.js';
import type { WasmBackend, WasmVariant } from '../src/backends/wasm.js';
import { createWasmBackend, wasmSimdSupported } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';
import { WasmPool } from '../src/backends/wasm-pool.js';
import { spawnNodeWorker } from '../src/backends/wasm-pool.node.js';
import { conv2d, conv2dAsync, explain, setNumThreads } from '../src/index.node.js';
import { Rng } from './random.js';
import type { ConvProblem, ShapeSpace } from './tester.js';
import { checkBackend, compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, randomProblem, TOLERANCE } from './tester.js';

const module = (v: WasmVariant | 'simd-threads') => new WebAssembly.Module(loadWasmBytes(v as WasmVariant) as BufferSource);
const threadedModule = module('simd-threads');

function threaded(threads: number): WasmBackend {
  const be = createWasmBackend(module('simd'), 'simd', {
    module: threadedModule,
    spawn: spawnNodeWorker,
    canBlock: true,
    threads,
  });
  be.minFlopsPerThread = 0; // split every call, however small
  return be;
}

const SPACE: Record<Algorithm, ShapeSpace> = {
  direct: { large: true },
  im2col: { large: true },
  winograd: { kernel: '3x3s1', large: true },
  fft: { kernel: 'stride1', large: true },
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
const pool = (t: number) => {
  let b = backends.get(t);
  if (!b) {
    b = threaded(t);
    backends.set(t, b);
  }
  return b;
};
afterAll(() => {
  for (const b of backends.values()) b.dispose();
});

describe.runIf(wasmSimdSupported())('wasm threads', () => {
  it('reports its threads, and threads are on', () => {
    const be = pool(3);
    expect(be.threadsOff).toBeNull();
    expect(be.threads).toBe(3);
  });

  for (const algo of ALGORITHMS) {
    for (const t of [1, 2, 3]) {
      it(`${algo}: ${t} thread(s), sync, 20 random shapes match the reference`, () => {
        const be = pool(t);
        for (const prob of problems(algo, 20, 1000 * t + ALGORITHMS.indexOf(algo), be)) {
          const c = checkBackend(be, algo, prob);
          if (!c.ok) throw new Error(formatFailure(`wasm-threads ${t}/${algo}`, prob.p, c));
        }
      });
    }
    it(`${algo}: 2 threads, async, 10 random shapes match the reference`, async () => {
      const be = pool(2);
      for (const prob of problems(algo, 10, 77 + ALGORITHMS.indexOf(algo), be)) {
        const { p, input, weight, bias } = prob;
        const want = convReference(p, input, weight, bias),
          S = convReference(p, input, weight, bias, true);
        const out = new Float32Array(want.length).fill(-7.5e33);
        await be.conv2dAsync(p, input, weight, bias, out, algo);
        const c = compare(out, want, S, TOLERANCE[algo], planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo]));
        if (!c.ok) throw new Error(formatFailure(`wasm-threads async/${algo}`, p, c));
      }
    });
  }

  it('run() on one instance laid out for 2 and 5 threads (slice 0 claims every chunk, dilated phases go round-robin) matches the reference', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
    const ex = new WebAssembly.Instance(threadedModule, { env: { memory } }).exports as unknown as {
      paramsPtr(): number;
      prepare(...a: number[]): number;
      run(algo: number): number;
      inputPtr(): number;
      weightPtr(): number;
      biasPtr(): number;
      outputPtr(): number;
    };
    const be = pool(1);
    for (const algo of ALGORITHMS) {
      for (const slices of [2, 5]) {
        for (const prob of problems(algo, 6, 500 + 10 * slices + ALGORITHMS.indexOf(algo), be)) {
          const { p, input, weight, bias } = prob;
          const outLen = p.N * p.K * p.OH * p.OW;
          packParams(p, new Int32Array(memory.buffer, ex.paramsPtr(), PARAM_FIELDS.length));
          expect(ex.prepare(ALGORITHM_CODE[algo], input.length, weight.length, bias ? bias.length : 0, outLen, slices)).toBe(0);
          new Float32Array(memory.buffer, ex.inputPtr(), input.length).set(input);
          new Float32Array(memory.buffer, ex.weightPtr(), weight.length).set(weight);
          if (bias) new Float32Array(memory.buffer, ex.biasPtr(), bias.length).set(bias);
          expect(ex.run(ALGORITHM_CODE[algo])).toBe(0);
          const out = new Float32Array(memory.buffer, ex.outputPtr(), outLen).slice();
          const S = convReference(p, input, weight, bias, true);
          const c = compare(
            out,
            convReference(p, input, weight, bias),
            S,
            TOLERANCE[algo],
            planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo])
          );
          if (!c.ok) throw new Error(formatFailure(`wasm split ${slices}/${algo}`, p, c));
        }
      }
    }
  });

  it('workers alone: with thread 0 idle until they finish, two workers compute every claimed chunk correctly', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
    const ex = new WebAssembly.Instance(threadedModule, { env: { memory } }).exports as unknown as {
      paramsPtr(): number;
      prepare(...a: number[]): number;
      beginRun(algo: number): number;
      runSlice(i: number): number;
      finishRun(): number;
      inputPtr(): number;
      weightPtr(): number;
      biasPtr(): number;
      outputPtr(): number;
    };
    const workers = new WasmPool(threadedModule, memory, spawnNodeWorker);
    try {
      expect(workers.waitReady(3)).toBe(3);
      const be = pool(1);
      for (const algo of ALGORITHMS) {
        for (const prob of problems(algo, 5, 700 + ALGORITHMS.indexOf(algo), be)) {
          const { p, input, weight, bias } = prob;
          const outLen = p.N * p.K * p.OH * p.OW;
          packParams(p, new Int32Array(memory.buffer, ex.paramsPtr(), PARAM_FIELDS.length));
          expect(ex.prepare(ALGORITHM_CODE[algo], input.length, weight.length, bias ? bias.length : 0, outLen, 3)).toBe(0);
          new Float32Array(memory.buffer, ex.inputPtr(), input.length).set(input);
          new Float32Array(memory.buffer, ex.weightPtr(), weight.length).set(weight);
          if (bias) new Float32Array(memory.buffer, ex.biasPtr(), bias.length).set(bias);
          new Float32Array(memory.buffer, ex.outputPtr(), outLen).fill(-7.5e33);
          expect(ex.beginRun(ALGORITHM_CODE[algo])).toBe(0);
          expect(workers.runSync(3, () => {})).toBe(0);
          // Thread 0 now finds no chunk left; it still computes the dilation phases dealt to it.
          expect(ex.runSlice(0)).toBe(0);
          expect(ex.finishRun()).toBe(0);
          const out = new Float32Array(memory.buffer, ex.outputPtr(), outLen).slice();
          const S = convReference(p, input, weight, bias, true);
          const c = compare(
            out,
            convReference(p, input, weight, bias),
            S,
            TOLERANCE[algo],
            planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo])
          );
          if (!c.ok) throw new Error(formatFailure(`wasm workers alone/${algo}`, p, c));
        }
      }
    } finally {
      workers.dispose();
    }
  });

  it('conv1d rows long enough to be cut into column pieces (im2col), at 2 and 3 threads', () => {
    const rng = new Rng(99);
    for (const t of [2, 3]) {
      for (const [C, K, W, S, pad, N] of [
        [7, 9, 517, 5, 2, 1],
        [16, 12, 1024, 3, 1, 2],
        [5, 4, 130, 7, 0, 1],
        [3, 33, 300, 1, 0, 1],
      ]) {
        const OW = W + 2 * pad - S + 1;
        const p = {
          N,
          C,
          H: 1,
          W,
          K,
          R: 1,
          S,
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
          OW,
          relu: false,
        };
        const prob: ConvProblem = {
          p,
          input: rng.floats(N * C * W),
          weight: rng.floats(K * C * S),
          bias: rng.floats(K),
          tag: 'conv1d pieces',
        };
        for (const algo of ['im2col', 'winograd'] as const) {
          if (pool(t).supports(p, algo) !== null) continue;
          const c = checkBackend(pool(t), algo, prob);
          if (!c.ok) throw new Error(formatFailure(`wasm-threads ${t}/${algo} conv1d`, p, c));
        }
      }
    }
  });

  it('many concurrent async calls (every algorithm, mixed shapes) each get their own result', async () => {
    const be = pool(2);
    const jobs = ALGORITHMS.flatMap((algo) =>
      problems(algo, 6, 900 + ALGORITHMS.indexOf(algo), be).map((prob) => ({ algo, prob }))
    );
    const outs = jobs.map(({ prob }) => new Float32Array(prob.p.N * prob.p.K * prob.p.OH * prob.p.OW).fill(-7.5e33));
    await Promise.all(jobs.map(({ algo, prob }, i) => be.conv2dAsync(prob.p, prob.input, prob.weight, prob.bias, outs[i], algo)));
    jobs.forEach(({ algo, prob }, i) => {
      const { p, input, weight, bias } = prob;
      const S = convReference(p, input, weight, bias, true);
      const c = compare(
        outs[i],
        convReference(p, input, weight, bias),
        S,
        TOLERANCE[algo],
        planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo])
      );
      if (!c.ok) throw new Error(formatFailure(`wasm-threads concurrent/${algo}`, p, c));
    });
  });

  it('a sync call while async calls wait for their workers runs on its own instance, and all are right', async () => {
    const be = pool(2);
    const [a, b] = problems('winograd', 2, 31, be);
    const want = (q: ConvProblem) => convReference(q.p, q.input, q.weight, q.bias);
    const outA = new Float32Array(want(a).length),
      outB = new Float32Array(want(b).length);
    const pending = be.conv2dAsync(a.p, a.input, a.weight, a.bias, outA, 'winograd');
    be.conv2d(b.p, b.input, b.weight, b.bias, outB, 'winograd');
    await pending;
    for (const [q, out] of [
      [a, outA],
      [b, outB],
    ] as const) {
      const S = convReference(q.p, q.input, q.weight, q.bias, true);
      expect(compare(out, want(q), S, TOLERANCE.winograd, planeSlack(S, q.p.OH * q.p.OW, 0)).ok).toBe(true);
    }
  });

  it('small convolutions stay on one thread unless told otherwise; the count is capped at 64', () => {
    const be = threaded(4);
    be.minFlopsPerThread = 4e6;
    expect(be.threads).toBe(4);
    be.setThreads(1000);
    expect(be.threads).toBe(64);
    be.dispose();
    expect(be.threads).toBe(1);
    expect(be.threadsOff).toMatch(/disposed/);
    // Still computes, single-threaded.
    const [prob] = problems('im2col', 1, 5, be);
    expect(checkBackend(be, 'im2col', prob).ok).toBe(true);
  });

  it('without a threaded build the backend says why threads are off', () => {
    const be = createWasmBackend(module('scalar'), 'scalar');
    expect(be.threads).toBe(1);
    expect(be.threadsOff).toMatch(/threads are off/);
  });

  it('public API: setNumThreads reaches wasm, explain reports it, and sync/async results equal the 1-thread ones', async () => {
    const x = { data: new Rng(1).floats(2 * 32 * 40 * 40), shape: [2, 32, 40, 40] };
    const w = { data: new Rng(2).floats(48 * 32 * 9), shape: [48, 32, 3, 3] };
    const opts = { padding: 1, backend: 'wasm' as const, bias: new Rng(3).floats(48) };
    setNumThreads(1);
    expect(explain(x, w, opts).threads).toBe(1);
    const one = conv2d(x, w, opts);
    setNumThreads(2);
    try {
      expect(explain(x, w, opts).threads).toBe(2);
      expect(conv2d(x, w, opts).data).toEqual(one.data);
      const many = await Promise.all(Array.from({ length: 6 }, () => conv2dAsync(x, w, opts)));
      for (const r of many) expect(r.data).toEqual(one.data);
    } finally {
      setNumThreads(1);
    }
  });
});

describe('wasm pool with a worker that dies before it is ready', () => {
  // A worker whose script fails to load never writes its control slot; the pool used to wait
  // READY_TIMEOUT_MS (10 s) for it on every call. Now its death marks it failed at once.
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
  // Workers that die at once (while the pool still spawns) or a little later.
  const dying = (now: boolean) => () => ({
    postMessage() {},
    terminate() {},
    onDeath(died: () => void) {
      if (now) died();
      else setTimeout(died, 5);
    },
  });
  it('sync: waitReady returns 1 thread within a second and the pool says why', () => {
    const p = new WasmPool(threadedModule, memory, dying(true));
    const t0 = Date.now();
    expect(p.waitReady(2)).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(p.failure).toMatch(/worker 1 did not start/);
    p.dispose();
  });
  it('async: whenReady returns 1 thread within a second and the pool says why', async () => {
    const p = new WasmPool(threadedModule, memory, dying(false));
    const t0 = Date.now();
    expect(await p.whenReady(3)).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(p.failure).toMatch(/worker 1 did not start/);
    p.dispose();
  });
});

// A script whose last work is `await conv2dAsync(...)` on the threaded wasm build: the workers are
// unref'd and a pending Atomics.waitAsync holds nothing on Node's loop, so the process used to exit
// (code 13, "unsettled top-level await") whenever its own slice finished before the workers'. Run as
// a separate process: inside vitest the runner's own handles keep the loop alive and hide it. It runs
// under `node --input-type=module -e`, whose flag the workers used to inherit (they then failed to load).
describe('wasm threads in a plain Node script', () => {
  it('await conv2dAsync(...) as the last statement finishes and prints the right result (200 calls in a row)', () => {
    const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'index.node.js');
    expect(existsSync(entry), 'dist/ is built by `npm test`s pretest (tsc)').toBe(true);
    const script = `
      import { conv2d, conv2dAsync, explain, setNumThreads } from ${JSON.stringify(pathToFileURL(entry).href)};
      const x = { data: Float32Array.from({ length: 16 * 48 * 48 }, (_, i) => Math.sin(i)), shape: [1, 16, 48, 48] };
      const w = { data: Float32Array.from({ length: 16 * 16 * 9 }, (_, i) => Math.cos(i)), shape: [16, 16, 3, 3] };
      const opts = { padding: 1, backend: 'wasm-simd' };
      const want = conv2d(x, w, opts).data;
      setNumThreads(2);
      if (explain(x, w, opts).threads !== 2) throw new Error('the call does not split: ' + explain(x, w, opts).threads);
      let same = 0;
      for (let i = 0; i < 200; i++) {
        const y = await conv2dAsync(x, w, opts);
        if (y.data.every((v, j) => v === want[j])) same++;
      }
      console.log('same ' + same);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('same 200');
  });
});
