// FFT convolution for large kernels at stride 1, dilation 1 (overlap-save over tiles).
//
// Each tile of the zero-padded input (T1 x T2 for conv2d, T = T1*T2 samples of one row for 1-row
// kernels) is transformed once per input channel; each output channel's tile is the inverse transform
// of sum_c X_c . conj(W_kc) (cross-correlation, as PyTorch's conv), whose first (T1-R+1) x (T2-S+1)
// outputs are exact (the rest wrap around and are dropped).
//
// The transform is a 2-D complex FFT: radix-2 FFTs down the columns of a row-major plane, 4 adjacent
// columns per SIMD vector, then a transpose and the same again. A 1-D length-T signal runs as the
// same T1 x T2 plane with the four-step twiddle between the passes. The spectrum comes out transposed
// (and in four-step order for 1-D), which does not matter for pointwise products; the inverse undoes
// the steps in reverse. The weights' spectra carry the 1/T of the inverse and are cached across calls.
//
// Non-finite inputs or weights run as im2col: a transform spreads one NaN/Inf over its whole tile.

import { claimChunk } from './threads';
import { copyFloats, zeroFloats } from './memops';
import { copyIntoPlanes } from './pad';
import { allFinite } from './finite';
import { fixPaddingOnly } from './padding_only';
import { cachedWeightsMatch, rememberTransformedWeights, forgetTransformedWeights } from './weight_cache';
import { lanes, add, sub, mul, splat, relu as reluOf, min6 } from './vec';
import { N, C, H, W, K, Kg, Cg, R, S, groups, OH, OW, strideH, strideW, dilationH, dilationW,
         padTop, padLeft, relu, relu6, inputCount, weightCount } from './params';

export function fftApplies(): bool {
  return strideH == 1 && strideW == 1 && dilationH == 1 && dilationW == 1;
}

function pow2AtLeast(x: i32): i32 {
  let p = 1;
  while (p < x) p <<= 1;
  return p;
}

// Tile sizes. 2-D: per dimension the smaller of twice the kernel (half of each tile is output) and
// one tile over the whole padded image; at least 8 (two vectors of columns). 1-D (R = 1): four times
// the kernel (measured better than twice on L10), at least 16 so T1, T2 >= 4.
function oneD(): bool { return R == 1; }
function tile2(kernel: i32, outSize: i32): i32 {
  return max(8, min(pow2AtLeast(2 * kernel - 1), pow2AtLeast(outSize + kernel - 1)));
}
function tileLength(): i32 {
  if (oneD()) return max(16, min(pow2AtLeast(4 * (S - 1)), pow2AtLeast(OW + S - 1)));
  return tile2(R, OH) * tile2(S, OW);
}
function log2(x: i32): i32 { return 31 - clz(x); }
/** Rows and columns of the transform plane. */
function planeRows(): i32 {
  if (oneD()) return 1 << (log2(tileLength()) >> 1);
  return tile2(R, OH);
}
function planeCols(): i32 { return tileLength() / planeRows(); }
/** Outputs per tile along rows and columns. */
function outRows(): i32 { return oneD() ? 1 : planeRows() - R + 1; }
function outCols(): i32 { return oneD() ? tileLength() - S + 1 : planeCols() - S + 1; }
function tilesDown(): i32 { return (OH + outRows() - 1) / outRows(); }
function tilesAcross(): i32 { return (OW + outCols() - 1) / outCols(); }
/** The zero-bordered input planes cover every tile's reads. */
function paddedRows(): i32 { return oneD() ? OH : (tilesDown() - 1) * outRows() + planeRows(); }
function paddedCols(): i32 { return (tilesAcross() - 1) * outCols() + (oneD() ? tileLength() : planeCols()); }

// Workspace layout, in floats: shared [W spectra (re, im per filter) | weights copy | twiddles], then per thread [X | Y | scratch | planes]
function spectraFloats(): i64 { return <i64>K * <i64>Cg * 2 * <i64>tileLength(); }
function twiddleFloats(): i64 { return <i64>(planeRows() + planeCols()) * 2 + 2 * <i64>tileLength(); }
/** Floats shared by all threads: spectra, the weights they came from, twiddles; -1 when the shape does not apply. */
export function fftSharedFloats(): i64 {
  if (!fftApplies()) return -1;
  return spectraFloats() + <i64>weightCount + twiddleFloats();
}

