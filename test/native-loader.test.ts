// The native addon loader's order and its messages (src/backends/native-loader.ts), on a simulated
// host: which file loads (a local build, else the prebuild for this platform/arch/libc, else none),
// what backendInfo() is told about the others, when a Node process is warned (once, where a prebuild
// or a build was expected) and what the warning says to do. The real files are exercised by
// test/prebuild.test.ts and the packed package by test/pack/consumer.mjs.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoaderHost } from '../src/backends/native-loader.js';
import { loadNativeAddon, nodeHost, PREBUILT_PLATFORMS, platformKey } from '../src/backends/native-loader.js';

const ROOT = '/pkg/node_modules/fastconv';
const LOCAL = path.join(ROOT, 'build/Release/fastconv.node');
const prebuild = (key: string) => path.join(ROOT, `prebuilds/${key}/fastconv.node`);
const MANIFEST = path.join(ROOT, 'prebuilds/manifest.json');

interface Fake extends LoaderHost {
  loads: string[];
  warnings: string[];
}

/** `files` maps a path to what loading it gives: an addon object, or an Error it throws. */
function host(files: Record<string, object | Error>, over: Partial<LoaderHost> = {}): Fake {
  const h: Fake = {
    root: ROOT,
    platform: 'linux',
    arch: 'x64',
    libc: { family: 'glibc', version: '2.36' },
    env: {},
    exists: (f) => f in files,
    readText: (f) => {
      if (f === MANIFEST && f in files)
        return JSON.stringify({ 'linux-x64': { glibc: '2.34' }, 'linux-arm64': { glibc: '2.34' } });
      throw new Error(`ENOENT ${f}`);
    },
    load: (f) => {
      h.loads.push(f);
      const v = files[f];
      if (v === undefined) throw new Error(`Cannot find module '${f}'`);
      if (v instanceof Error) throw v;
      return v;
    },
    warn: (m) => {
      h.warnings.push(m);
    },
    loads: [],
    warnings: [],
    ...over,
  };
  return h;
}
const addon = (name: string) => ({ name, info: () => ({ isa: 'avx2' }) });
const check = (a: { info(): unknown }) => {
  a.info();
};

