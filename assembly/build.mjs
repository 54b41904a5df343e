// Builds the wasm variants from the one AssemblyScript tree (assembly/index.ts). The variants differ
// only in enabled features; the source branches on ASC_FEATURE_SIMD at compile time.
//   node assembly/build.mjs            release builds of every variant
//   node assembly/build.mjs --debug    unoptimised, with assertions and .wat, into assembly/build/debug/

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';
import { generate } from '../native/gen-interface.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const debug = process.argv.includes('--debug');
// Debug builds go aside so they never replace the release files the package loads.
const outDir = debug ? join(here, 'build', 'debug') : join(here, 'build');

const THREADS = ['--enable', 'threads', '--sharedMemory', '--importMemory', '--maximumMemory', '65536', '--initialMemory', '2'];

const VARIANTS = {
  simd: ['--enable', 'simd'],
  // FMA through relaxed_madd: Chromium runs it; Node 20 only with --experimental-wasm-relaxed-simd.
  relaxed: ['--enable', 'simd', '--enable', 'relaxed-simd'],
  scalar: [],
  // Threads: the same sources over an imported shared memory (workers instantiate it too, see
  // src/backends/wasm-pool.ts); the maximum is wasm32's 4 GiB, as for the others.
  'simd-threads': ['--enable', 'simd', ...THREADS],
  'relaxed-threads': ['--enable', 'simd', '--enable', 'relaxed-simd', ...THREADS],
};

const common = [
  join(here, 'index.ts'),
  '--runtime',
  'stub',
  // Growth is explicit (arena.ts), so start at one page and leave the maximum to the engine.
  '--initialMemory',
  '1',
  ...(debug ? ['--debug'] : ['-O3', '--noAssert']),
];

mkdirSync(outDir, { recursive: true });
const started = performance.now();
// The constants shared with the TypeScript side and the addon (native/interface.mjs).
generate(['as']);
for (const [name, flags] of Object.entries(VARIANTS)) {
  const out = join(outDir, `fastconv-${name}.wasm`);
  const args = [...common, ...flags, '--outFile', out];
  if (debug) args.push('--textFile', out.replace(/\.wasm$/, '.wat'));
  const { error, stderr } = await asc.main(args);
  if (error) {
    console.error(`fastconv: wasm build (${name}) failed: ${error.message}\n${stderr.toString()}`);
    process.exit(1);
  }
}
console.log(
  `fastconv: built wasm (${Object.keys(VARIANTS).join(', ')}) in ${((performance.now() - started) / 1000).toFixed(1)} s`
);