/** Floats each thread needs for itself: X of every channel, Y, scratch, zero-bordered input planes. */
export function fftPrivateFloats(): i64 {
  const t = <i64>tileLength();
  return <i64>Cg * 2 * t + 2 * t + 2 * t + <i64>Cg * <i64>paddedRows() * <i64>paddedCols();
}

// Twiddle tables, set per call: for a column FFT of length n, cos and sin of 2 pi m / n (m < n/2);
// for 1-D, cos and sin of 2 pi k1 n2 / T at [k1][n2].
let cos1: usize = 0, sin1: usize = 0, cos2: usize = 0, sin2: usize = 0, cosT: usize = 0, sinT: usize = 0;

/**
 * f32 of cos/sin; angles at multiples of pi/2 give exact 0, not f64's 6e-17, whose products with
 * small spectra went subnormal and slowed zero-mean inputs 2-3x (measured on L10).
 */
@inline function trig(x: f64): f32 {
  return Math.abs(x) < 1e-12 ? 0 : <f32>x;
}

/** Points this instance's twiddle tables at `at` (every thread; one fills them, fillTwiddles). */
function useTwiddles(at: usize): void {
  const n1 = planeRows(), n2 = planeCols(), t = tileLength();
  cos1 = at; sin1 = cos1 + (<usize>(n1 >> 1) << 2);
  cos2 = sin1 + (<usize>(n1 >> 1) << 2); sin2 = cos2 + (<usize>(n2 >> 1) << 2);
  cosT = sin2 + (<usize>(n2 >> 1) << 2); sinT = cosT + (<usize>t << 2);
}

function fillTwiddles(at: usize): void {
  const n1 = planeRows(), n2 = planeCols(), t = tileLength();
  useTwiddles(at);
  for (let m = 0; m < (n1 >> 1); m++) {
    const a = 2 * Math.PI * <f64>m / <f64>n1;
    store<f32>(cos1 + (<usize>m << 2), trig(Math.cos(a))); store<f32>(sin1 + (<usize>m << 2), trig(Math.sin(a)));
  }
  for (let m = 0; m < (n2 >> 1); m++) {
    const a = 2 * Math.PI * <f64>m / <f64>n2;
    store<f32>(cos2 + (<usize>m << 2), trig(Math.cos(a))); store<f32>(sin2 + (<usize>m << 2), trig(Math.sin(a)));
  }
  if (oneD()) {
    for (let k1 = 0; k1 < n1; k1++) {
      for (let j = 0; j < n2; j++) {
        const a = 2 * Math.PI * <f64>(k1 * j) / <f64>t;
        const i = <usize>(k1 * n2 + j) << 2;
        store<f32>(cosT + i, trig(Math.cos(a))); store<f32>(sinT + i, trig(Math.sin(a)));
      }
    }
  }
}

function reverseBits(x: i32, bits: i32): i32 {
  let r = 0;
  for (let b = 0; b < bits; b++) { r = (r << 1) | (x & 1); x >>= 1; }
  return r;
}

/**
 * In-place radix-2 FFT down every column of a rows x cols plane (re, im separate), `lanes` columns at
 * a time. Forward uses e^{-i theta}, inverse e^{+i theta}; no scaling.
 */
function columnFFT<V>(re: usize, im: usize, rows: i32, cols: i32, cosTab: usize, sinTab: usize, inverse: bool): void {
  const rowBytes = <usize>cols << 2;
  const bits = log2(rows);
  for (let i = 0; i < rows; i++) {
    const j = reverseBits(i, bits);
    if (j <= i) continue;
    const a = <usize>i * rowBytes, b = <usize>j * rowBytes;
    for (let x: usize = 0; x < rowBytes; x += <usize>sizeof<V>()) {
      const t = load<V>(re + a + x); store<V>(re + a + x, load<V>(re + b + x)); store<V>(re + b + x, t);
      const u = load<V>(im + a + x); store<V>(im + a + x, load<V>(im + b + x)); store<V>(im + b + x, u);
    }
  }
  for (let half = 1; half < rows; half <<= 1) {
    const step = rows / (2 * half); // twiddle index stride in the length-`rows` table
    for (let j = 0; j < half; j++) {
      const wr = splat<V>(load<f32>(cosTab + (<usize>(j * step) << 2)));
      const s = load<f32>(sinTab + (<usize>(j * step) << 2));
      const wi = splat<V>(inverse ? s : -s);
      for (let start = 0; start < rows; start += 2 * half) {
        const a = <usize>(start + j) * rowBytes, b = a + <usize>half * rowBytes;
        for (let x: usize = 0; x < rowBytes; x += <usize>sizeof<V>()) {
          const ar = load<V>(re + a + x), ai = load<V>(im + a + x);
          const br = load<V>(re + b + x), bi = load<V>(im + b + x);
          const tr = sub<V>(mul<V>(br, wr), mul<V>(bi, wi));
          const ti = add<V>(mul<V>(br, wi), mul<V>(bi, wr));
          store<V>(re + a + x, add<V>(ar, tr)); store<V>(im + a + x, add<V>(ai, ti));
          store<V>(re + b + x, sub<V>(ar, tr)); store<V>(im + b + x, sub<V>(ai, ti));
        }
      }
    }
  }
}

