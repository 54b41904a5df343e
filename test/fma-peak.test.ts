// The FMA peak probe the bench divides the GEMM's speed by: it runs on every ISA path and rejects bad
// budgets by name. (What it measures is the bench's business; here it only has to be a real,
// positive rate from the ISA asked for.)
import { describe, expect, it } from 'vitest';
import { nativeFmaPeak, nativeInfo, setNativeIsa } from '../src/backends/native.js';
import { expectNative, nativeOnly } from './paths.js';

describe.skipIf(!expectNative)(nativeOnly('native fmaPeak'), () => {
  it('reports a positive, finite GFLOP/s from the forced ISA on every path this CPU has', () => {
    const original = nativeInfo().isa;
    const isas = (['avx512', 'avx2', 'scalar'] as const).filter((i) => i === 'scalar' || nativeInfo().cpu[i]);
    try {
      for (const isa of isas) {
        setNativeIsa(isa);
        const p = nativeFmaPeak(5);
        expect(p.isa).toBe(isa);
        expect(p.kernel).toBe(`fma_peak_${isa}`);
        expect(Number.isFinite(p.gflops) && p.gflops > 0).toBe(true);
      }
    } finally {
      setNativeIsa(original);
    }
  });

  it('rejects budgets outside [1, 10000] ms with errors naming ms', () => {
    for (const bad of [0, -1, 0.5, 1e5, NaN, Infinity]) expect(() => nativeFmaPeak(bad)).toThrow(RangeError);
    expect(() => nativeFmaPeak(0)).toThrow(/ms: expected a number of milliseconds in \[1, 10000\], got 0/);
    expect(() => nativeFmaPeak('5' as unknown as number)).toThrow(TypeError);
    expect(() => nativeFmaPeak(undefined as unknown as number)).toThrow(/ms: /);
  });
});
