// The package as a user gets it (run by .ci/run; about 3 minutes): packs the checkout (`npm pack`, so
// `prepack` builds the prebuilt addons), checks the tarball's file list against the allow-list below,
// installs the tarball into fresh consumer projects and checks what they get:
//   1. `npm install <tarball> --ignore-scripts` with a PATH that has node and npm but no compiler,
//      make or python: the prebuild loads, backendInfo() names it, every algorithm computes right,
//      no warning; `require('fastconv')` works; the types resolve for Node and for browser builds;
//      `npx fastconv bench` says how to install its peers and writes into the working directory only.
//   2. the same install with the prebuild removed: wasm, right results, and exactly one warning that
//      names the reason and the fix; none with FASTCONV_NATIVE=off.
//   3. the documented source build (`npm explore fastconv -- npm run build:native`, compiler on PATH)
//      is then what loads.
//   4. a plain `npm install <tarball>` with the compiler on PATH (timed against 1), and pnpm when it
//      can be had from the registry.
// Exits non-zero on the first failed check. `--tarball FILE` skips the pack; `--keep` keeps the scratch dir.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const argv = process.argv.slice(2);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fastconv-consumer-'));
const summary = { scratch };
let failures = 0;

const log = (m) => console.log(`consumer: ${m}`);
function check(ok, what, detail = '') {
  if (ok) {
    log(`ok   ${what}`);
    return;
  }
  failures++;
  console.log(`consumer: FAIL ${what}${detail ? `\n${String(detail).slice(0, 4000)}` : ''}`);
}
function fatal(what, detail) {
  check(false, what, detail);
  finish();
}
function finish() {
  console.log(`consumer: summary ${JSON.stringify(summary)}`);
  if (!argv.includes('--keep')) fs.rmSync(scratch, { recursive: true, force: true });
  console.log(`consumer: ${failures === 0 ? 'all checks passed' : `${failures} check(s) failed`}`);
  process.exit(failures === 0 ? 0 : 1);
}
function run(cmd, args, opts = {}) {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 20 * 60 * 1000, ...opts });
  return { ...r, seconds: (performance.now() - t) / 1000, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
const has = (cmd, env = process.env) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env, stdio: 'ignore' }).status === 0;
const key = `${process.platform}-${process.arch}`;

// ---- pack -------------------------------------------------------------------------------------------
const targets = ['linux-x64', 'linux-arm64'].filter((t) => t === 'linux-x64' || has('aarch64-linux-gnu-g++'));
let tarball = argv.includes('--tarball') ? path.resolve(argv[argv.indexOf('--tarball') + 1]) : null;
if (!tarball) {
  if (!targets.includes('linux-arm64')) log('aarch64-linux-gnu-g++ is not installed: packing without the linux-arm64 prebuild');
  const r = run('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: root,
    env: { ...process.env, FASTCONV_PREBUILDS: targets.join(',') },
  });
  if (r.status !== 0) fatal('npm pack', r.out);
  const meta = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0];
  tarball = path.join(scratch, meta.filename);
  summary.pack = { seconds: Math.round(r.seconds), size: meta.size, unpackedSize: meta.unpackedSize, files: meta.entryCount };
  log(`packed ${meta.filename}: ${(meta.size / 1024).toFixed(0)} kB, ${meta.entryCount} files (${r.seconds.toFixed(0)} s)`);
}

