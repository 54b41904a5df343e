// What the fuzzer runs each case on: every backend x ISA path (test/paths.ts) as a public-API backend
// choice, with the algorithms that path implements. Going through conv1d/conv2d (not the backend
// object) also fuzzes argument normalization, layouts, `out` buffers and the async plumbing.

import type { Algorithm } from '../../src/backends/types.js';
import type { BackendChoice } from '../../src/shape.js';
import { backendInfo } from '../../src/index.node.js';
import type { Path } from '../paths.js';
import { allPaths } from '../paths.js';

export interface Target {
  label: string;
  choice: BackendChoice;
  path: Path;
  algorithms: readonly Algorithm[];
}

const CHOICE: Record<string, BackendChoice> = { 'wasm-simd': 'wasm-simd', 'wasm-scalar': 'wasm-scalar', js: 'js' };

export function fuzzTargets(): Target[] {
  const available = backendInfo().available;
  return allPaths()
    .filter((p) => (p.label.startsWith('native-') ? available.native : p.label in CHOICE))
    .map((path) => ({
      label: path.label,
      choice: path.label.startsWith('native-') ? 'native' : CHOICE[path.label],
      path,
      algorithms: path.backend.algorithms,
    }));
}