/** rows x cols -> cols x rows through `scratch` (one plane). */
function transpose(p: usize, rows: i32, cols: i32, scratch: usize): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      store<f32>(scratch + (<usize>(j * rows + i) << 2), load<f32>(p + (<usize>(i * cols + j) << 2)));
    }
  }
  copyFloats(p, scratch, rows * cols);
}

/** Multiplies the T1 x T2 plane by e^{-+i 2 pi k1 n2 / T} (the four-step twiddle). */
function fourStepTwiddle<V>(re: usize, im: usize, inverse: bool): void {
  const t = tileLength();
  for (let i = 0; i < t; i += lanes<V>()) {
    const o = <usize>i << 2;
    const c = load<V>(cosT + o);
    const s = inverse ? load<V>(sinT + o) : sub<V>(splat<V>(0), load<V>(sinT + o));
    const xr = load<V>(re + o), xi = load<V>(im + o);
    store<V>(re + o, sub<V>(mul<V>(xr, c), mul<V>(xi, s)));
    store<V>(im + o, add<V>(mul<V>(xr, s), mul<V>(xi, c)));
  }
}

function forward<V>(re: usize, im: usize, scratch: usize): void {
  const n1 = planeRows(), n2 = planeCols();
  columnFFT<V>(re, im, n1, n2, cos1, sin1, false);
  if (oneD()) fourStepTwiddle<V>(re, im, false);
  transpose(re, n1, n2, scratch); transpose(im, n1, n2, scratch);
  columnFFT<V>(re, im, n2, n1, cos2, sin2, false);
}

function inverse<V>(re: usize, im: usize, scratch: usize): void {
  const n1 = planeRows(), n2 = planeCols();
  columnFFT<V>(re, im, n2, n1, cos2, sin2, true);
  transpose(re, n2, n1, scratch); transpose(im, n2, n1, scratch);
  if (oneD()) fourStepTwiddle<V>(re, im, true);
  columnFFT<V>(re, im, n1, n2, cos1, sin1, true);
}

/** Spectra of every filter, kept from the last call when it had the same weights (weight_cache.ts). */
function transformWeightsCached<V>(weight: usize, spectra: usize, scratch: usize): void {
  const copy = spectra + (<usize>spectraFloats() << 2);
  if (cachedWeightsMatch(spectra, weight, copy)) return;
  transformWeights<V>(weight, spectra, scratch);
  copyFloats(copy, weight, weightCount);
  rememberTransformedWeights(spectra);
}

/** Spectra of every filter, scaled by 1/T, at `spectra` ([k][c] of re then im planes). */
function transformWeights<V>(weight: usize, spectra: usize, scratch: usize): void {
  const t = tileLength();
  const cols = oneD() ? t : planeCols();
  const scale = <f32>(1.0 / <f64>t);
  const planeBytes = <usize>t << 2;
  for (let f = 0; f < K * Cg; f++) {
    const re = spectra + <usize>f * 2 * planeBytes, im = re + planeBytes;
    zeroFloats(re, 2 * t);
    for (let r = 0; r < R; r++) {
      for (let s = 0; s < S; s++) {
        const v = load<f32>(weight + (<usize>((f * R + r) * S + s) << 2));
        store<f32>(re + (<usize>(r * cols + s) << 2), v * scale);
      }
    }
    forward<V>(re, im, scratch);
  }
}


