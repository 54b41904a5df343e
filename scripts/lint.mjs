#!/usr/bin/env node
// npm run lint: Biome (lint, format and import order of the TS/JS, config biome.jsonc) and clang-format
// (native/ C++, config .clang-format) in check mode; npm run format (--write) applies both formatters.
// Both halves always run, so one report shows everything; the exit code is non-zero if either failed.
// Without clang-format on PATH the C++ half says so in one line and passes, except in CI (CI=true),
// where a check that silently did not run would hide unformatted code.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const write = process.argv.includes('--write');
const CPP = /\.(cc|h|inc|c)$/;

const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

function nativeSources() {
  // Tracked and new files, minus what .gitignore excludes (generated headers such as
  // native/conv/interface.generated.h); outside a git checkout, every C/C++ file under native/.
  const git = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', 'native'], {
    cwd: root,
    encoding: 'utf8',
  });
  const listed =
    git.status === 0
      ? git.stdout.split('\0')
      : readdirSync(join(root, 'native'), { recursive: true }).map((f) => relative(root, join(root, 'native', f)));
  return listed.filter((f) => CPP.test(f)).sort();
}

function clangFormat() {
  const probe = spawnSync('clang-format', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const line = 'clang-format not found: C++ format check skipped (install it: apt-get install -y clang-format)';
    if (process.env.CI === 'true') {
      console.error(`lint: ${line.replace('skipped', 'cannot run in CI')}`);
      return 1;
    }
    console.log(`lint: ${line}`);
    return 0;
  }
  const files = nativeSources();
  const status = run('clang-format', write ? ['-i', ...files] : ['--dry-run', '--Werror', ...files]);
  const verdict = status === 0 ? 'ok' : 'needs formatting (npm run format)';
  console.log(`lint: clang-format ${write ? 'formatted' : 'checked'} ${files.length} native files: ${verdict}`);
  return status;
}

// `biome check` = lint rules + formatter + import order; --write applies the formatter and the import
// order only, since lint fixes need a reader (run `npx biome lint --write` for the safe ones).
// Twice: Biome 2.6.9 formats a few member chains (tf.engine().runKernel(...)) differently on a second
// pass over its own output, and a check after one pass would then still fail.
const biomeBin = join(root, 'node_modules', '.bin', 'biome');
const biome = write
  ? [1, 2].map(() => run(biomeBin, ['check', '--write', '--linter-enabled=false'])).pop()
  : run(biomeBin, ['check']);
const cpp = clangFormat();
process.exit(biome || cpp ? 1 : 0);
