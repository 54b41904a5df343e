// The golden vectors for tests that run inside the page: test/golden/*.json bundled by Vite
// (test/golden.ts reads them with node:fs, which a page does not have). Same fields, same meaning;
// only the committed copy is visible here (golden.ts's optional extra directory is outside the served root).

import type { GoldenCase, GoldenJson } from '../golden-parse.js';
import { parseGolden } from '../golden-parse.js';

const files = import.meta.glob('../golden/*.json', { eager: true, import: 'default' }) as Record<string, GoldenJson>;

/** The forward cases (conv1d, conv2d); backward cases are the node suite's business. */
export function forwardGolden(): GoldenCase[] {
  return Object.entries(files)
    .filter(([, j]) => j.op === 'conv1d' || j.op === 'conv2d')
    .map(([path, j]) => parseGolden(path, j));
}
