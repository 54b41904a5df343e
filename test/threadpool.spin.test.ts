// The native pool's idle threads spin for FASTCONV_SPIN_US before they sleep, and the caller spins as
// long waiting for them (native/threadpool.cc); setNumThreads parks surplus workers rather than
// ending them. Each child process below runs convolutions on 1, 2 and 3 threads with pauses around
// the spin time between them, so that a call finds its workers spinning, asleep, just falling asleep
// or parked, and the caller's wait ends by spin or by sleep; every result must match the float64
// reference. The spin is read once, when the pool starts, hence one process per setting.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectNative, nativeOnly } from './paths.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const distEntry = path.join(root, 'dist', 'src', 'index.node.js');
const distReference = path.join(root, 'dist', 'src', 'backends', 'js.js');

const CHILD = `
const [entry, reference, spinUs] = process.argv.slice(1);
const fc = await import(entry);
const { convReference } = await import(reference);
let seed = 7 + Number(spinUs), ok = 0, twoThreads = 0;
const rnd = (n) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pauses = [0, 0, 1, 2, 3, 5];  // ms: within, around and past the spins tested
for (let i = 0; i < 32; i++) {
  const C = 16 + rnd(12), H = 24 + rnd(12), W = 24 + rnd(12), K = 16 + rnd(12);
  const x = Float32Array.from({ length: C * H * W }, (_, j) => Math.sin(j * 0.37 + i));
  const w = Float32Array.from({ length: K * C * 9 }, (_, j) => Math.cos(j * 0.11 + i));
  const algorithm = ['im2col', 'winograd', 'direct'][i % 3];
  const o = { padding: 1, backend: 'native', algorithm };
  const X = { data: x, shape: [1, C, H, W] }, Wt = { data: w, shape: [K, C, 3, 3] };
  // Thread counts change between calls too: shrinking parks workers, growing wakes or adds them.
  fc.setNumThreads([2, 2, 1, 3][rnd(4)]);
  const e = fc.explain(X, Wt, o);
  if (e.threads >= 2) twoThreads++;
  await sleep(pauses[rnd(pauses.length)]);
  const y = i % 4 === 3 ? await fc.conv2dAsync(X, Wt, o) : fc.conv2d(X, Wt, o);
  const want = convReference(e.params, x, w, null), scale = convReference(e.params, x, w, null, true);
  let bad = 0;
  for (let j = 0; j < want.length; j++) if (!(Math.abs(y.data[j] - want[j]) <= 1e-4 * scale[j])) bad++;
  if (bad) console.log('call ' + i + ' (' + algorithm + '): ' + bad + ' outputs wrong'); else ok++;
}
console.log('ok ' + ok + ' of 32, ' + twoThreads + ' on 2+ threads');
`;

describe.skipIf(!expectNative)(nativeOnly('native pool: spinning and sleeping workers'), () => {
  for (const spinUs of ['0', '1', '1500', '']) {
    it(`FASTCONV_SPIN_US=${spinUs || '(default)'}: 32 calls on 1-3 threads with pauses, sync and async, all right`, () => {
      expect(existsSync(distEntry), 'dist/ is built by `npm test`s pretest (tsc)').toBe(true);
      const env = { ...process.env, FASTCONV_SPIN_US: spinUs, FASTCONV_BACKEND: 'native' };
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, distEntry, distReference, spinUs || '2000'], {
        encoding: 'utf8',
        timeout: 120_000,
        env,
      });
      expect(r.signal, `child killed by ${r.signal}\n${r.stdout}\n${r.stderr}`).toBeNull();
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      const m = /ok (\d+) of 32, (\d+) on 2\+ threads/.exec(r.stdout);
      expect(m, r.stdout + r.stderr).not.toBeNull();
      expect(Number(m![1]), r.stdout).toBe(32);
      // Most calls have 2 or 3 threads and are over the 2 MFLOP split point: the test is void if few
      // ran on several.
      expect(Number(m![2])).toBeGreaterThan(15);
    });
  }
});