// ---- the file list ----------------------------------------------------------------------------------
const listing = run('tar', ['tzf', tarball]);
if (listing.status !== 0) fatal('tar tzf', listing.out);
const files = listing.stdout
  .split('\n')
  .filter((f) => f && !f.endsWith('/'))
  .map((f) => f.replace(/^package\//, ''));
const unpacked = path.join(scratch, 'unpacked');
fs.mkdirSync(unpacked);
run('tar', ['xzf', tarball, '-C', unpacked, '--strip-components=1']);

// Everything a user gets, and why: the entries, their types, the wasm builds, the prebuilds, the
// sources a source build needs, the bench CLI and its data, the license.
const ALLOWED = [
  /^(package\.json|LICENSE)$/,
  /^([\w/]+\/)?README\.md$/, // npm adds every included folder's README
  /^dist\/src\/.+\.(js|d\.ts)$/,
  /^dist\/bench\/(peers\/)?[\w-]+\.js$/,
  /^prebuilds\/manifest\.json$/,
  /^prebuilds\/linux-(x64|arm64)\/fastconv\.node$/,
  /^assembly\/build\/fastconv-[\w-]+\.wasm$/,
  /^native\/fastconv\.gyp$/,
  /^native\/[\w/.-]+\.(cc|h|inc|c)$/,
  /^native\/(sources\.cjs|install\.mjs|node-gyp\.mjs|interface\.mjs|gen-interface\.mjs)$/,
  /^bench\/(layers\.json|README\.md)$/,
];
const REQUIRED = [
  'package.json',
  'README.md',
  'LICENSE',
  'dist/src/index.node.js',
  'dist/src/index.node.d.ts',
  'dist/src/index.browser.js',
  'dist/src/index.browser.d.ts',
  'dist/bench/cli.js',
  'prebuilds/manifest.json',
  ...targets.map((t) => `prebuilds/${t}/fastconv.node`),
  'native/fastconv.gyp',
  'native/install.mjs',
  'native/addon.cc',
  ...['relaxed', 'relaxed-threads', 'simd', 'simd-threads', 'scalar'].map((v) => `assembly/build/fastconv-${v}.wasm`),
];
const extra = files.filter((f) => !ALLOWED.some((re) => re.test(f)));
check(extra.length === 0, 'every packed file is on the allow-list', extra.join('\n'));
const missing = REQUIRED.filter((f) => !files.includes(f));
check(missing.length === 0, 'the package has its entries, types, wasm builds, prebuilds and license', missing.join('\n'));
check(!files.some((f) => /\.map$|asan|stress|selfcheck|(^|\/)test\//.test(f)), 'no source maps, sanitizer, stress or test files');

// Every relative import of a shipped module resolves inside the package, and dist/bench holds exactly
// what the CLI reaches (nothing that needs devDependencies to even load).
const IMPORT = /(?:from\s+|import\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']+\.js)'/g;
const unresolved = [];
for (const f of files.filter((x) => x.endsWith('.js'))) {
  const src = fs.readFileSync(path.join(unpacked, f), 'utf8');
  for (const m of src.matchAll(IMPORT)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1]));
    if (!files.includes(target)) unresolved.push(`${f} -> ${m[1]}`);
  }
}
check(unresolved.length === 0, 'every relative import in the package resolves inside it', unresolved.join('\n'));
const reach = new Set();
const walk = (f) => {
  if (reach.has(f) || !files.includes(f)) return;
  reach.add(f);
  for (const m of fs.readFileSync(path.join(unpacked, f), 'utf8').matchAll(IMPORT))
    walk(path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1])));
};
walk('dist/bench/cli.js');
const benchShipped = files.filter((f) => f.startsWith('dist/bench/'));
const unreached = benchShipped.filter((f) => !reach.has(f));
check(unreached.length === 0, 'dist/bench ships only what `fastconv` (the CLI) imports', unreached.join('\n'));
const pkg = JSON.parse(fs.readFileSync(path.join(unpacked, 'package.json'), 'utf8'));
check(
  !pkg.scripts?.install &&
    !pkg.scripts?.preinstall &&
    !pkg.scripts?.postinstall &&
    pkg.gypfile === false &&
    !files.includes('binding.gyp'),
  'no install script, nor a root binding.gyp that npm or pnpm would turn into one',
  JSON.stringify(pkg.scripts)
);
summary.files = files.length;

// ---- consumers ----------------------------------------------------------------------------------------
// A PATH with node and npm but no compiler, make or python: a slim image's view.
const bare = path.join(scratch, 'bare-bin');
fs.mkdirSync(bare);
const npmCli = fs.realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim());
fs.symlinkSync(process.execPath, path.join(bare, 'node'));
fs.symlinkSync('/bin/sh', path.join(bare, 'sh')); // npm exec runs bins through sh; every image has one
fs.symlinkSync(npmCli, path.join(bare, 'npm'));
fs.symlinkSync(path.join(path.dirname(npmCli), 'npx-cli.js'), path.join(bare, 'npx'));
const bareEnv = { ...process.env, PATH: bare };
for (const k of ['CC', 'CXX', 'npm_config_node_gyp']) delete bareEnv[k];
for (const k of Object.keys(bareEnv)) if (k.startsWith('npm_')) delete bareEnv[k]; // not the outer npm's settings
const noTools = ['cc', 'gcc', 'g++', 'c++', 'make', 'python3'].filter((t) => has(t, bareEnv));
check(noTools.length === 0, 'the bare PATH has no compiler, make or python', noTools.join(' '));
const fullEnv = { ...bareEnv, PATH: process.env.PATH };

function consumer(name) {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true, type: 'module' })
  );
  fs.copyFileSync(path.join(here, 'run-package.mjs'), path.join(dir, 'run-package.mjs'));
  return dir;
}
const NPM_QUIET = ['--no-audit', '--no-fund', '--prefer-offline'];

