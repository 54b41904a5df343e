// Concurrency: 1,000 conv2dAsync calls in flight at once with different shapes; 4 worker_threads, each
// importing fastconv (the compiled dist/, as a user would) and using the addon at the same time as the
// main thread; and a worker terminated in the middle of a native call, after which the process (and a
// new worker) still compute correctly.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { Tensor } from '../src/index.node.js';
import { backendInfo, conv1dAsync, conv2d, conv2dAsync } from '../src/index.node.js';
import { channelsLastToFirst } from '../src/layout.js';
import { normalizeConv } from '../src/shape.js';
import { expectNative, nativeOnly, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';
import { compare, NORMWISE_TOLERANCE, planeSlack, randomCall, TOLERANCE } from './tester.js';

afterAll(restoreNativeIsa);

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const distEntry = path.join(root, 'dist', 'src', 'index.node.js');
const distReference = path.join(root, 'dist', 'src', 'backends', 'js.js');
const haveNative = () => backendInfo().available.native;

/** Checks a result against the float64 reference (the call's own layout); returns an error or ''. */
function verify(call: ReturnType<typeof randomCall>, y: Tensor, algoTol = TOLERANCE.fft): string {
  const n = normalizeConv(call.dims, call.input, call.weight, call.options);
  const p = n.params;
  const cl = n.channelsLast;
  const x = cl ? channelsLastToFirst(call.input.data, p.N, p.H * p.W, p.C) : call.input.data;
  const got = cl ? channelsLastToFirst(y.data, p.N, p.OH * p.OW, p.K) : y.data;
  const want = convReference(p, x, call.weight.data, n.bias);
  const S = convReference(p, x, call.weight.data, n.bias, true);
  const c = compare(got, want, S, algoTol, planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE.fft));
  return c.ok
    ? ''
    : `${c.mismatches.length} wrong, e.g. [${c.mismatches[0].index}] got ${c.mismatches[0].got} want ${c.mismatches[0].want}`;
}

describe('concurrency', () => {
  it('1,000 concurrent conv2dAsync/conv1dAsync calls with different shapes all return correct results', async () => {
    const rng = new Rng(99);
    const calls = Array.from({ length: 1000 }, () => randomCall(rng));
    // Every one in flight before any is awaited; backends alternate (auto, native, wasm, js).
    const choices = ['auto', 'native', 'wasm', 'js'] as const;
    const pending = calls.map((c, i) => {
      const backend = choices[i % 4] === 'native' && !haveNative() ? 'auto' : choices[i % 4];
      const o = { ...c.options, backend };
      return c.dims === 2 ? conv2dAsync(c.input, c.weight, o) : conv1dAsync(c.input, c.weight, o);
    });
    const results = await Promise.all(pending);
    const bad = results
      .map((y, i) => verify(calls[i], y))
      .map((e, i) => (e ? `call ${i}: ${e}` : ''))
      .filter(Boolean);
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it.skipIf(!expectNative)(
    nativeOnly('4 worker_threads importing fastconv use the addon at the same time as the main thread'),
    async () => {
      expect(existsSync(distEntry), 'dist/ is built by `npm test`s pretest (tsc)').toBe(true);
      const workers = Array.from(
        { length: 4 },
        (_, id) =>
          new Worker(WORKER_CALLS, {
            eval: true,
            workerData: { entry: distEntry, reference: distReference, id, calls: 60 },
          })
      );
      const done = workers.map(
        (w) =>
          new Promise<{ id: number; ok: number; errors: string[]; isa: string }>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
          })
      );
      // The main thread keeps the addon busy meanwhile.
      const rng = new Rng(5);
      for (let i = 0; i < 40; i++) {
        const c = randomCall(rng, { oneD: false });
        const y = conv2d(c.input, c.weight, { ...c.options, backend: 'native' });
        expect(verify(c, y)).toBe('');
      }
      const reports = await Promise.all(done);
      for (const r of reports) {
        expect(r.errors, `worker ${r.id}`).toEqual([]);
        expect(r.ok).toBe(60);
        expect(r.isa).not.toBe('');
      }
      await Promise.all(workers.map((w) => w.terminate()));
    }
  );

  // In a child process, so that a crash fails the test instead of killing the runner. The main thread
  // holds the addon too (as any process using fastconv on its main thread does). Before the fix in
  // native/addon.cc (ConvWorker::OnOK/OnError swallow the Napi::Error thrown while the worker's
  // environment is torn down) this aborted the whole process every time.
  it.skipIf(!expectNative)(nativeOnly('a worker terminated mid-call (async and sync) leaves the process healthy'), () => {
    expect(terminateMidCall('main-first').ok).toBe(true);
  });

  // When only workers loaded the addon, the last one to go unloaded it (dlclose) while the persistent
  // thread pool still ran code in it: SIGSEGV in ~5 of 6 runs. binding.gyp links with -z nodelete.
  it.skipIf(!expectNative)(nativeOnly('workers alone: the last worker exiting mid-call leaves the process healthy'), () => {
    for (let i = 0; i < 3; i++) expect(terminateMidCall('workers-only').ok).toBe(true);
  });
});

