// The set-up contract: in a checkout `npm install` builds the addon (prepare) and it is selected; if
// the C++ build fails the install still succeeds with one line of explanation, and fastconv runs on
// wasm. The published package runs no install script at all (it ships prebuilds: test/prebuild.test.ts,
// test/pack/consumer.mjs).

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { backendInfo } from '../src/index.node.js';
import { expectNative, nativeOnly } from './paths.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const scratch = mkdtempSync(join(tmpdir(), 'fastconv-install-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('install', () => {
  it.skipIf(!expectNative)(nativeOnly('the native addon was built and is what auto selects'), () => {
    expect(existsSync(join(root, 'build', 'Release', 'fastconv.node'))).toBe(true);
    const info = backendInfo();
    expect(info.available.native, JSON.stringify(info.errors)).toBe(true);
    expect(info.selected).toBe('native');
  });

  it('installing the package runs no script and compiles nothing; a checkout builds the addon at prepare', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const s of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts[s], s).toBeUndefined();
    // npm would otherwise add `node-gyp rebuild` as the install script of a package with a binding.gyp.
    expect(pkg.gypfile).toBe(false);
    expect(pkg.files).not.toContain('binding.gyp');
    expect(pkg.scripts.prepare).toMatch(/node native\/install\.mjs/);
    expect(pkg.scripts.prepack).toBe('node native/prebuild.mjs');
  });

  it('a failing C++ build (CXX=false) still exits 0 and prints one line', () => {
    const dir = join(scratch, 'broken-build');
    for (const f of ['package.json', 'binding.gyp', 'native']) cpSync(join(root, f), join(dir, f), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const r = spawnSync(process.execPath, ['native/install.mjs'], {
      cwd: dir,
      env: { ...process.env, CXX: 'false', CC: 'false' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = (r.stdout + r.stderr)
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/fastconv: native addon not built.*WebAssembly/);
    expect(existsSync(join(dir, 'build', 'Release', 'fastconv.node'))).toBe(false);
  });

  it('without the addon, fastconv selects wasm and computes correctly', () => {
    const dir = join(scratch, 'no-addon');
    for (const f of ['package.json', 'dist', join('assembly', 'build')]) cpSync(join(root, f), join(dir, f), { recursive: true });
    const script = `
      const m = await import('./dist/src/index.node.js');
      const x = { data: Float32Array.from({ length: 2 * 3 * 9 * 9 }, (_, i) => Math.sin(i)), shape: [2, 3, 9, 9] };
      const w = { data: Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.cos(i)), shape: [4, 3, 3, 3] };
      const y = m.conv2d(x, w, { padding: 1 });
      const r = m.conv2d(x, w, { padding: 1, backend: 'js' });
      let err = 0; for (let i = 0; i < r.data.length; i++) err = Math.max(err, Math.abs(y.data[i] - r.data[i]));
      console.log(JSON.stringify({ info: m.backendInfo(), err, shape: y.shape }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { info, err, shape } = JSON.parse(r.stdout);
    expect(info.available.native).toBe(false);
    expect(info.errors.native).toBeTruthy();
    expect(info.selected).toBe('wasm');
    expect(shape).toEqual([2, 4, 9, 9]);
    expect(err).toBeLessThan(1e-4);
  });
});
