// Lists the addon's C++ sources for binding.gyp, grouped by the ISA their file name declares, so
// that adding a kernel file never requires editing the build description.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function walk(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

function isaOf(file) {
  const base = path.basename(file);
  if (/_avx512/.test(base)) return 'avx512';
  if (/_avx2/.test(base)) return 'avx2';
  if (/_neon/.test(base)) return 'neon';
  return 'main';
}

function list(isa) {
  const root = path.join(__dirname, '..');
  return walk(path.join(root, 'native'))
    .filter((f) => f.endsWith('.cc'))
    .filter((f) => isaOf(f) === isa)
    .map((f) => path.relative(root, f).split(path.sep).join('/'));
}

function print(isa) {
  // gyp splits on whitespace; a static_library with no sources is rejected, so an ISA without
  // files yet still gets a placeholder translation unit.
  const files = list(isa);
  process.stdout.write(`${(files.length ? files : ['native/empty_isa_unit.c']).join(' ')}\n`);
}

module.exports = { list, print };