describe('native addon loader', () => {
  it('a local build comes first, and nothing else is looked at', () => {
    const h = host({ [LOCAL]: addon('local'), [prebuild('linux-x64')]: addon('prebuild') });
    const r = loadNativeAddon(h, check);
    expect('addon' in r && r.addon).toMatchObject({ name: 'local' });
    expect('addon' in r && r.source).toBe('build/Release/fastconv.node (a local build)');
    expect(h.loads).toEqual([LOCAL]);
    expect(h.warnings).toEqual([]);
  });

  it('without a local build the prebuild for this platform loads, and backendInfo is told why', () => {
    const h = host({ [prebuild('linux-x64')]: addon('prebuild') });
    const r = loadNativeAddon(h, check);
    expect('addon' in r && r.kind).toBe('prebuild');
    expect('addon' in r && r.source).toBe(
      'prebuilds/linux-x64/fastconv.node (the prebuilt addon for linux-x64); build/Release/fastconv.node: not built'
    );
    expect(h.warnings).toEqual([]);
  });

  it('a broken local build falls through to the prebuild, and says why it was skipped', () => {
    const h = host(
      { [LOCAL]: new Error('invalid ELF header\nstack...'), [prebuild('linux-arm64')]: addon('prebuild') },
      { arch: 'arm64' }
    );
    const r = loadNativeAddon(h, check);
    expect('addon' in r && r.file).toBe('prebuilds/linux-arm64/fastconv.node');
    expect('addon' in r && r.source).toContain('build/Release/fastconv.node: failed to load: invalid ELF header');
    expect(h.warnings).toEqual([]);
  });

  it('a module that loads but whose info() throws counts as not loaded', () => {
    const broken = {
      info: () => {
        throw new Error('no CPU info');
      },
    };
    const h = host({ [LOCAL]: broken, [prebuild('linux-x64')]: addon('prebuild') });
    const r = loadNativeAddon(h, check);
    expect('addon' in r && r.kind).toBe('prebuild');
    expect(r.tried[0]).toEqual({ file: 'build/Release/fastconv.node', kind: 'local', error: 'failed to load: no CPU info' });
  });

  it('a prebuild missing from the package: one warning with the reason and both fixes', () => {
    const h = host({});
    const r = loadNativeAddon(h, check);
    expect('error' in r && r.error).toBe(
      'no native addon loaded (build/Release/fastconv.node: not built; ' +
        'prebuilds/linux-x64/fastconv.node: missing from the installed package); fix: reinstall fastconv, or build the addon: ' +
        'npm explore fastconv -- npm run build:native (needs python3, make and a C++17 compiler)'
    );
    expect(h.warnings).toHaveLength(1);
    expect(h.warnings[0]).toMatch(/^fastconv runs on WebAssembly \(3-4x slower\): no native addon loaded .*FASTCONV_NATIVE=off/);
    expect(h.warnings[0]).not.toContain('\n');
  });

  it('in a checkout the fix is npm run build:native', () => {
    const h = host({ [path.join(ROOT, '.git')]: {} });
    const r = loadNativeAddon(h, check);
    expect('error' in r && r.error).toMatch(/fix: reinstall fastconv, or build the addon: npm run build:native \(needs/);
  });

  it('a prebuild that fails to load on an older glibc names the floor and the system version', () => {
    const h = host(
      { [prebuild('linux-x64')]: new Error("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found"), [MANIFEST]: {} },
      { libc: { family: 'glibc', version: '2.31' } }
    );
    const r = loadNativeAddon(h, check);
    expect('error' in r && r.error).toContain(
      "prebuilds/linux-x64/fastconv.node: failed to load: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found " +
        '(it needs glibc >= 2.34, this system has 2.31)'
    );
    // Reinstalling would bring the same binary: only a source build helps.
    expect('error' in r && r.error).toMatch(/fix: build the addon: npm explore fastconv/);
    expect(h.warnings).toHaveLength(1);
  });

  it('musl: its own key, no prebuild, no warning unless a build was expected', () => {
    const h = host({}, { libc: { family: 'musl' } });
    expect(platformKey(h)).toBe('linux-x64-musl');
    const r = loadNativeAddon(h, check);
    expect('error' in r && r.error).toContain(
      'prebuilds/linux-x64-musl/fastconv.node: none shipped for linux-x64-musl (musl libc: the shipped Linux addons need glibc)'
    );
    expect(h.loads).toEqual([]);
    expect(h.warnings).toEqual([]);

    const broken = host({ [LOCAL]: new Error('Error relocating: symbol not found') }, { libc: { family: 'musl' } });
    loadNativeAddon(broken, check);
    expect(broken.warnings).toHaveLength(1);
    expect(broken.warnings[0]).toContain('build/Release/fastconv.node: failed to load: Error relocating');
  });

  it('other platforms (darwin, win32) fall back quietly, with the source build as the fix', () => {
    for (const [platform, arch] of [
      ['darwin', 'arm64'],
      ['win32', 'x64'],
      ['linux', 'ppc64'],
    ]) {
      const h = host({}, { platform, arch, libc: platform === 'linux' ? { family: 'glibc', version: '2.36' } : null });
      const r = loadNativeAddon(h, check);
      expect('error' in r && r.error).toContain(
        `none shipped for ${platform}-${arch}; the package has ${PREBUILT_PLATFORMS.join(', ')}`
      );
      expect('error' in r && r.error).toMatch(/fix: build the addon: /);
      expect(h.warnings).toEqual([]);
    }
  });

  it('FASTCONV_NATIVE=off loads nothing and warns nothing', () => {
    const h = host({ [LOCAL]: addon('local') }, { env: { FASTCONV_NATIVE: 'off' } });
    const r = loadNativeAddon(h, check);
    expect(r).toEqual({ error: 'disabled by FASTCONV_NATIVE=off', tried: [], warned: false });
    expect(h.loads).toEqual([]);
    expect(h.warnings).toEqual([]);
  });

  it('no package root: says so', () => {
    const r = loadNativeAddon(host({}, { root: null }), check);
    expect('error' in r && r.error).toBe('package root (package.json named "fastconv") not found');
  });

  it('this process: the package root is the checkout, and Linux reports its C library', () => {
    const h = nodeHost();
    expect(h.root && path.basename(path.join(h.root, 'package.json'))).toBe('package.json');
    if (process.platform === 'linux') expect(['glibc', 'musl']).toContain(h.libc?.family);
    expect(platformKey(h)).toMatch(new RegExp(`^${process.platform}-${process.arch}(-musl)?$`));
  });
});
