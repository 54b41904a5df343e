// Finds the native addon file and loads it, in this order: an explicit local build
// (build/Release/fastconv.node: a checkout's `npm install`, or `npm run build:native`), then the
// prebuilt addon the package ships for this platform (prebuilds/<platform>-<arch>[-musl]/fastconv.node,
// built by native/prebuild.mjs), else nothing: fastconv then runs on WebAssembly. It says which file
// loaded and why each earlier one did not, and when a Node process falls back where a prebuild was
// expected (or a local build exists but is broken) it warns once, with the reason and the fix.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The platforms whose addon ships in the package (native/prebuild.mjs TARGETS). */
export const PREBUILT_PLATFORMS: readonly string[] = ['linux-x64', 'linux-arm64'];

export const LOCAL_BUILD = 'build/Release/fastconv.node';

export interface AddonFile {
  /** Relative to the package root. */
  file: string;
  kind: 'local' | 'prebuild';
  /** Why it did not load; absent for the one that did. */
  error?: string;
}

export type AddonLoad<T> =
  | { addon: T; file: string; kind: 'local' | 'prebuild'; tried: AddonFile[]; source: string }
  | { error: string; tried: AddonFile[]; warned: boolean };

export interface LoaderHost {
  /** The package root (where package.json says "fastconv"), or null when it cannot be found. */
  root: string | null;
  platform: string;
  arch: string;
  /** 'glibc' with its version, 'musl', or null off Linux. */
  libc: { family: 'glibc'; version: string } | { family: 'musl' } | null;
  env: Record<string, string | undefined>;
  exists(file: string): boolean;
  readText(file: string): string;
  load(file: string): unknown;
  warn(message: string): void;
}

