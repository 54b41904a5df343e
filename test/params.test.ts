// The packed parameter layout shared by the addon (native/conv/params.h) and the wasm module
// (assembly/params.ts): packParams must write every field at its PARAM_FIELDS index.

import { describe, expect, it } from 'vitest';
import type { ConvParams } from '../src/backends/types.js';
import { packParams, PARAM_FIELDS } from '../src/backends/types.js';

describe('packParams', () => {
  it('writes each field at its PARAM_FIELDS index', () => {
    const p = Object.fromEntries(PARAM_FIELDS.map((f, i) => [f, f === 'relu' ? true : 100 + i])) as unknown as ConvParams;
    const a = packParams(p);
    expect(a).toHaveLength(PARAM_FIELDS.length);
    PARAM_FIELDS.forEach((f, i) => expect(a[i], f).toBe(f === 'relu' ? 1 : 100 + i));
    expect(packParams({ ...p, relu: false })[PARAM_FIELDS.indexOf('relu')]).toBe(0);
  });

  it('reuses the array it is given', () => {
    const into = new Int32Array(PARAM_FIELDS.length);
    const p = Object.fromEntries(PARAM_FIELDS.map((f) => [f, f === 'relu' ? false : 7])) as unknown as ConvParams;
    expect(packParams(p, into)).toBe(into);
  });
});