function terminateMidCall(order: 'main-first' | 'workers-only'): { ok: true } {
  expect(existsSync(distEntry), 'dist/ is built by `npm test`s pretest (tsc)').toBe(true);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', TERMINATE_MID_CALL, distEntry, distReference, order], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.signal, `child killed by ${r.signal}\n${r.stdout}\n${r.stderr}`).toBeNull();
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/terminated 4 workers mid-call; 20 calls after: ok; new worker: ok/);
  return { ok: true };
}

/** Worker: `calls` async and sync native convolutions of assorted shapes, each checked against the reference. */
const WORKER_CALLS = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const fc = await import(workerData.entry);
  const { convReference } = await import(workerData.reference);
  let seed = 1000 + workerData.id, ok = 0; const errors = [];
  const rnd = (n) => 1 + ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let i = 0; i < workerData.calls; i++) {
    const N = rnd(2), C = rnd(16), H = 4 + rnd(20), W = 4 + rnd(20), K = rnd(16), R = rnd(3), S = rnd(3);
    const x = Float32Array.from({ length: N * C * H * W }, (_, j) => Math.sin(j + i));
    const w = Float32Array.from({ length: K * C * R * S }, (_, j) => Math.cos(j * 3 + i));
    const o = { padding: [R >> 1, S >> 1], backend: 'native' };
    const y = i % 2 ? await fc.conv2dAsync({ data: x, shape: [N, C, H, W] }, { data: w, shape: [K, C, R, S] }, o)
                    : fc.conv2d({ data: x, shape: [N, C, H, W] }, { data: w, shape: [K, C, R, S] }, o);
    const p = fc.explain({ data: x, shape: [N, C, H, W] }, { data: w, shape: [K, C, R, S] }, o).params;
    const want = convReference(p, x, w, null), scale = convReference(p, x, w, null, true);
    let bad = 0;
    for (let j = 0; j < want.length; j++) if (!(Math.abs(y.data[j] - want[j]) <= 1e-4 * scale[j] + 1e-30)) bad++;
    if (bad) errors.push('call ' + i + ': ' + bad + ' outputs wrong'); else ok++;
  }
  parentPort.postMessage({ id: workerData.id, ok, errors, isa: fc.backendInfo().isa });
})().catch((e) => parentPort.postMessage({ id: workerData.id, ok: 0, errors: [String(e && e.stack || e)], isa: '' }));
`;

/**
 * Child process: 4 workers each start a long native convolution (the generic direct loop, ~0.5 s) and
 * are terminated as soon as they say so (async, sync, async, async); then 20 calls in this process and
 * one in a new worker must still be right.
 */
const TERMINATE_MID_CALL = `
import { Worker } from 'node:worker_threads';
const [entry, reference, order] = process.argv.slice(1);
const early = order === 'main-first' ? await import(entry) : null;
const long = \`
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const fc = await import(workerData.entry);
  const x = { data: new Float32Array(2 * 48 * 48 * 48).fill(1), shape: [2, 48, 48, 48] };
  const w = { data: new Float32Array(48 * 48 * 9).fill(1), shape: [48, 48, 3, 3] };
  const o = { padding: 1, backend: 'native', algorithm: 'direct' };
  if (workerData.sync) { parentPort.postMessage('started'); fc.conv2d(x, w, o); }
  else { const p = fc.conv2dAsync(x, w, o); parentPort.postMessage('started'); await p; }
})();\`;
for (const sync of [false, true, false, false]) {
  const w = new Worker(long, { eval: true, execArgv: [], workerData: { entry, sync } });
  await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await w.terminate();
}
const fc = await import(entry);
const { convReference } = await import(reference);
let bad = 0;
for (let i = 0; i < 20; i++) {
  const C = 1 + (i % 5), K = 2 + (i % 3), H = 5 + i, W = 7 + (i % 4);
  const x = { data: Float32Array.from({ length: C * H * W }, (_, j) => Math.sin(j + i)), shape: [1, C, H, W] };
  const w = { data: Float32Array.from({ length: K * C * 9 }, (_, j) => Math.cos(j)), shape: [K, C, 3, 3] };
  const o = { padding: 1, backend: 'native' };
  const y = i % 2 ? fc.conv2d(x, w, o) : await fc.conv2dAsync(x, w, o);
  const p = fc.explain(x, w, o).params;
  const want = convReference(p, x.data, w.data, null);
  if (want.some((v, j) => !(Math.abs(v - y.data[j]) <= 1e-4 * (1 + Math.abs(v))))) bad++;
}
const nw = new Worker(long.replace("algorithm: 'direct'", "algorithm: 'auto'").replace('[2, 48, 48, 48]', '[1, 48, 8, 8]').replace('2 * 48 * 48 * 48', '48 * 64').replace("parentPort.postMessage('started'); await p;", "await p; parentPort.postMessage('done');"), { eval: true, execArgv: [], workerData: { entry, sync: false } });
const last = await new Promise((resolve, reject) => { nw.once('message', resolve); nw.once('error', reject); });
await nw.terminate();
console.log('terminated 4 workers mid-call; 20 calls after: ' + (bad ? bad + ' wrong' : 'ok') + '; new worker: ' + (last === 'done' ? 'ok' : last));
`;
