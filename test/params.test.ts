// The constants shared by TypeScript, the addon and the wasm module come from one table
// (native/interface.mjs) through native/gen-interface.mjs: the generated files must be what the
// table gives now, packParams must write every field at its PARAM_FIELDS index, and the built
// engines must agree with the table.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain .mjs build scripts, without type declarations
import { OUTPUTS, render } from '../native/gen-interface.mjs';
// @ts-expect-error: plain .mjs build scripts, without type declarations
import * as table from '../native/interface.mjs';
import { nativeInfo } from '../src/backends/native.js';
import type { ConvParams } from '../src/backends/types.js';
import { ALGORITHM_CODE, ALGORITHMS, GRAD_WEIGHT_ALGORITHM_CODE, PARAM_FIELDS, packParams } from '../src/backends/types.js';
import { expectNative, nativeOnly } from './paths.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('the interface table', () => {
  it('the generated files are up to date (npm run build regenerates them)', () => {
    for (const [kind, file] of Object.entries(OUTPUTS as Record<string, string>)) {
      expect(fs.readFileSync(path.join(root, file), 'utf8'), `${file}: rerun node native/gen-interface.mjs`).toBe(render(kind));
    }
  });

  it('TypeScript reads its codes from it', () => {
    expect(PARAM_FIELDS).toEqual(table.PARAM_FIELDS.map((f: { name: string }) => f.name));
    expect(ALGORITHMS).toEqual(table.ALGORITHMS);
    ALGORITHMS.forEach((a, i) => {
      expect(ALGORITHM_CODE[a]).toBe(i);
    });
    table.GRAD_WEIGHT_ALGORITHMS.forEach((a: keyof typeof GRAD_WEIGHT_ALGORITHM_CODE, i: number) => {
      expect(GRAD_WEIGHT_ALGORITHM_CODE[a]).toBe(i);
    });
  });

  it.skipIf(!expectNative)(nativeOnly('the addon was built from it'), () => {
    expect(nativeInfo().algorithms).toEqual(table.ALGORITHMS);
  });
});

describe('packParams', () => {
  it('writes each field at its PARAM_FIELDS index', () => {
    const flag = (f: string) => f === 'relu' || f === 'relu6';
    const p = Object.fromEntries(PARAM_FIELDS.map((f, i) => [f, flag(f) ? true : 100 + i])) as unknown as ConvParams;
    const a = packParams(p);
    expect(a).toHaveLength(PARAM_FIELDS.length);
    PARAM_FIELDS.forEach((f, i) => {
      expect(a[i], f).toBe(flag(f) ? 1 : 100 + i);
    });
    expect(packParams({ ...p, relu: false })[PARAM_FIELDS.indexOf('relu')]).toBe(0);
    expect(packParams({ ...p, relu6: false })[PARAM_FIELDS.indexOf('relu6')]).toBe(0);
  });

  it('reuses the array it is given', () => {
    const into = new Int32Array(PARAM_FIELDS.length);
    const p = Object.fromEntries(PARAM_FIELDS.map((f) => [f, f === 'relu' ? false : 7])) as unknown as ConvParams;
    expect(packParams(p, into)).toBe(into);
  });
});
