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
import { expectNative, nativeIsas, nativeOnly } from './paths.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(join(tmpdir(), 'fastconv-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench', () => {
  it('--quick --layers L12 runs every implementation, checks outputs, writes JSON and SVG', () => {
    const r = spawnSync(
      process.execPath,
      ['dist/bench/run.js', '--quick', '--layers', 'L12', '--no-benny', '--json', '--out', out],
      { cwd: root, encoding: 'utf8', timeout: 120_000 }
    );
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
    const r = spawnSync(process.execPath, ['dist/bench/run.js', '--backward', '--quick', '--layers', 'L2', '--json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const { backward } = JSON.parse(r.stdout);
    expect(backward).toHaveLength(1);
    expect(backward[0].maxRelErr).toBeLessThan(1e-4);
    for (const mode of ['dgrad_wgrad', 'dgrad', 'wgrad']) expect(backward[0].gflops[mode]).toBeGreaterThan(0);
  });

  // One kernel family at a forced ISA and Winograd tile: every row is that family; a layer it does not
  // run on says why instead of being timed.
  const kernelRun = (args: string[]) => {
    const r = spawnSync(process.execPath, ['dist/bench/run.js', '--quick', '--threads', '1', '--json', '--out', out, ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as RunResult;
  };
  const rows = (res: RunResult) => res.layers.flatMap((l) => l.impls.map((i) => ({ layer: l.id, ...i })));

  it.skipIf(!expectNative)(nativeOnly('--kernel winograd --tile 4 --isa <a lower ISA> times F(4x4) Winograd there only'), () => {
    const isa = nativeIsas().includes('avx2') ? 'avx2' : 'scalar';
    const res = kernelRun(['--kernel', 'winograd', '--tile', '4', '--isa', isa, '--layers', 'L3,L12']);
    expect(res.kernel).toMatchObject({ family: 'winograd', algorithm: 'winograd', tile: 4, isa: `native ${isa}` });
    expect(res.args).toMatchObject({ kernel: 'winograd', tile: 4, isa });
    const all = rows(res);
    expect(all.every((i) => i.family === 'fastconv' && i.algorithm === 'winograd' && i.threads === 1)).toBe(true);
    const l3 = all.find((i) => i.layer === 'L3');
    expect(l3?.status).toBe('ok');
    expect(l3?.gflops).toBeGreaterThan(0);
    expect(l3?.check?.maxRel).toBeLessThan(1e-4);
    const l12 = all.find((i) => i.layer === 'L12');
    expect(l12?.status).toBe('n/a');
    expect(l12?.reason).toMatch(/3x3/);
    expect(res.benny).toEqual([]);
  });

  it('--kernel depthwise --backend wasm --isa scalar: the depthwise layers of the suite on the scalar build', () => {
    const res = kernelRun(['--kernel', 'depthwise', '--backend', 'wasm', '--isa', 'scalar']);
    expect(res.kernel).toMatchObject({ family: 'depthwise', algorithm: 'direct', isa: 'wasm-scalar' });
    // Without --layers: only the layers with one input channel per group (where the depthwise kernels run).
    expect(res.layers.map((l) => l.id)).toContain('L7');
    expect(res.layers.every((l) => l.groups === l.inputShape[1])).toBe(true);
    for (const i of rows(res)) {
      expect(i).toMatchObject({ family: 'fastconv', arena: 'wasm', algorithm: 'direct', status: 'ok' });
      expect(i.gflops).toBeGreaterThan(0);
    }
  });

  it('--kernel, --tile and --isa reject what cannot run, naming the flag', () => {
    expect(parseArgs(['--kernel', 'winograd', '--tile', '2'])).toMatchObject({ kernel: 'winograd', tile: 2, isa: null });
    expect(() => parseArgs(['--kernel', 'gemm'])).toThrow(/--kernel must be one of direct, im2col, winograd, fft, depthwise/);
    expect(() => parseArgs(['--tile', '4'])).toThrow(/--tile applies to --kernel winograd only/);
    expect(() => parseArgs(['--kernel', 'winograd', '--tile', '6'])).toThrow(/--tile must be 2 or 4/);
    expect(() => parseArgs(['--isa', 'simd'])).toThrow(/--isa must be one of avx512, avx2, neon, scalar/);
    expect(() => parseArgs(['--backend', 'wasm', '--isa', 'avx2'])).toThrow(/--isa must be one of relaxed, simd, scalar/);
    expect(() => parseArgs(['--backend', 'js', '--isa', 'scalar'])).toThrow(RangeError);
  });

  it('--batch-ms sets the batch length and rejects non-positive values by name', () => {
    expect(parseArgs(['--batch-ms', '2']).batchMs).toBe(2);
    expect(parseArgs([]).batchMs).toBeNull();
    expect(() => parseArgs(['--batch-ms', '0'])).toThrow(/--batch-ms/);
    expect(() => parseArgs(['--batch-ms=x'])).toThrow(RangeError);
  });

  it('states the forced im2col GEMM as a share of the higher of the two FMA peak probes', () => {
    const impl = (algorithm: string, threads: number, gflops: number) => ({
      id: `fastconv-native/${algorithm}/${threads}t`,
      family: 'fastconv',
      arena: 'native',
      threads,
      algorithm,
      status: 'ok',
      gflops,
    });
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
