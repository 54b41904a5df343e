// Smoke test of the benchmark command: it runs end to end on one small layer, checks every
// implementation's output before timing it, and emits well-formed JSON. (Speed is the bench's job,
// not the tests'.)

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../bench/args.js';
import { efficiencyLine } from '../bench/efficiency.js';
import type { LayerResult, RunResult } from '../bench/results.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(join(tmpdir(), 'fastconv-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench', () => {
  it('--quick --layers L12 runs every implementation, checks outputs, writes JSON and SVG', () => {
    const r = spawnSync(process.execPath, ['dist/bench/run.js', '--quick', '--layers', 'L12', '--no-benny', '--json', '--out', out],
      { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    const text = JSON.stringify(res);
    expect(text).toMatch(/L12/);
    expect(text).toMatch(/ort/i);
    expect(text).not.toMatch(/MISMATCH/);
    expect(readdirSync(out).some((f) => f.endsWith('.svg'))).toBe(true);
    if (res.fastconv.loaded && res.arena === 'native') {
      expect(res.machine.fmaPeak.start).toBeGreaterThan(0);
      expect(res.machine.fmaPeak.end).toBeGreaterThan(0);
    }
  });

  it('--backward checks sampled gradients in float64 and reports GFLOP/s per mode', () => {
    const r = spawnSync(process.execPath, ['dist/bench/run.js', '--backward', '--quick', '--layers', 'L2', '--json'],
      { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const { backward } = JSON.parse(r.stdout);
    expect(backward).toHaveLength(1);
    expect(backward[0].maxRelErr).toBeLessThan(1e-4);
    for (const mode of ['dgrad_wgrad', 'dgrad', 'wgrad']) expect(backward[0].gflops[mode]).toBeGreaterThan(0);
  });

  it('--batch-ms sets the batch length and rejects non-positive values by name', () => {
    expect(parseArgs(['--batch-ms', '2']).batchMs).toBe(2);
    expect(parseArgs([]).batchMs).toBeNull();
    expect(() => parseArgs(['--batch-ms', '0'])).toThrow(/--batch-ms/);
    expect(() => parseArgs(['--batch-ms=x'])).toThrow(RangeError);
  });

  it('states the forced im2col GEMM as a share of the higher of the two FMA peak probes', () => {
    const impl = (algorithm: string, threads: number, gflops: number) =>
      ({ id: `fastconv-native/${algorithm}/${threads}t`, family: 'fastconv', arena: 'native', threads, algorithm, status: 'ok', gflops });
    const layers = [
      { id: 'L4', impls: [impl('im2col', 1, 150), impl('im2col', 2, 290), impl('winograd', 1, 400)] },
      { id: 'L6', impls: [impl('im2col', 1, 120)] },
      { id: 'L9', impls: [impl('fft', 1, 500)] },
    ] as unknown as LayerResult[];
    const machine = { fmaPeak: { isa: 'avx512', start: 180, end: 200 } } as unknown as RunResult['machine'];
    const line = efficiencyLine({ machine, layers, arena: 'native' });
    expect(line).toMatch(/avx512 loop: 180 GFLOP\/s at the start, 200 at the end/);
    expect(line).toMatch(/L4 75%, L6 60%\n$/);
    expect(line).not.toMatch(/L9/);
    expect(efficiencyLine({ machine, layers, arena: 'wasm' })).toBe('');
    expect(efficiencyLine({ machine: { ...machine, fmaPeak: undefined }, layers, arena: 'native' })).toBe('');
  });
});

