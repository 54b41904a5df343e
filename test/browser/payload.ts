// What a page downloads to run fastconv: the JS modules reachable from the browser entry point plus
// the one wasm build an engine uses (an engine fetches one of relaxed/simd/scalar, never several). Sizes are gzip level 9, as a server would send them.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

export const PAYLOAD_LIMIT = 200 * 1024;

export const gz = (bytes: Uint8Array | string): number => gzipSync(bytes, { level: 9 }).length;

/** Every module reachable through static imports/exports (`from './x.js'`) and dynamic `import('./x.js')`. */
export function moduleGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g))
      visit(resolve(dirname(file), m[1]));
  };
  visit(resolve(entry));
  return [...seen].sort();
}

export interface Payload {
  files: { file: string; bytes: number; gzip: number }[];
  bytes: number;
  gzip: number;
}

export function payload(files: string[]): Payload {
  const rows = files.map((file) => {
    const b = readFileSync(file);
    return { file, bytes: b.length, gzip: gz(b) };
  });
  return { files: rows, bytes: rows.reduce((a, r) => a + r.bytes, 0), gzip: rows.reduce((a, r) => a + r.gzip, 0) };
}

export const kB = (n: number): string => `${(n / 1024).toFixed(1)} kB`;
