// The native FFT/GEMM crossover and its calibration (native/conv/fft_cost.cc, asked through the
// addon's choose): the reference thresholds pick FFT for the suite layers it won on, the calibrated
// scale follows the probe's time ratio within its limits and moves the thresholds, the probe runs
// once per ISA, and FASTCONV_FFT_CALIBRATION=off keeps the reference crossover.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeFftCalibration, nativeInfo, setNativeIsa } from '../src/backends/native.js';
import type { Backend, ConvParams } from '../src/backends/types.js';
import { expectNative, nativeBackend, nativeOnly, restoreNativeIsa } from './paths.js';

function conv2dParams(C: number, H: number, R: number, K = C): ConvParams {
  const pad = (R - 1) >> 1;
  return {
    N: 1,
    C,
    H,
    W: H,
    K,
    R,
    S: R,
    groups: 1,
    strideH: 1,
    strideW: 1,
    dilationH: 1,
    dilationW: 1,
    padTop: pad,
    padBottom: pad,
    padLeft: pad,
    padRight: pad,
    OH: H,
    OW: H,
    relu: false,
  };
}
/** A conv1d of kernel S (odd), 'same' padding. */
function conv1dParams(C: number, W: number, S: number, K = C): ConvParams {
  return { ...conv2dParams(C, 1, 1, K), W, S, padLeft: (S - 1) >> 1, padRight: (S - 1) >> 1, OW: W };
}

/** Runs fn with FASTCONV_FFT_CALIBRATION set to `value` (the addon reads it at every choice). */
function withCalibration<T>(value: string | undefined, fn: () => T): T {
  const saved = process.env.FASTCONV_FFT_CALIBRATION;
  if (value === undefined) delete process.env.FASTCONV_FFT_CALIBRATION;
  else process.env.FASTCONV_FFT_CALIBRATION = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.FASTCONV_FFT_CALIBRATION;
    else process.env.FASTCONV_FFT_CALIBRATION = saved;
  }
}

describe.skipIf(!expectNative)(nativeOnly('native FFT/GEMM crossover'), () => {
  let be: Backend;
  beforeAll(() => {
    be = nativeBackend();
  });
  afterAll(restoreNativeIsa);

  it('the first calibration waits for a running async call (the probe needs the pool) and both finish', async () => {
    // Long enough to still hold the pool when choose() asks: ~100 MFLOP of im2col.
    const big = conv2dParams(32, 64, 5);
    const x = new Float32Array(32 * 64 * 64).fill(0.5),
      w = new Float32Array(32 * 32 * 25).fill(0.25);
    const out = new Float32Array(32 * 64 * 64);
    const pending = be.conv2dAsync(big, x, w, null, out, 'im2col');
    const choice = withCalibration(undefined, () => be.choose(conv2dParams(16, 128, 11)));
    expect(choice.reason).toMatch(/calibrated at first use/);
    await pending;
    expect(out[64 * 32 + 32]).toBeCloseTo(0.5 * 0.25 * 32 * 25, 2); // an interior output, all 25 taps in the image
  });

  it('calibrates at the first shape near the crossover, once per ISA, and says so', () => {
    withCalibration(undefined, () => {
      const first = be.choose(conv2dParams(16, 128, 11));
      expect(first.algorithm).toBe('fft');
      expect(first.reason).toMatch(/calibrated at first use: on the probe FFT took [\d.]+x im2col's time/);
      const again = be.choose(conv2dParams(16, 96, 11));
      expect(again.reason).toBe(first.reason); // the same calibration, not a second probe
      // 3x3 layers never reach the question (no probe, no calibration text).
      expect(be.choose(conv2dParams(64, 56, 3)).reason).not.toMatch(/calibrat/);
    });
  });

  it('scales the thresholds by the probe ratio over the reference ratio, within the limits', () => {
    const cal = withCalibration(undefined, () => nativeFftCalibration());
    expect(cal.fftMs).toBeGreaterThan(0);
    expect(cal.im2colMs).toBeGreaterThan(0);
    const [lo, hi] = cal.limits;
    expect(lo).toBeLessThan(1);
    expect(hi).toBeGreaterThan(1);
    const raw = cal.fftMs! / cal.im2colMs! / cal.referenceRatio;
    expect(cal.scale).toBeCloseTo(Math.min(hi, Math.max(lo, raw)), 12);
    expect(cal.note).toContain(`FFT took ${(cal.fftMs! / cal.im2colMs!).toFixed(2)}x im2col's time`);
    expect(cal.note).toContain(`tap thresholds x${cal.scale.toFixed(2)}`);
  });

  it('with FASTCONV_FFT_CALIBRATION=off: the reference thresholds, FFT for the suite layers it won on, GEMM elsewhere', () => {
    withCalibration('off', () => {
      const cal = nativeFftCalibration();
      expect(cal.scale).toBe(1);
      expect(cal.fftMs).toBeNull();
      const fft = (p: ConvParams) => be.choose(p).algorithm === 'fft';
      expect(fft(conv2dParams(16, 128, 11))).toBe(true); // L9
      expect(fft(conv1dParams(1, 16000, 251, 32))).toBe(true); // L10
      expect(fft(conv1dParams(300, 512, 5, 100))).toBe(false); // L11
      expect(fft(conv2dParams(64, 56, 3))).toBe(false); // 3x3: Winograd
      expect(fft(conv2dParams(1, 28, 5, 6))).toBe(false); // L12: too few pixels
      const c = be.choose(conv2dParams(64, 56, 5)); // 25 taps, 3136 pixels: right at the reference crossover
      expect(c.algorithm).toBe('fft');
      expect(c.reason).toMatch(/calibration off/);
      // A shape chosen with the calibration on before: the setting counts at every choice.
      expect(be.choose(conv2dParams(16, 128, 11)).reason).toMatch(/calibration off/);
    });
  });

  it('moves the tap thresholds with the scale (conv1d, 4 <= C < 16: 33 taps on the reference machine)', () => {
    withCalibration('off', () => {
      expect(be.choose(conv1dParams(8, 4000, 33)).algorithm).toBe('fft');
      const below = be.choose(conv1dParams(8, 4000, 31));
      expect(below.algorithm).toBe('im2col');
      expect(below.reason).toMatch(/tiled FFT does not pay at this size yet \(.*calibration off\)/);
    });
    withCalibration(undefined, () => {
      const { scale } = nativeFftCalibration();
      const edge = Math.ceil(33 * scale) | 1; // the smallest odd kernel at or past the calibrated threshold
      expect(be.choose(conv1dParams(8, 4000, edge)).algorithm).toBe('fft');
      expect(be.choose(conv1dParams(8, 4000, edge - 2)).algorithm).toBe('im2col');
    });
  });

  it('calibrates each ISA on its own', () => {
    const isas = (['avx512', 'avx2', 'scalar'] as const).filter((i) => i === 'scalar' || nativeInfo().cpu[i]);
    const notes = withCalibration(undefined, () =>
      isas.map((isa) => {
        setNativeIsa(isa);
        return be.choose(conv2dParams(16, 128, 11)).reason;
      })
    );
    for (const n of notes) expect(n).toMatch(/calibrated at first use/);
    // The scalar build's FFT/GEMM balance differs from AVX-512's: its own probe, its own numbers.
    if (isas.length > 1) expect(new Set(notes).size).toBeGreaterThan(1);
  });
});
