// Builds the native addon from source into build/Release/fastconv.node: in a checkout at `npm install`
// (the `prepare` script), and on request (`npm run build:native`; in an installed package
// `npm explore fastconv -- npm run build:native`). The published package needs no build: it ships
// prebuilt addons (native/prebuild.mjs) and runs no install script. Without --strict a failed build
// prints exactly one line and exits 0 (fastconv then runs on the prebuild or on WebAssembly); with
// --strict it prints the build log's tail and exits non-zero. Rebuilds are incremental (see gypBuild).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeGyp, gypBuild, shortReason, stageGyp } from './node-gyp.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const addonPath = path.join(root, 'build', 'Release', 'fastconv.node');

function fallback() {
  const key = `${process.platform}-${process.arch}`;
  return fs.existsSync(path.join(root, 'prebuilds', key, 'fastconv.node'))
    ? `the prebuilt addon (prebuilds/${key})`
    : 'WebAssembly';
}

function fail(reason, log) {
  if (strict) {
    if (log) process.stderr.write(`${log.split('\n').slice(-40).join('\n')}\n`);
    console.error(`fastconv: native addon build failed (${reason}); building needs python3, make and a C++17 compiler`);
    process.exit(1);
  }
  console.log(`fastconv: native addon not built (${reason}); falling back to ${fallback()}`);
  process.exit(0);
}

const gyp = findNodeGyp(root);
if (!gyp) fail('node-gyp not found');

// A checkout builds in place from binding.gyp; the installed package has native/fastconv.gyp instead
// (see prebuild.mjs) and builds in build/source/, then puts the addon where the loader looks first.
const checkoutGyp = path.join(root, 'binding.gyp');
const inPlace = fs.existsSync(checkoutGyp);
const cwd = inPlace ? root : path.join(root, 'build', 'source');
if (!inPlace) {
  const shipped = path.join(root, 'native', 'fastconv.gyp');
  if (!fs.existsSync(shipped)) fail('neither binding.gyp nor native/fastconv.gyp is here');
  stageGyp(root, cwd, shipped);
}
const res = gypBuild(gyp, cwd);
if (res.error) fail(res.error, res.log);
if (!res.ok) fail(shortReason(res.log), res.log);
if (!inPlace) {
  fs.mkdirSync(path.dirname(addonPath), { recursive: true });
  fs.copyFileSync(path.join(cwd, 'build', 'Release', 'fastconv.node'), addonPath);
}

// A build that links but cannot load (e.g. a missing symbol) is a failure too.
const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addonPath)}).info()`], { encoding: 'utf8' });
if (check.status !== 0) fail(`built addon does not load: ${shortReason(check.stderr ?? '')}`, check.stderr);

if (strict) {
  const info = createRequire(import.meta.url)(addonPath).info();
  console.log(
    `fastconv: native addon built (${info.isa}, ${info.threads} threads): ${path.relative(process.cwd(), addonPath) || addonPath}`
  );
} else {
  console.log('fastconv: native addon built');
}
