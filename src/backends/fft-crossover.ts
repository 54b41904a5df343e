// Where the tiled FFT beats im2col + GEMM, calibrated on the machine it runs on.
//
// The thresholds below were measured on the reference machine, an AVX-512 Xeon. Another
// CPU, or a lower ISA forced on this one, moves them: GEMM's time grows with the kernel's taps while
// the tiled FFT's barely does, so the crossover's tap count moves in proportion to how fast the FFT is
// relative to GEMM there. The first choice that asks (once per ISA) times both algorithms on a small
// probe (16 channels, 40x40, 7x7: ~1 ms in all) and scales the tap thresholds by
// (t_fft / t_im2col here) / (the same on the reference machine).

import type { ConvParams } from './types.js';

/** t_fft / t_im2col on the probe as calibrateFft measures it on the reference machine (an AVX-512 Xeon). */
export const REFERENCE_FFT_RATIO = 0.57;
/** A probe skewed by a busy machine must not move the thresholds far from what was measured. */
export const SCALE_LIMITS = [0.6, 1.6] as const;

export const FFT_PROBE: ConvParams = {
  N: 1, C: 16, H: 40, W: 40, K: 16, R: 7, S: 7, groups: 1, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1,
  padTop: 3, padBottom: 3, padLeft: 3, padRight: 3, OH: 40, OW: 40, relu: false,
};

export interface FftCalibration {
  /** Multiplies every tap threshold: > 1 where FFT is relatively slower than on the reference. */
  scale: number;
  /** The probe's times (ms, best of the runs) that gave `scale`; null where it was not measured. */
  fftMs: number | null;
  im2colMs: number | null;
  note: string;
}

/**
 * Times `run(algo)` alternately (best of `runs` after one warm-up each) and derives the scale.
 * The best time, not the median: on a shared machine noise only ever adds time.
 */
export function calibrateFft(run: (algo: 'fft' | 'im2col') => void, now: () => number, runs = 5): FftCalibration {
  const best = { fft: Infinity, im2col: Infinity };
  // Two untimed calls each: the first grows the workspaces, the second still pays for it in TLB misses.
  for (let i = 0; i < 2; i++) { run('fft'); run('im2col'); }
  for (let i = 0; i < runs; i++) {
    for (const algo of ['fft', 'im2col'] as const) {
      const t = now();
      run(algo);
      best[algo] = Math.min(best[algo], now() - t);
    }
  }
  return calibrationFromTimes(best.fft, best.im2col);
}

export function calibrationFromTimes(fftMs: number, im2colMs: number): FftCalibration {
  if (!(fftMs > 0 && im2colMs > 0 && Number.isFinite(fftMs) && Number.isFinite(im2colMs))) {
    return { scale: 1, fftMs: null, im2colMs: null, note: 'FFT/GEMM crossover as measured on the reference machine (probe gave no usable time)' };
  }
  const raw = fftMs / im2colMs / REFERENCE_FFT_RATIO;
  const scale = Math.min(SCALE_LIMITS[1], Math.max(SCALE_LIMITS[0], raw));
  return {
    scale, fftMs, im2colMs,
    note: `FFT/GEMM crossover calibrated at first use: on the probe FFT took ${(fftMs / im2colMs).toFixed(2)}x im2col's time ` +
      `(reference ${REFERENCE_FFT_RATIO}), tap thresholds x${scale.toFixed(2)}`,
  };
}

/** Where the tiled FFT beat im2col in the crossover sweep (stride 1, filters transformed per call). */
export function fftWins(p: ConvParams, Cg: number, scale = 1): boolean {
  const taps = p.R * p.S, pixels = p.OH * p.OW;
  if (p.H === 1 && p.R === 1) {
    const minTaps = Cg >= 16 ? 9 : Cg <= 2 ? 127 : 33;
    return p.S >= minTaps * scale;
  }
  return (taps >= 25 * scale && pixels >= 3000) || (taps >= 49 * scale && pixels >= 700) || (taps >= 121 * scale && pixels >= 190);
}