/**
 * Z = Y_k + i Y_k' with Y_k = sum_c X_c . conj(W_kc) over every bin: both outputs are real, so one
 * inverse transform of Z gives channel k in its real part and k' in its imaginary part (half the
 * inverse FFTs). w1 = 0: channel k alone.
 */
function accumulate<V>(x: usize, w0: usize, w1: usize, z: usize): void {
  const t = tileLength();
  const planeBytes = <usize>t << 2;
  zeroFloats(z, 2 * t);
  const zi = z + planeBytes;
  for (let c = 0; c < Cg; c++) {
    const xr = x + <usize>c * 2 * planeBytes, xi = xr + planeBytes;
    const pr = w0 + <usize>c * 2 * planeBytes, pi = pr + planeBytes;
    if (w1 == 0) {
      for (let o: usize = 0; o < planeBytes; o += <usize>sizeof<V>()) {
        const a = load<V>(xr + o), b = load<V>(xi + o), p = load<V>(pr + o), q = load<V>(pi + o);
        store<V>(z + o, add<V>(load<V>(z + o), add<V>(mul<V>(a, p), mul<V>(b, q))));
        store<V>(zi + o, add<V>(load<V>(zi + o), sub<V>(mul<V>(b, p), mul<V>(a, q))));
      }
      continue;
    }
    const rr = w1 + <usize>c * 2 * planeBytes, ri = rr + planeBytes;
    for (let o: usize = 0; o < planeBytes; o += <usize>sizeof<V>()) {
      const a = load<V>(xr + o), b = load<V>(xi + o);
      const p = load<V>(pr + o), q = load<V>(pi + o), u = load<V>(rr + o), v = load<V>(ri + o);
      // Y_k = (ap + bq) + i(bp - aq), Y_k' = (au + bv) + i(bu - av); Z = Y_k + i Y_k'.
      const re = sub<V>(add<V>(mul<V>(a, p), mul<V>(b, q)), sub<V>(mul<V>(b, u), mul<V>(a, v)));
      const im = add<V>(sub<V>(mul<V>(b, p), mul<V>(a, q)), add<V>(mul<V>(a, u), mul<V>(b, v)));
      store<V>(z + o, add<V>(load<V>(z + o), re));
      store<V>(zi + o, add<V>(load<V>(zi + o), im));
    }
  }
}

/** Adds bias (and ReLU) to the valid rows x cols of a tile plane and stores them at dst. */
function storeTile(src: usize, srcCols: i32, dst: usize, rows: i32, cols: i32, b: f32): void {
  for (let i = 0; i < rows; i++) {
    const s = src + (<usize>(i * srcCols) << 2), d = dst + (<usize>(i * OW) << 2);
    for (let j = 0; j < cols; j++) {
      let v = load<f32>(s + (<usize>j << 2)) + b;
      if (relu) v = reluOf<f32>(v);
      if (relu6) v = min6<f32>(v);
      store<f32>(d + (<usize>j << 2), v);
    }
  }
}

/** Where the twiddles go in fftSharedFloats()'s layout: after the spectra and their weights. */
export function fftTwiddlesAt(shared: usize): usize {
  return shared + (<usize>(spectraFloats() + <i64>weightCount) << 2);
}

/** Floats of the spectra of every filter (what a layer's weight store keeps). */
export function fftSpectraFloats(): i64 { return spectraFloats(); }
/** Floats of the twiddle tables (made per call). */
export function fftTwiddleFloats(): i64 { return twiddleFloats(); }
/** Samples per tile and rows of the transform plane: with K, Cg, R, S, the spectra's layout. */
export function fftTileLength(): i32 { return tileLength(); }
export function fftPlaneRows(): i32 { return planeRows(); }

/**
 * Before the threads start: the twiddles into `twiddles` and the weights' spectra into `spectra`:
 * `stored` (a layer's store entry) transforms only when `fill`; otherwise the spectra are kept from
 * the last call with the same weights, copied after them (fftSharedFloats' layout). `own` is thread
 * 0's private area, used as scratch. False when an input or (transformed) weight is not finite: the
 * caller runs im2col instead (its layout overwrites the workspace).
 */
