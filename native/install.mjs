// Builds the native addon during `npm install`. A failed build must not fail the install: fastconv
// then runs on WebAssembly, and this prints exactly one line saying why. With --strict
// (`npm run build:native`) a failure prints the build log's tail and exits non-zero.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const addonPath = path.join(root, 'build', 'Release', 'fastconv.node');

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    // npm's bundled copy, next to the running node (Debian: /usr/lib/node_modules, nvm: lib/...).
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && fs.existsSync(c));
}

// Headers of the running node, so node-gyp never tries to download them (no network at install).
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

// One short, actionable reason from a build log.
function shortReason(log) {
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  const compiler = lines.find((l) => /:\d+:(\d+:)? (fatal )?error: /.test(l));
  const gypErr = lines.find((l) => /^gyp ERR! (?!stack|System|command|cwd|node -v|node-gyp -v|not ok|build error)/.test(l));
  const python = lines.find((l) => /^[A-Za-z.]*Error: /.test(l));  // gyp's own traceback
  let s;
  if (python) s = `configure failed: ${python}`;
  else if (compiler) s = `compile error: ${compiler.replace(/^.*?(fatal )?error: /, '')}`;
  else if (lines.some((l) => /make: \*\*\*/.test(l)))
    s = `C++ compiler failed${process.env.CXX ? ` (CXX=${process.env.CXX})` : ''}`;
  else s = (gypErr ?? lines.find((l) => /error/i.test(l)) ?? lines[lines.length - 1] ?? 'unknown error').replace(/^gyp ERR! /, '');
  s = s.replace(/\s+/g, ' ');
  return s.length > 140 ? `${s.slice(0, 137)}...` : s;
}

function fail(reason, log) {
  if (strict) {
    if (log) process.stderr.write(log.split('\n').slice(-40).join('\n') + '\n');
    console.error(`fastconv: native addon build failed (${reason})`);
    process.exit(1);
  }
  console.log(`fastconv: native addon not built (${reason}); falling back to WebAssembly`);
  process.exit(0);
}

const gyp = findNodeGyp();
if (!gyp) fail('node-gyp not found');

const jobs = String(Math.max(1, Math.min(8, (await import('node:os')).availableParallelism?.() ?? 2)));
const res = spawnSync(process.execPath, [gyp, 'rebuild', '-j', jobs, ...nodedirArgs()], {
  cwd: root, encoding: 'utf8', env: process.env, timeout: 15 * 60 * 1000, maxBuffer: 64 << 20,
});
const log = `${res.stdout ?? ''}\n${res.stderr ?? ''}`;
if (res.error) fail(res.error.code === 'ETIMEDOUT' ? 'build timed out' : res.error.message, log);
if (res.status !== 0) fail(shortReason(log), log);

// A build that links but cannot load (e.g. a missing symbol) is a failure too.
const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addonPath)}).info()`], { encoding: 'utf8' });
if (check.status !== 0) fail(`built addon does not load: ${shortReason(check.stderr ?? '')}`, check.stderr);

if (strict) {
  const info = createRequire(import.meta.url)(addonPath).info();
  console.log(`fastconv: native addon built (${info.isa}, ${info.threads} threads)`);
} else {
  console.log('fastconv: native addon built');
}
