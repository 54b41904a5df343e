// Builds the prebuilt addons the package ships (`npm pack`/`npm publish` run this as `prepack`):
// prebuilds/linux-x64/fastconv.node and prebuilds/linux-arm64/fastconv.node (cross-compiled with
// Debian's g++-aarch64-linux-gnu), one Node-API binary per platform for every Node the package allows.
//
// Each is node-gyp's build of binding.gyp with -Dfastconv_portable=1 (libstdc++ linked in), in
// a directory of its own under build/prebuild/ (the local build in build/Release is never touched) and
// incremental like install.mjs. Portability is checked, not assumed: the stripped binary may need no
// GLIBCXX/CXXABI version (libgcc_s: GCC_4.x at most), and the highest GLIBC_x.y it needs (objdump -T) is recorded in
// prebuilds/manifest.json as that binary's glibc floor, which the loader quotes when dlopen fails.
// The host's own binary is loaded and asked info() here; test/prebuild.test.ts runs the arm64 one
// under qemu-aarch64.
//
//   node native/prebuild.mjs                 every target (fails if a toolchain is missing)
//   FASTCONV_PREBUILDS=linux-x64 npm pack    only these targets; the others' old binaries are removed

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeGyp, gypBuild, shortReason, stageGyp } from './node-gyp.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outRoot = path.join(root, 'prebuilds');
const manifestFile = path.join(outRoot, 'manifest.json');

/** Debian's cross toolchains name their tools <triplet>-gcc; on a host of that arch the plain names serve. */
const TARGETS = {
  'linux-x64': { arch: 'x64', triplet: 'x86_64-linux-gnu', apt: 'g++-x86-64-linux-gnu' },
  'linux-arm64': { arch: 'arm64', triplet: 'aarch64-linux-gnu', apt: 'g++-aarch64-linux-gnu' },
};

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const die = (msg) => {
  console.error(`prebuild: ${msg}`);
  process.exit(1);
};

function tools(t) {
  if (process.platform === 'linux' && process.arch === t.arch) {
    return { cc: process.env.CC ?? 'gcc', cxx: process.env.CXX ?? 'g++', prefix: '' };
  }
  return { cc: `${t.triplet}-gcc`, cxx: `${t.triplet}-g++`, prefix: `${t.triplet}-` };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error || r.status !== 0) die(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

const versionKey = (v) => v.split('.').map(Number);
function maxVersion(vs) {
  return vs.reduce((a, b) => {
    const x = versionKey(a),
      y = versionKey(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++)
      if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0) ? a : b;
    return a;
  }, vs[0]);
}

/** The symbol versions and shared libraries a binary needs, from its dynamic symbol table and headers. */
function inspect(file, prefix) {
  const syms = run(`${prefix}objdump`, ['-T', file]);
  const versions = {};
  for (const m of syms.matchAll(/\b(GLIBC|GLIBCXX|CXXABI|GCC)_([0-9][0-9.]*)\b/g)) {
    versions[m[1]] ??= new Set();
    versions[m[1]].add(m[2]);
  }
  const needed = [...run(`${prefix}objdump`, ['-p', file]).matchAll(/^\s*NEEDED\s+(\S+)/gm)].map((m) => m[1]);
  return {
    glibc: versions.GLIBC ? maxVersion([...versions.GLIBC]) : null,
    // libgcc_s.so.1 (the unwinder) ships with every glibc system and Node itself needs it.
    libgcc: versions.GCC ? maxVersion([...versions.GCC]) : null,
    cxx: ['GLIBCXX', 'CXXABI'].filter((k) => versions[k]).map((k) => `${k}_${maxVersion([...versions[k]])}`),
    needed,
  };
}

function build(key, t, gyp) {
  const tc = tools(t);
  if (!has(tc.cxx))
    die(
      `${tc.cxx} not found: apt-get install ${t.apt}, or leave ${key} out (FASTCONV_PREBUILDS=${Object.keys(TARGETS)
        .filter((k) => k !== key)
        .join(',')})`
    );
  const stage = path.join(root, 'build', 'prebuild', key);
  stageGyp(root, stage, path.join(root, 'binding.gyp'));

  const started = Date.now();
  const env = { ...process.env, CC: tc.cc, CXX: tc.cxx, LINK: tc.cxx, AR: `${tc.prefix}ar` };
  const res = gypBuild(gyp, stage, { configureArgs: [`--arch=${t.arch}`, '--', '-Dfastconv_portable=1'], env });
  if (!res.ok) {
    process.stderr.write(`${res.log.split('\n').slice(-40).join('\n')}\n`);
    die(`${key}: ${res.error ?? shortReason(res.log)}`);
  }
  const dest = path.join(outRoot, key, 'fastconv.node');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  run(`${tc.prefix}strip`, ['--strip-unneeded', '-o', dest, path.join(stage, 'build', 'Release', 'fastconv.node')]);

  const info = inspect(dest, tc.prefix);
  if (info.cxx.length || info.needed.some((n) => n.startsWith('libstdc++'))) {
    die(`${key}: needs ${[...info.cxx, ...info.needed].join(', ')} from the system (libstdc++ was not linked in)`);
  }
  if (info.libgcc && Number(info.libgcc.split('.')[0]) > 4)
    die(`${key}: needs libgcc_s GCC_${info.libgcc} (at most GCC_4.x is everywhere)`);
  if (!info.glibc) die(`${key}: no GLIBC symbol versions found in ${dest} (is it a glibc build?)`);

  if (!tc.prefix) {
    // The host's binary must load in this node: a link-time mistake shows here, not in a user's process.
    const r = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(dest)}).info().isa)`], {
      encoding: 'utf8',
    });
    if (r.status !== 0) die(`${key}: the built binary does not load: ${r.stderr.trim().split('\n')[0]}`);
  }
  const bytes = fs.readFileSync(dest);
  console.log(
    `prebuild: ${path.relative(root, dest)} ${(bytes.length / 1024).toFixed(0)} kB, glibc >= ${info.glibc}, ` +
      `needs ${info.needed.join(' ')} (${((Date.now() - started) / 1000).toFixed(0)} s)`
  );
  return {
    file: `${key}/fastconv.node`,
    glibc: info.glibc,
    libgcc: info.libgcc,
    needed: info.needed,
    napi: 8,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

const wanted = (process.env.FASTCONV_PREBUILDS ?? Object.keys(TARGETS).join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const k of wanted)
  if (!TARGETS[k]) die(`FASTCONV_PREBUILDS: unknown target '${k}' (have ${Object.keys(TARGETS).join(', ')})`);
const gyp = findNodeGyp(root);
if (!gyp) die('node-gyp not found (it comes with npm)');

// The package ships the build description as native/fastconv.gyp, not as binding.gyp at its root:
// npm and pnpm treat a root binding.gyp as an install script (pnpm ignores gypfile: false), and the
// package has none. native/install.mjs builds from it on request.
fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(root, 'native', 'fastconv.gyp'));

const manifest = {};
for (const [key, t] of Object.entries(TARGETS)) {
  if (wanted.includes(key)) manifest[key] = build(key, t, gyp);
  else fs.rmSync(path.join(outRoot, key), { recursive: true, force: true }); // never ship a stale binary
}
fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
