// Node loader for the wasm builds: reads <package root>/assembly/build/fastconv-<variant>.wasm.
// The package root is found by walking up from this file, which runs both as src/backends/*.ts
// (vitest) and as dist/src/backends/*.js (after tsc).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WasmBuild } from './wasm.js';

let root: string | null = null;

function packageRoot(): string {
  if (root !== null) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, 'utf8')).name === 'fastconv') {
          root = dir;
          return root;
        }
      } catch {
        // an unreadable package.json on the way up is not ours; keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`fastconv: package root not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function wasmPath(variant: WasmBuild): string {
  return join(packageRoot(), 'assembly', 'build', `fastconv-${variant}.wasm`);
}

/** The compiled module's bytes; throws (naming the file and `npm run build:wasm`) when missing. */
export function loadWasmBytes(variant: WasmBuild): Uint8Array {
  const file = wasmPath(variant);
  if (!existsSync(file)) throw new Error(`fastconv: ${file} is missing; run \`npm run build:wasm\``);
  return new Uint8Array(readFileSync(file));
}
