// TF.js convolution attributes -> fastconv's explicit arguments. TF.js's own computeConv2DInfo decides the
// output size and the leading pads (its 'same' may be asymmetric and allows stride > 1, unlike PyTorch's);
// what is left is to state the trailing pads so that PyTorch's floor formula lands on TF.js's output size.

import { backend_util } from '@tensorflow/tfjs-core';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
export type DataFormat = 'NHWC' | 'NCHW';

export interface ConvGeometry {
  info: backend_util.Conv2DInfo;
  channelsLast: boolean;
  /** fastconv's [top, bottom, left, right]. */
  padding: [number, number, number, number];
  stride: [number, number];
  dilation: [number, number];
  /** The transposed convolution's outputPadding that gives back the forward input's size (its backprop). */
  outputPadding: [number, number];
}

const isCount = (v: number, min: number) => Number.isInteger(v) && v >= min;

/**
 * The geometry of one TF.js conv kernel call, or null when fastconv should not run it (an empty output
 * plane, a negative or fractional pad, an attribute TF.js itself would reject): the caller then runs
 * tfjs-backend-cpu's kernel, which gives TF.js's answer or TF.js's error.
 */
export function convGeometry(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  dilations: number | [number, number] | undefined | null,
  pad: Pad,
  rounding: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
  dataFormat: DataFormat | undefined
): ConvGeometry | null {
  if (xShape.length !== 4 || filterShape.length !== 4) return null;
  const channelsLast = dataFormat !== 'NCHW';
  let info: backend_util.Conv2DInfo;
  try {
    info = backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      strides,
      dilations ?? 1,
      pad,
      rounding,
      depthwise,
      channelsLast ? 'channelsLast' : 'channelsFirst'
    );
  } catch {
    return null;
  }
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, padInfo } = info;
  const sh = info.strideHeight,
    sw = info.strideWidth,
    dh = info.dilationHeight,
    dw = info.dilationWidth;
  const eh = info.effectiveFilterHeight,
    ew = info.effectiveFilterWidth;
  if (!isCount(batchSize, 0) || !isCount(C, 1) || !isCount(H, 1) || !isCount(W, 1) || !isCount(OH, 1) || !isCount(OW, 1))
    return null;
  if (!isCount(sh, 1) || !isCount(sw, 1) || !isCount(dh, 1) || !isCount(dw, 1)) return null;
  if (!isCount(info.filterHeight, 1) || !isCount(info.filterWidth, 1) || !isCount(filterShape[3], 1)) return null;
  if (filterShape[2] !== C) return null;
  const { top, left } = padInfo;
  if (!isCount(top, 0) || !isCount(left, 0) || !isCount(padInfo.bottom, 0) || !isCount(padInfo.right, 0)) return null;
  // The trailing pads that make PyTorch's floor land exactly on TF.js's output size. They may differ from
  // padInfo's: 'ceil'/'round' can give TF.js a last window reaching past the stated pad (TF.js skips those
  // taps: zero padding), and a number pad sizes both dims by the filter height and stride height
  // (computeOutputShape2D), so a non-square filter or stride can leave the last columns unused. Pad that no
  // kept window reaches changes nothing; a TF.js output narrower than the unpadded fit goes to the cpu kernel.
  const bottom = Math.max(0, (OH - 1) * sh + eh - H - top);
  const right = Math.max(0, (OW - 1) * sw + ew - W - left);
  if (Math.floor((H + top + bottom - eh) / sh) + 1 !== OH || Math.floor((W + left + right - ew) / sw) + 1 !== OW) return null;
  return {
    info,
    channelsLast,
    padding: [top, bottom, left, right],
    stride: [sh, sw],
    dilation: [dh, dw],
    outputPadding: [H + top + bottom - eh - (OH - 1) * sh, W + left + right - ew - (OW - 1) * sw],
  };
}

/** HWIO [R, S, C, K] -> fastconv's [K, C, R, S]. */
export function filterToKCRS(f: Float32Array, R: number, S: number, C: number, K: number): Float32Array {
  const out = new Float32Array(f.length);
  const RS = R * S;
  for (let r = 0; r < R; r++) {
    for (let s = 0; s < S; s++) {
      const tap = r * S + s;
      for (let c = 0; c < C; c++) {
        const src = (tap * C + c) * K;
        for (let k = 0; k < K; k++) out[(k * C + c) * RS + tap] = f[src + k];
      }
    }
  }
  return out;
}

/** fastconv's [K, C, R, S] -> HWIO [R, S, C, K]. */
export function kcrsToFilter(w: Float32Array, R: number, S: number, C: number, K: number): Float32Array {
  const out = new Float32Array(w.length);
  const RS = R * S;
  for (let k = 0; k < K; k++) {
    for (let c = 0; c < C; c++) {
      const src = (k * C + c) * RS;
      for (let tap = 0; tap < RS; tap++) out[(tap * C + c) * K + k] = w[src + tap];
    }
  }
  return out;
}

/**
 * Depthwise [R, S, C, M] -> fastconv's grouped [C*M, 1, R, S] (groups = C): output channel c*M + m of both
 * is input channel c through multiplier m, so this is the HWIO transposition with K = C*M, one input channel.
 */
export function depthwiseToKCRS(f: Float32Array, R: number, S: number, C: number, M: number): Float32Array {
  return filterToKCRS(f, R, S, 1, C * M);
}

export function kcrsToDepthwise(w: Float32Array, R: number, S: number, C: number, M: number): Float32Array {
  return kcrsToFilter(w, R, S, 1, C * M);
}

/** Whether every element is finite (TF.js skips padded taps, fastconv multiplies them by zero: they differ only for NaN/Inf). */
export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return false;
  return true;
}