function runPackage(dir, env, what) {
  const r = run(process.execPath, ['run-package.mjs', 'fastconv'], { cwd: dir, env });
  if (r.status !== 0) {
    check(false, `${what}: run-package.mjs`, r.out);
    return null;
  }
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  const failed = res.cases.filter((c) => !c.ok);
  check(
    failed.length === 0,
    `${what}: every convolution matches the float64 reference (${res.cases.filter((c) => !c.unsupported).length} runs)`,
    JSON.stringify(failed.slice(0, 5))
  );
  const ran = new Set(res.cases.filter((c) => !c.unsupported).map((c) => c.used));
  if (res.info.selected === 'native')
    check(
      ['direct', 'im2col', 'winograd', 'fft'].every((a) => ran.has(a)),
      `${what}: every algorithm ran`,
      [...ran].join(' ')
    );
  return { ...res, stderr: r.stderr };
}

// 1. --ignore-scripts, no compiler
const a = consumer('ignore-scripts');
const ia = run('npm', ['install', tarball, '--ignore-scripts', ...NPM_QUIET], { cwd: a, env: bareEnv });
check(ia.status === 0, `npm install --ignore-scripts without a compiler (${ia.seconds.toFixed(1)} s)`, ia.out);
summary.installSeconds = { ignoreScriptsNoCompiler: +ia.seconds.toFixed(1) };
const pa = runPackage(a, bareEnv, 'no compiler');
if (pa) {
  check(
    pa.info.selected === 'native' && pa.info.nativeAddon?.startsWith(`prebuilds/${key}/fastconv.node`),
    `native is selected, from prebuilds/${key} (${pa.info.isa})`,
    JSON.stringify(pa.info)
  );
  check(
    pa.warnings.length === 0 && !/Warning/.test(pa.stderr),
    'no warning when native loads',
    pa.warnings.join('\n') + pa.stderr
  );
}
fs.writeFileSync(path.join(a, 'req.cjs'), "const fc = require('fastconv'); console.log(fc.backendInfo().selected);\n");
const rq = run(process.execPath, ['req.cjs'], { cwd: a, env: bareEnv });
check(rq.status === 0 && rq.stdout.trim() === 'native', `require('fastconv') works on Node ${process.version}`, rq.out);

// Types: Node's declarations under node16 resolution, the browser's (ready({ wasm })) under a
// bundler's with the browser condition.
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (fs.existsSync(tsc)) {
  fs.writeFileSync(
    path.join(a, 'node-use.ts'),
    "import { backendInfo, setNumThreads } from 'fastconv';\nsetNumThreads(2);\nconst n: string | null = backendInfo().nativeAddon;\nconsole.log(n);\n"
  );
  fs.writeFileSync(
    path.join(a, 'browser-use.ts'),
    "import { ready } from 'fastconv';\nawait ready({ wasm: { simd: '/static/fastconv-simd.wasm' } });\n"
  );
  const common = [
    '--noEmit',
    '--strict',
    '--target',
    'es2022',
    '--skipLibCheck',
    '--types',
    'node',
    '--typeRoots',
    path.join(root, 'node_modules', '@types'),
  ];
  const tn = run(process.execPath, [tsc, ...common, '--module', 'nodenext', '--moduleResolution', 'nodenext', 'node-use.ts'], {
    cwd: a,
  });
  check(tn.status === 0, 'types: the Node declarations resolve (moduleResolution nodenext)', tn.out);
  const tb = run(
    process.execPath,
    [
      tsc,
      ...common,
      '--module',
      'esnext',
      '--moduleResolution',
      'bundler',
      '--customConditions',
      'browser',
      '--lib',
      'es2022,dom',
      'browser-use.ts',
    ],
    { cwd: a }
  );
  check(tb.status === 0, "types: the browser declarations resolve under the 'browser' condition (ready({ wasm }))", tb.out);
} else {
  log('skip the type checks: typescript is not installed in the checkout');
}

// The bench CLI: a hint for the missing peers, results in the working directory, the package untouched.
const pkgDir = path.join(a, 'node_modules', 'fastconv');
const listTree = (d) => fs.readdirSync(d, { recursive: true }).sort().join('\n');
const before = listTree(pkgDir);
const bench = run(path.join(bare, 'npx'), ['fastconv', 'bench', '--quick', '--layers', 'L12', '--no-benny', '--budget', '0.1'], {
  cwd: a,
  env: bareEnv,
});
check(bench.status === 0, 'npx fastconv bench runs in the consumer', bench.out);
check(
  /peers not installed here: .*npm install --no-save onnxruntime-node/.test(bench.stderr),
  'the bench says how to install the peers it compares against',
  bench.stderr
);
const results = fs.existsSync(path.join(a, 'fastconv-bench')) ? fs.readdirSync(path.join(a, 'fastconv-bench')) : [];
check(
  results.some((f) => f.endsWith('.json')),
  'the bench wrote its results to ./fastconv-bench',
  results.join(' ')
);
check(listTree(pkgDir) === before, 'the bench wrote nothing into node_modules/fastconv');

