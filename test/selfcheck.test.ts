// The two selfcheck scripts (`npm run selfcheck:native`, `npm run selfcheck:wasm`) in quick mode, so
// that they cannot rot unnoticed again (the wasm one failed at its first import, and nothing ran it). Each
// must exit 0, say OK, and report a case run for every ISA or build x algorithm its header claims.

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS } from '../src/backends/types.js';
import { wasmRelaxedSimdSupported, wasmSimdSupported } from '../src/backends/wasm.js';
import { expectNative, nativeIsas, nativeOnly } from './paths.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The "coverage ...: key n, key n" line both scripts print: cases run per ISA-or-build/algorithm. */
function coverage(out: string): Map<string, number> {
  const line = out.split('\n').find((l) => l.startsWith('coverage'));
  if (!line) throw new Error(`no coverage line in:\n${out}`);
  return new Map([...line.slice(line.indexOf(':') + 1).matchAll(/(\S+\/\S+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

describe('assembly/selfcheck.mjs', () => {
  it('--cases 20: every wasm build x algorithm against the float64 reference and the golden cases', () => {
    // Relaxed SIMD validates in Node 20 only behind this flag; the script checks it wherever it runs.
    const r = run(['--experimental-wasm-relaxed-simd', 'assembly/selfcheck.mjs', '--cases', '20']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/^selfcheck OK$/m);
    expect(r.out).toMatch(/^golden: [1-9]\d* forward cases/m);
    expect(r.out).toMatch(/^bad inputs: all rejected with RangeError$/m);
    const builds = ['wasm-scalar'];
    if (wasmSimdSupported()) builds.push('wasm-simd');
    if (wasmRelaxedSimdSupported()) builds.push('wasm-relaxed-simd');
    const ran = coverage(r.out);
    // Every algorithm, and Winograd at both tiles (forced through the winogradTile knob).
    for (const b of builds) {
      for (const a of [...ALGORITHMS, 'winograd-f2', 'winograd-f4'])
        expect(ran.get(`${b}/${a}`) ?? 0, `${b}/${a}`).toBeGreaterThan(0);
    }
  });
});

describe.skipIf(!expectNative)(nativeOnly('native/selfcheck.mjs'), () => {
  it('--cases 20: every native ISA x algorithm against the float64 reference and the golden cases', () => {
    const r = run(['native/selfcheck.mjs', '--cases', '20']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/^selfcheck: OK$/m);
    expect(r.out).toMatch(/^golden: [1-9]\d* forward cases/m);
    const ran = coverage(r.out);
    for (const isa of nativeIsas()) {
      for (const a of [...ALGORITHMS, 'winograd-f2', 'winograd-f4'])
        expect(ran.get(`${isa}/${a}`) ?? 0, `${isa}/${a}`).toBeGreaterThan(0);
    }
  });
});
