// The FFT/GEMM crossover and its load-time calibration (src/backends/fft-crossover.ts): the scale
// follows the probe's time ratio within its limits, the thresholds move with it, and the native
// backend calibrates once per ISA and says so in its reason.

import { describe, expect, it } from 'vitest';
import {
  calibrateFft, calibrationFromTimes, fftWins, REFERENCE_FFT_RATIO, SCALE_LIMITS,
} from '../src/backends/fft-crossover.js';
import { loadNativeBackend, nativeInfo, setNativeIsa } from '../src/backends/native.js';
import type { Backend, ConvParams } from '../src/backends/types.js';
import { expectNative, nativeOnly } from './paths.js';

function conv2dParams(C: number, H: number, R: number, K = C): ConvParams {
  const pad = (R - 1) >> 1;
  return {
    N: 1, C, H, W: H, K, R, S: R, groups: 1, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1,
    padTop: pad, padBottom: pad, padLeft: pad, padRight: pad, OH: H, OW: H, relu: false,
  };
}
function conv1dParams(C: number, W: number, S: number, K = C): ConvParams {
  return { ...conv2dParams(C, 1, 1, K), W, S, padLeft: (S - 1) >> 1, padRight: (S - 1) >> 1, OW: W };
}

describe('fftWins (reference thresholds)', () => {
  it('picks FFT for the suite layers it won on the reference machine and GEMM elsewhere', () => {
    expect(fftWins(conv2dParams(16, 128, 11), 16)).toBe(true);          // L9
    expect(fftWins(conv1dParams(1, 16000, 251, 32), 1)).toBe(true);     // L10
    expect(fftWins(conv1dParams(300, 512, 5, 100), 300)).toBe(false);   // L11
    expect(fftWins(conv2dParams(64, 56, 3), 64)).toBe(false);           // 3x3
    expect(fftWins(conv2dParams(1, 28, 5, 6), 1)).toBe(false);          // L12: too few pixels
  });

  it('moves the tap thresholds with the scale', () => {
    const p = conv2dParams(64, 56, 5); // 25 taps, 3136 pixels: right at the reference crossover
    expect(fftWins(p, 64, 1)).toBe(true);
    expect(fftWins(p, 64, 1.1)).toBe(false);   // FFT relatively slower here: needs more taps
    const q = conv2dParams(16, 40, 7);         // 49 taps, 1600 pixels
    expect(fftWins(q, 16, 1)).toBe(true);
    expect(fftWins(q, 16, 1.05)).toBe(false);
    const c = conv1dParams(8, 4000, 31);       // 4 <= Cg < 16: 33 taps on the reference
    expect(fftWins(c, 8, 1)).toBe(false);
    expect(fftWins(c, 8, 0.9)).toBe(true);     // FFT relatively faster here
  });
});

describe('calibration', () => {
  it('scales by the probe ratio over the reference ratio, within the limits', () => {
    expect(calibrationFromTimes(REFERENCE_FFT_RATIO, 1).scale).toBeCloseTo(1, 12);
    expect(calibrationFromTimes(REFERENCE_FFT_RATIO * 1.3, 1).scale).toBeCloseTo(1.3, 12);
    expect(calibrationFromTimes(REFERENCE_FFT_RATIO * 0.8, 2).scale).toBe(SCALE_LIMITS[0]);
    expect(calibrationFromTimes(10, 1).scale).toBe(SCALE_LIMITS[1]);
    for (const [f, g] of [[0, 1], [1, 0], [NaN, 1], [Infinity, 1]]) {
      const c = calibrationFromTimes(f, g);
      expect(c.scale).toBe(1);
      expect(c.fftMs).toBeNull();
    }
  });

  it('times both algorithms after warm-up calls and keeps the best of each', () => {
    const calls: string[] = [];
    let clock = 0;
    // The timed calls take 3 ms (fft) and 5 ms (im2col), plus a slow outlier of each.
    const cost = { fft: [9, 3, 3, 7, 3], im2col: [5, 5, 20, 5, 5] };
    const seen = { fft: 0, im2col: 0 };
    const run = (algo: 'fft' | 'im2col') => {
      calls.push(algo);
      const n = seen[algo]++;
      if (n >= 2) clock += cost[algo][n - 2];
    };
    const cal = calibrateFft(run, () => clock, 5);
    expect(calls.slice(0, 4)).toEqual(['fft', 'im2col', 'fft', 'im2col']); // untimed warm-up
    expect(calls).toHaveLength(14);
    expect(cal.fftMs).toBe(3);
    expect(cal.im2colMs).toBe(5);
    expect(cal.scale).toBeCloseTo(0.6 / REFERENCE_FFT_RATIO, 12);
    expect(cal.note).toMatch(/0\.60x/);
  });
});

/** A native backend of its own: its FFT calibrations start empty (each loadNativeBackend() has its own). */
function freshNative(): Backend {
  const be = loadNativeBackend();
  if ('error' in be) throw new Error(`the native addon is expected in this run but did not load: ${be.error}`);
  return be.backend;
}

describe.skipIf(!expectNative)(nativeOnly('native backend'), () => {
  it('calibrates at the first shape near the crossover, once per ISA, and says so', () => {
    const be = freshNative();
    const first = be.choose(conv2dParams(16, 128, 11));
    expect(first.algorithm).toBe('fft');
    expect(first.reason).toMatch(/calibrated at first use: on the probe FFT took [\d.]+x im2col's time/);
    const again = be.choose(conv2dParams(16, 96, 11));
    expect(again.reason).toBe(first.reason); // the same calibration, not a second probe
    // 3x3 layers never reach the question (no probe, no calibration text).
    expect(be.choose(conv2dParams(64, 56, 3)).reason).not.toMatch(/calibrat/);
  });

  it('keeps the reference crossover with FASTCONV_FFT_CALIBRATION=off', () => {
    const saved = process.env.FASTCONV_FFT_CALIBRATION;
    process.env.FASTCONV_FFT_CALIBRATION = 'off';
    try {
      const be = freshNative();
      const c = be.choose(conv2dParams(64, 56, 5));
      expect(c.algorithm).toBe('fft');
      expect(c.reason).toMatch(/calibration off/);
    } finally {
      if (saved === undefined) delete process.env.FASTCONV_FFT_CALIBRATION;
      else process.env.FASTCONV_FFT_CALIBRATION = saved;
    }
  });

  it('calibrates each ISA on its own', () => {
    const isas = (['avx512', 'avx2', 'scalar'] as const).filter((i) => i === 'scalar' || nativeInfo().cpu[i]);
    const original = nativeInfo().isa;
    const be = freshNative();
    try {
      const notes = isas.map((isa) => {
        setNativeIsa(isa);
        return be.choose(conv2dParams(16, 128, 11)).reason;
      });
      for (const n of notes) expect(n).toMatch(/calibrated at first use/);
      // The scalar build's FFT/GEMM balance differs from AVX-512's: its own probe, its own numbers.
      if (isas.length > 1) expect(new Set(notes).size).toBeGreaterThan(1);
    } finally {
      setNativeIsa(original);
    }
  });
});
