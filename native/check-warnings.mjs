// Fails when a clean build of the addon prints any compiler or linker warning, so that a new warning
// stands out instead of scrolling past among old ones (`npm run check:native-warnings`, run by CI).
//
// It builds from scratch in a temporary copy of binding.gyp and native/: the normal build is
// incremental (only changed files recompile, so a warning in an untouched file would not print), and
// build/Release/fastconv.node stays the one that running tests load. The flags are binding.gyp's own.
// --keep leaves the temporary directory (and its full build.log) for inspection.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeGyp, jobs, nodedirArgs } from './node-gyp.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');

const gyp = findNodeGyp(root);
if (!gyp) {
  console.error('check-warnings: node-gyp not found');
  process.exit(1);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastconv-warnings-'));
fs.cpSync(path.join(root, 'binding.gyp'), path.join(dir, 'binding.gyp'));
fs.cpSync(path.join(root, 'native'), path.join(dir, 'native'), { recursive: true });
// binding.gyp asks node for node-addon-api's include directory, resolved from the build directory.
fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');

const started = Date.now();
const res = spawnSync(process.execPath, [gyp, 'rebuild', '-j', jobs, ...nodedirArgs()], {
  cwd: dir,
  encoding: 'utf8',
  timeout: 15 * 60 * 1000,
  maxBuffer: 64 << 20,
  // Colour codes would split "warning:" in the log; the check greps plain text.
  env: { ...process.env, GCC_COLORS: '', CLICOLOR_FORCE: '' },
});
const log = `${res.stdout ?? ''}\n${res.stderr ?? ''}`;
fs.writeFileSync(path.join(dir, 'build.log'), log);

// "file:line:col: warning: ..." from the compiler, "ld: warning: ..." from the linker.
const warnings = log.split('\n').filter((l) => /\bwarning:/i.test(l));
const seconds = ((Date.now() - started) / 1000).toFixed(0);
let failed = false;
if (res.error || res.status !== 0) {
  console.error(`check-warnings: the build failed (${res.error?.message ?? `exit ${res.status}`}); the log's tail:`);
  console.error(log.split('\n').slice(-40).join('\n'));
  failed = true;
}
if (warnings.length > 0) {
  // Each warning line with the inlining context GCC prints above it, which names our source line
  // when the warning's own location is inside a system header.
  const lines = log.split('\n');
  console.error(`check-warnings: ${warnings.length} warning(s) in a clean build:`);
  lines.forEach((l, i) => {
    if (!/\bwarning:/i.test(l)) return;
    const context = [];
    for (let j = i - 1; j >= 0 && /^\s*(In |inlined from|from |In file included)/.test(lines[j]); --j) context.unshift(lines[j]);
    console.error([...context, l].map((s) => `  ${s.trim()}`).join('\n'));
  });
  failed = true;
}
if (failed) {
  console.error(`check-warnings: full log in ${path.join(dir, 'build.log')}`);
  process.exit(1);
}
console.log(`check-warnings: clean build, no warnings (${seconds} s)`);
if (!keep) fs.rmSync(dir, { recursive: true, force: true });