// 2. the prebuild gone: wasm and one warning
fs.rmSync(path.join(pkgDir, 'prebuilds', key), { recursive: true, force: true });
const pw = runPackage(a, bareEnv, 'prebuild removed');
if (pw) {
  check(
    pw.info.selected === 'wasm' && pw.info.nativeAddon === null,
    'without the prebuild fastconv runs on wasm',
    JSON.stringify(pw.info)
  );
  const lines = pw.stderr.split('\n').filter((l) => l.includes('FASTCONV_NATIVE_FALLBACK'));
  check(lines.length === 1 && pw.warnings.length === 1, 'exactly one warning line', pw.stderr);
  check(
    /missing from the installed package/.test(lines[0] ?? '') &&
      /reinstall fastconv/.test(lines[0] ?? '') &&
      /npm explore fastconv -- npm run build:native/.test(lines[0] ?? ''),
    'the warning names the reason and the fix',
    lines[0]
  );
  check(
    /missing from the installed package/.test(pw.info.errors.native ?? ''),
    'backendInfo().errors.native says why',
    pw.info.errors.native
  );
}
const off = runPackage(a, { ...bareEnv, FASTCONV_NATIVE: 'off' }, 'FASTCONV_NATIVE=off');
if (off)
  check(
    off.warnings.length === 0 && !/FASTCONV_NATIVE_FALLBACK/.test(off.stderr),
    'FASTCONV_NATIVE=off: wasm without the warning',
    off.stderr
  );

// 3. the source build on request
if (has('g++') && has('make') && has('python3')) {
  const sb = run('npm', ['explore', 'fastconv', '--', 'npm', 'run', 'build:native'], { cwd: a, env: fullEnv });
  check(sb.status === 0, `npm explore fastconv -- npm run build:native builds the addon (${sb.seconds.toFixed(0)} s)`, sb.out);
  summary.sourceBuildSeconds = Math.round(sb.seconds);
  const ps = runPackage(a, bareEnv, 'source build');
  if (ps)
    check(
      ps.info.selected === 'native' && ps.info.nativeAddon?.startsWith('build/Release/fastconv.node'),
      'the local build is what loads',
      JSON.stringify(ps.info)
    );
} else {
  log('skip the source build: no g++/make/python3 here');
}

// 4. a plain install with the compiler on PATH (scripts on): nothing compiles, same result.
const b = consumer('default');
const ib = run('npm', ['install', tarball, ...NPM_QUIET], { cwd: b, env: fullEnv });
check(
  ib.status === 0 && !/node-gyp|gyp info/.test(ib.out),
  `npm install with a compiler on PATH compiles nothing (${ib.seconds.toFixed(1)} s)`,
  ib.out
);
summary.installSeconds.defaultWithCompiler = +ib.seconds.toFixed(1);
const pb = runPackage(b, fullEnv, 'plain install');
if (pb) check(pb.info.selected === 'native', 'plain install: native', JSON.stringify(pb.info));

// pnpm, when the registry has it (10.x: 11 needs Node 22).
let pnpm = has('pnpm') ? 'pnpm' : null;
if (!pnpm) {
  const tool = path.join(scratch, 'pnpm-tool');
  const ip = run('npm', ['install', '--prefix', tool, 'pnpm@10', ...NPM_QUIET], { env: fullEnv });
  if (ip.status === 0) pnpm = path.join(tool, 'node_modules', '.bin', 'pnpm');
  else log(`skip pnpm: it could not be installed from the registry (${ip.out.trim().split('\n').pop()})`);
}
if (pnpm) {
  const c = consumer('pnpm');
  const ic = run(pnpm, ['add', tarball, '--prefer-offline'], { cwd: c, env: bareEnv });
  check(ic.status === 0, `pnpm add without a compiler (${ic.seconds.toFixed(1)} s)`, ic.out);
  summary.installSeconds.pnpmNoCompiler = +ic.seconds.toFixed(1);
  summary.pnpmNotes = ic.out
    .split('\n')
    .filter((l) => /ignored|warn|build script/i.test(l))
    .map((l) => l.trim())
    .slice(0, 6);
  const pc = runPackage(c, bareEnv, 'pnpm');
  if (pc) check(pc.info.selected === 'native', 'pnpm: native', JSON.stringify(pc.info));
}
finish();
