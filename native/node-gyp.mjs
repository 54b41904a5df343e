// How the addon's build scripts (install.mjs: the local build; prebuild.mjs: the prebuilds shipped in
// the package) find and run node-gyp, and turn a failed build's log into one readable reason.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function findNodeGyp(root) {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    // npm's bundled copy, next to the running node (Debian: /usr/lib/node_modules, nvm: lib/...).
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js'
    ),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && fs.existsSync(c));
}

// Headers of the running node, so node-gyp never tries to download them (no network at install).
export function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

/**
 * A build directory whose binding.gyp is a copy of `gypFile` beside a link to native/: binding.gyp
 * names its sources relative to itself, so the copy builds the same files with its own build/.
 */
export function stageGyp(root, stage, gypFile) {
  fs.mkdirSync(stage, { recursive: true });
  fs.copyFileSync(gypFile, path.join(stage, 'binding.gyp'));
  const link = path.join(stage, 'native');
  if (!fs.existsSync(link)) fs.symlinkSync(path.relative(stage, path.join(root, 'native')), link);
}

export const jobs = String(Math.max(1, Math.min(8, os.availableParallelism?.() ?? 2)));

/**
 * `node-gyp configure` then `node-gyp build` in `cwd`: unlike `rebuild` this keeps the objects of an
 * earlier build, so make recompiles only what changed (configure re-reads binding.gyp, so added or
 * removed source files are picked up). Returns { ok, log, error }.
 */
export function gypBuild(gyp, cwd, { configureArgs = [], env = process.env } = {}) {
  let log = '';
  for (const args of [
    ['configure', ...nodedirArgs(), ...configureArgs],
    ['build', '-j', jobs],
  ]) {
    const res = spawnSync(process.execPath, [gyp, ...args], {
      cwd,
      encoding: 'utf8',
      env,
      timeout: 15 * 60 * 1000,
      maxBuffer: 64 << 20,
    });
    log += `${res.stdout ?? ''}\n${res.stderr ?? ''}`;
    if (res.error) return { ok: false, log, error: res.error.code === 'ETIMEDOUT' ? 'build timed out' : res.error.message };
    if (res.status !== 0) return { ok: false, log, error: null };
  }
  return { ok: true, log, error: null };
}

// One short, actionable reason from a build log.
export function shortReason(log) {
  const lines = log
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const compiler = lines.find((l) => /:\d+:(\d+:)? (fatal )?error: /.test(l));
  const gypErr = lines.find((l) => /^gyp ERR! (?!stack|System|command|cwd|node -v|node-gyp -v|not ok|build error)/.test(l));
  const python = lines.find((l) => /^[A-Za-z.]*Error: /.test(l)); // gyp's own traceback
  let s;
  if (python) s = `configure failed: ${python}`;
  else if (compiler) s = `compile error: ${compiler.replace(/^.*?(fatal )?error: /, '')}`;
  else if (lines.some((l) => /make: \*\*\*/.test(l)))
    s = `C++ compiler failed${process.env.CXX ? ` (CXX=${process.env.CXX})` : ''}`;
  else
    s = (gypErr ?? lines.find((l) => /error/i.test(l)) ?? lines[lines.length - 1] ?? 'unknown error').replace(/^gyp ERR! /, '');
  s = s.replace(/\s+/g, ' ');
  return s.length > 140 ? `${s.slice(0, 137)}...` : s;
}
