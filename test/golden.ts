// Loads the PyTorch golden vectors committed in test/golden/. GOLDEN_DIRS' second entry is an optional
// directory outside the checkout; a checkout without it (every user's) runs the committed copy alone.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GoldenCase } from './golden-parse.js';
import { parseGolden } from './golden-parse.js';

export type { GoldenCase } from './golden-parse.js';

const here = dirname(fileURLToPath(import.meta.url));
export const GOLDEN_DIRS = [join(here, 'golden'), join(here, '..', '..', 'shared', 'golden')];

/** All golden cases by name; a case in a later GOLDEN_DIRS entry replaces the committed one of that name. */
export function loadGolden(): GoldenCase[] {
  const byName = new Map<string, GoldenCase>();
  for (const dir of GOLDEN_DIRS) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      const file = join(dir, f);
      const c = parseGolden(file, JSON.parse(readFileSync(file, 'utf8')));
      byName.set(c.name, c);
    }
  }
  return [...byName.values()];
}