/** The directory of the package.json named "fastconv" above `from` (src/backends or dist/src/backends). */
export function findPackageRoot(from: string): string | null {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    try {
      if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'fastconv') return dir;
    } catch {
      // unreadable package.json: keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The C library of this Linux process: glibc reports its version in process.report, musl does not. */
function detectLibc(platform: string): LoaderHost['libc'] {
  if (platform !== 'linux') return null;
  const report = process.report as (typeof process.report & { excludeNetwork?: boolean }) | undefined;
  if (!report?.getReport) return null;
  const before = report.excludeNetwork;
  try {
    report.excludeNetwork = true; // the network part of a report can take long; only the header is read
    const header = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    return header?.glibcVersionRuntime ? { family: 'glibc', version: header.glibcVersionRuntime } : { family: 'musl' };
  } catch {
    return null;
  } finally {
    report.excludeNetwork = before;
  }
}

export function nodeHost(): LoaderHost {
  const req = createRequire(import.meta.url);
  let libc: LoaderHost['libc'] | undefined;
  const host: LoaderHost = {
    root: findPackageRoot(path.dirname(fileURLToPath(import.meta.url))),
    platform: process.platform,
    arch: process.arch,
    get libc() {
      libc ??= detectLibc(process.platform);
      return libc;
    },
    env: process.env,
    exists: (f) => fs.existsSync(f),
    readText: (f) => fs.readFileSync(f, 'utf8'),
    load: (f) => req(f),
    // A warning (not console output) so that --no-warnings, NODE_NO_WARNINGS=1 or a 'warning'
    // listener can silence it; the code lets a listener pick it out.
    warn: (m) => process.emitWarning(m, { type: 'FastconvWarning', code: 'FASTCONV_NATIVE_FALLBACK' }),
  };
  return host;
}

/** prebuilds/ sub-directory for this process: linux-x64, linux-arm64-musl, darwin-arm64, ... */
export function platformKey(host: Pick<LoaderHost, 'platform' | 'arch' | 'libc'>): string {
  return `${host.platform}-${host.arch}${host.libc?.family === 'musl' ? '-musl' : ''}`;
}

function versionBelow(have: string, need: string): boolean {
  const a = have.split('.').map(Number),
    b = need.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0];

/** How to build the addon from source, where this package is (a checkout, or installed under node_modules). */
export function buildCommand(host: Pick<LoaderHost, 'root' | 'exists'>): string {
  const checkout = host.root !== null && host.exists(path.join(host.root, '.git'));
  return `${checkout ? 'npm run build:native' : 'npm explore fastconv -- npm run build:native'} (needs python3, make and a C++17 compiler)`;
}

/**
 * Loads the addon by the order above. `check` is called on a loaded module (a library that loads but
 * cannot answer is as good as missing). Never throws.
 */
export function loadNativeAddon<T>(host: LoaderHost, check: (addon: T) => void): AddonLoad<T> {
  const tried: AddonFile[] = [];
  if (host.env.FASTCONV_NATIVE === 'off') return { error: 'disabled by FASTCONV_NATIVE=off', tried, warned: false };
  const root = host.root;
  if (!root) return { error: 'package root (package.json named "fastconv") not found', tried, warned: false };

  const attempt = (rel: string, kind: AddonFile['kind']): T | null => {
    try {
      const addon = host.load(path.join(root, rel)) as T;
      check(addon);
      tried.push({ file: rel, kind });
      return addon;
    } catch (e) {
      tried.push({ file: rel, kind, error: `failed to load: ${firstLine(e)}` });
      return null;
    }
  };

  let localBroken = false;
  if (host.exists(path.join(root, LOCAL_BUILD))) {
    const addon = attempt(LOCAL_BUILD, 'local');
    if (addon) return { addon, file: LOCAL_BUILD, kind: 'local', tried, source: `${LOCAL_BUILD} (a local build)` };
    localBroken = true;
  } else {
    tried.push({ file: LOCAL_BUILD, kind: 'local', error: 'not built' });
  }

  const key = platformKey(host);
  const prebuild = `prebuilds/${key}/fastconv.node`;
  const expected = PREBUILT_PLATFORMS.includes(key);
  if (!expected) {
    const libcNote = host.libc?.family === 'musl' ? ' (musl libc: the shipped Linux addons need glibc)' : '';
    tried.push({
      file: prebuild,
      kind: 'prebuild',
      error: `none shipped for ${key}${libcNote}; the package has ${PREBUILT_PLATFORMS.join(', ')}`,
    });
  } else if (!host.exists(path.join(root, prebuild))) {
    tried.push({ file: prebuild, kind: 'prebuild', error: 'missing from the installed package' });
  } else {
    const addon = attempt(prebuild, 'prebuild');
    if (addon) {
      const skipped = tried.filter((t) => t.error).map((t) => `${t.file}: ${t.error}`);
      return {
        addon,
        file: prebuild,
        kind: 'prebuild',
        tried,
        source: `${prebuild} (the prebuilt addon for ${key})${skipped.length ? `; ${skipped.join('; ')}` : ''}`,
      };
    }
    const floor = glibcFloor(host, root, key);
    const libc = host.libc;
    if (floor && libc?.family === 'glibc' && versionBelow(libc.version, floor)) {
      tried[tried.length - 1].error += ` (it needs glibc >= ${floor}, this system has ${libc.version})`;
    }
  }

  const fix =
    expected && !localBroken && !tried.some((t) => t.kind === 'prebuild' && t.error?.startsWith('failed'))
      ? `reinstall fastconv, or build the addon: ${buildCommand(host)}`
      : `build the addon: ${buildCommand(host)}`;
  const error = `no native addon loaded (${tried.map((t) => `${t.file}: ${t.error}`).join('; ')}); fix: ${fix}`;
  // A platform without a prebuild expects WebAssembly unless someone built the addon: no noise then.
  const warned = expected || localBroken;
  if (warned)
    host.warn(
      `fastconv runs on WebAssembly (3-4x slower): ${error}. Set FASTCONV_NATIVE=off to choose WebAssembly without this warning.`
    );
  return { error, tried, warned };
}

/** The glibc version the shipped binary for `key` needs, from prebuilds/manifest.json. */
function glibcFloor(host: LoaderHost, root: string, key: string): string | null {
  try {
    const m = JSON.parse(host.readText(path.join(root, 'prebuilds', 'manifest.json'))) as Record<string, { glibc?: string }>;
    return m[key]?.glibc ?? null;
  } catch {
    return null;
  }
}