export function fftPrepareShared(input: usize, weight: usize, spectra: usize, twiddles: usize, own: usize,
                                 stored: bool, fill: bool): bool {
  const transform = fill || !stored;
  if (!allFinite(input, inputCount) || (transform && !allFinite(weight, weightCount))) {
    forgetTransformedWeights();
    return false;
  }
  fillTwiddles(twiddles);
  const scratch = own + ((<usize>Cg * 2 * <usize>tileLength()) << 2);
  if (!transform) return true;
  if (stored) {
    if (ASC_FEATURE_SIMD) transformWeights<v128>(weight, spectra, scratch);
    else transformWeights<f32>(weight, spectra, scratch);
  } else {
    if (ASC_FEATURE_SIMD) transformWeightsCached<v128>(weight, spectra, scratch);
    else transformWeightsCached<f32>(weight, spectra, scratch);
  }
  return true;
}

/** This thread's share: (image, group, tile) items as it claims them. `own`: fftPrivateFloats(). */
export function fftSlice(input: usize, bias: usize, out: usize, spectra: usize, twiddles: usize, own: usize): void {
  useTwiddles(twiddles);
  if (ASC_FEATURE_SIMD) convTiles<v128>(input, bias, out, spectra, own);
  else convTiles<f32>(input, bias, out, spectra, own);
}

/** After every thread is done (one thread). */
export function fftFinish(bias: usize, out: usize): void {
  fixPaddingOnly(bias, out);
}

function convTiles<V>(input: usize, bias: usize, out: usize, spectra: usize, own: usize): void {
  const t = tileLength();
  const planeBytes = <usize>t << 2;
  const x = own;
  const y = x + <usize>Cg * 2 * planeBytes;
  const scratch = y + 2 * planeBytes;
  const planes = scratch + 2 * planeBytes;
  const pr = <usize>paddedRows(), pc = <usize>paddedCols();
  const n1 = planeRows(), n2 = planeCols();
  const tileCols = oneD() ? t : n2;      // samples read per padded row
  const tileRowsRead = oneD() ? 1 : n1;  // padded rows read per tile
  const orows = outRows(), ocols = outCols();
  const inPlane = <usize>H * <usize>W * 4;
  const outPlane = <usize>OH * <usize>OW;
  const down = tilesDown(), across = tilesAcross();
  const perImage = down * across;
  const items = N * groups * perImage;
  let loaded = -2; // the (image, group) whose planes are in `planes`; -2: not zeroed yet
  for (let item = claimChunk(); item < items; item = claimChunk()) {
    const ng = item / perImage;
    const n = ng / groups, g = ng - n * groups;
    const tile = item - ng * perImage;
    const oh0 = (tile / across) * orows, ow0 = (tile % across) * ocols;
    if (ng != loaded) {
      if (loaded == -2) zeroFloats(planes, <i32>(<usize>Cg * pr * pc));
      copyIntoPlanes(input + (<usize>n * <usize>C + <usize>g * <usize>Cg) * inPlane, Cg, planes, paddedRows(), paddedCols());
      loaded = ng;
    }
    for (let c = 0; c < Cg; c++) {
      const re = x + <usize>c * 2 * planeBytes, im = re + planeBytes;
      let from = planes + (((<usize>c * pr + <usize>oh0) * pc + <usize>ow0) << 2);
      for (let i = 0; i < tileRowsRead; i++) {
        copyFloats(re + (<usize>(i * tileCols) << 2), from, tileCols);
        from += pc << 2;
      }
      zeroFloats(im, t);
      forward<V>(re, im, scratch);
    }
    const rows = min(orows, OH - oh0), cols = min(ocols, OW - ow0);
    const filterBytes = <usize>Cg * 2 * planeBytes;
    for (let k = 0; k < Kg; k += 2) {
      const kk = g * Kg + k;
      const pair = k + 1 < Kg;
      const w0 = spectra + <usize>kk * filterBytes;
      accumulate<V>(x, w0, pair ? w0 + filterBytes : 0, y);
      inverse<V>(y, y + planeBytes, scratch);
      const o = out + ((<usize>(n * K + kk) * outPlane + <usize>oh0 * <usize>OW + <usize>ow0) << 2);
      storeTile(y, tileCols, o, rows, cols, load<f32>(bias + (<usize>kk << 2)));
      if (pair) storeTile(y + planeBytes, tileCols, o + (outPlane << 2), rows, cols, load<f32>(bias + (<usize>(kk + 1) << 2)));
    }
  }
}
