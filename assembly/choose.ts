// Which algorithms this module can run on the problem at PARAMS (supports) and which one it runs
// when asked to choose (choose), each with the sentence that says why (reason.ts). The shape rules
// are the algorithms' own (winogradApplies, fftApplies); the choice's thresholds were measured on the
// simd build, interleaved medians (bench/README.md, "Wasm algorithm rules").

import { ALGO_DIRECT, ALGO_IM2COL, ALGO_WINOGRAD, ALGO_FFT, OK, ERR_ALGORITHM, statusMessage } from './interface.generated';
import { readParams, C, K, Cg, Kg, R, S, groups, strideH, strideW, dilationH, dilationW } from './params';
import { clearReason, put, putInt } from './reason';
import { winogradApplies, winogradTileNow } from './winograd';
import { fftApplies } from './fft';

function putShape(): void {
  put('; got '); putInt(R); put('x'); putInt(S);
  put(' stride '); putInt(strideH); put('x'); putInt(strideW);
  put(' dilation '); putInt(dilationH); put('x'); putInt(dilationW);
}

/** OK when `algo` can run the problem at PARAMS (already read), else ERR_ALGORITHM with the reason written. */
function applies(algo: i32): i32 {
  if (algo == ALGO_DIRECT || algo == ALGO_IM2COL) return OK;
  if (algo == ALGO_WINOGRAD) {
    if (winogradApplies()) return OK;
    put("the wasm backend's 'winograd' (F(2x2,3x3), F(4x4,3x3), F(2,3), F(4,3)) needs a 3x3 kernel, or a 1x3 one, at stride 1");
    putShape();
    return ERR_ALGORITHM;
  }
  if (algo == ALGO_FFT) {
    if (fftApplies()) return OK;
    put("the wasm backend's 'fft' needs stride 1 and dilation 1");
    putShape();
    return ERR_ALGORITHM;
  }
  put('algorithm code '); putInt(algo); put(' is not built into this module');
  return ERR_ALGORITHM;
}

/**
 * OK when `algo` can run the problem at PARAMS; else a status code (the problem's own, when this
 * module cannot take it at all) with the reason at reasonPtr(). prepare() applies the same test.
 */
export function supports(algo: i32): i32 {
  clearReason();
  const err = readParams();
  if (err != OK) {
    put(statusMessage(err));
    return err;
  }
  return applies(algo);
}

/** supports() for prepare(): PARAMS already read and checked against the buffers. */
export function appliesToLoaded(algo: i32): bool {
  clearReason();
  return applies(algo) == OK;
}

/** The algorithm this module runs best on the problem at PARAMS, with the reason; -1 (and why) when it cannot take it. */
export function choose(): i32 {
  clearReason();
  const err = readParams();
  if (err != OK) {
    put(statusMessage(err));
    return -1;
  }
  // Depthwise runs faster direct than as tiny GEMMs, but a single-channel dense layer (groups = 1,
  // C = 1: audio, LeNet) is faster as a GEMM.
  if (groups > 1 && C == groups) {
    put('one input channel per group (depthwise): direct, SIMD along output rows');
    return ALGO_DIRECT;
  }
  // 3x3: Winograd beat im2col from 16 channels in and out; 8 -> 8 was even and 3 -> 16 slower (too
  // little GEMM depth to pay for the transforms). Dilated (one undilated phase per offset) it wins too.
  if (R == 3 && winogradApplies() && Cg >= 16 && Kg >= 16) {
    const tile = winogradTileNow(false);
    put('3x3 stride 1 with >= 16 channels in and out per group: Winograd ');
    put(tile == 4 ? 'F(4x4,3x3), 4x' : 'F(2x2,3x3), 2.25x');
    put(' fewer multiplies (the tile of a call without a weight store)');
    return ALGO_WINOGRAD;
  }
  // 1x3: F(4,3) took less time than im2col from 32 channels in and out, more at 16.
  if (R == 1 && winogradApplies() && dilationH == 1 && dilationW == 1 && Cg >= 32 && Kg >= 32) {
    const tile = winogradTileNow(false);
    put('kernel 3 along W, stride 1, >= 32 channels in and out per group: Winograd ');
    put(tile == 4 ? 'F(4,3), 2x' : 'F(2,3), 1.5x');
    put(' fewer multiplies');
    return ALGO_WINOGRAD;
  }
  // FFT beat im2col on 11x11 with 16 channels, k 251 with 1 channel, 7x7 with 64 and 9x9 with 16;
  // it lost at 5x5 with 16 channels, 7x7 with 3, conv1d k 5, and k 63 with 1 channel. The cached
  // spectra take about 8*K*Cg*R*S floats: kept under 64 MiB.
  const bigKernel2d = R >= 7 && S >= 7 && Cg >= 8;
  const bigKernel1d = R == 1 && (S >= 128 || (S >= 31 && Cg >= 16));
  const spectraFit = 8 * <i64>K * <i64>Cg * <i64>R * <i64>S <= (<i64>1 << 24);
  if (fftApplies() && spectraFit && (bigKernel2d || bigKernel1d)) {
    put('large kernel ('); putInt(R); put('x'); putInt(S);
    put(') at stride 1: FFT convolution over overlap-save tiles');
    return ALGO_FFT;
  }
  put('dense channels: GEMM over im2col taps with a 4x8 register-blocked microkernel');
  return ALGO_IM2COL;
}
