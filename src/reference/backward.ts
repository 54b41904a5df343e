// Float64 oracles for everything training needs: convolution gradients, transposed convolution and
// pooling. Each one is the textbook loop nest, written from the definition and independent of the fast
// paths in src/backward.ts, src/transpose.ts and src/pool.ts, so that a test comparing the two means
// something. With `abs`, each returns the matching error scale (the same sum over absolute values).

import type { ConvParams } from '../backends/types.js';
import type { TransposeParams } from '../transpose.js';

const id = (v: number) => v;

/** d(sum(y * gy))/dx for the forward convolution `p`: every output tap scatters gy * w back to its input. */
export function convGradInputReference(
  p: ConvParams,
  gradOutput: ArrayLike<number>,
  weight: ArrayLike<number>,
  abs = false
): Float64Array {
  const { N, C, H, W, K, R, S, groups, OH, OW } = p;
  const Cg = C / groups,
    Kg = K / groups;
  const f = abs ? Math.abs : id;
  const gx = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const gy = f(gradOutput[((n * K + k) * OH + oh) * OW + ow]);
          for (let c = 0; c < Cg; c++) {
            for (let r = 0; r < R; r++) {
              const ih = oh * p.strideH - p.padTop + r * p.dilationH;
              if (ih < 0 || ih >= H) continue;
              for (let s = 0; s < S; s++) {
                const iw = ow * p.strideW - p.padLeft + s * p.dilationW;
                if (iw < 0 || iw >= W) continue;
                gx[((n * C + g * Cg + c) * H + ih) * W + iw] += gy * f(weight[((k * Cg + c) * R + r) * S + s]);
              }
            }
          }
        }
      }
    }
  }
  return gx;
}

/** d(sum(y * gy))/dw: [K, C/groups, R, S]. */
export function convGradWeightReference(
  p: ConvParams,
  input: ArrayLike<number>,
  gradOutput: ArrayLike<number>,
  abs = false
): Float64Array {
  const { N, C, H, W, K, R, S, groups, OH, OW } = p;
  const Cg = C / groups,
    Kg = K / groups;
  const f = abs ? Math.abs : id;
  const gw = new Float64Array(K * Cg * R * S);
  for (let k = 0; k < K; k++) {
    const g = Math.floor(k / Kg);
    for (let c = 0; c < Cg; c++) {
      for (let r = 0; r < R; r++) {
        for (let s = 0; s < S; s++) {
          let acc = 0;
          for (let n = 0; n < N; n++) {
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * p.strideH - p.padTop + r * p.dilationH;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < OW; ow++) {
                const iw = ow * p.strideW - p.padLeft + s * p.dilationW;
                if (iw < 0 || iw >= W) continue;
                acc += f(gradOutput[((n * K + k) * OH + oh) * OW + ow]) * f(input[((n * C + g * Cg + c) * H + ih) * W + iw]);
              }
            }
          }
          gw[((k * Cg + c) * R + r) * S + s] = acc;
        }
      }
    }
  }
  return gw;
}

/** d(sum(y * gy))/db: gy summed over batch and positions. */
export function convGradBiasReference(p: ConvParams, gradOutput: ArrayLike<number>, abs = false): Float64Array {
  const { N, K, OH, OW } = p;
  const f = abs ? Math.abs : id;
  const gb = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < OH * OW; i++) gb[k] += f(gradOutput[(n * K + k) * OH * OW + i]);
    }
  }
  return gb;
}

/** PyTorch's ConvTranspose: each input element scatters x * w over its output window (before cropping the padding). */
export function convTransposeReference(
  p: TransposeParams,
  input: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  abs = false
): Float64Array {
  const { N, C, H, W, K, R, S, groups, OH, OW } = p;
  const Cg = C / groups,
    Kg = K / groups;
  const f = abs ? Math.abs : id;
  const out = new Float64Array(N * K * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = bias ? f(bias[k]) : 0;
      for (let i = 0; i < OH * OW; i++) out[(n * K + k) * OH * OW + i] = b;
    }
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      for (let ih = 0; ih < H; ih++) {
        for (let iw = 0; iw < W; iw++) {
          const x = f(input[((n * C + c) * H + ih) * W + iw]);
          for (let kk = 0; kk < Kg; kk++) {
            const k = g * Kg + kk;
            for (let r = 0; r < R; r++) {
              const oh = ih * p.strideH - p.padTop + r * p.dilationH;
              if (oh < 0 || oh >= OH) continue;
              for (let s = 0; s < S; s++) {
                const ow = iw * p.strideW - p.padLeft + s * p.dilationW;
                if (ow < 0 || ow >= OW) continue;
                out[((n * K + k) * OH + oh) * OW + ow] += x * f(weight[((c * Kg + kk) * R + r) * S + s]);
              }
            }
          }
        }
      }
    }
  }
  return out;
}

/** A 2-D pooling window geometry over an [N, C, H, W] input (NC = N * C planes). */
export interface PoolParams {
  NC: number;
  H: number;
  W: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  OH: number;
  OW: number;
}

/**
 * Max pooling as PyTorch's CPU kernel defines it: taps visited row by row, the first strict maximum wins,
 * and a NaN always takes over (so NaN propagates). Padding never wins: only in-range taps are visited.
 */
export function maxPoolReference(p: PoolParams, input: ArrayLike<number>): { output: Float64Array; indices: Int32Array } {
  const { NC, H, W, OH, OW } = p;
  const output = new Float64Array(NC * OH * OW);
  const indices = new Int32Array(NC * OH * OW);
  for (let plane = 0; plane < NC; plane++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let best = -Infinity,
          at = -1;
        for (let r = 0; r < p.kH; r++) {
          const ih = oh * p.strideH - p.padH + r * p.dilationH;
          if (ih < 0 || ih >= H) continue;
          for (let s = 0; s < p.kW; s++) {
            const iw = ow * p.strideW - p.padW + s * p.dilationW;
            if (iw < 0 || iw >= W) continue;
            const v = input[(plane * H + ih) * W + iw];
            if (at < 0 || v > best || Number.isNaN(v)) {
              best = v;
              at = ih * W + iw;
            }
          }
        }
        output[(plane * OH + oh) * OW + ow] = best;
        indices[(plane * OH + oh) * OW + ow] = at;
      }
    }
  }
  return { output, indices };
}

/**
 * Average pooling: the divisor counts the window clipped to the padded input (countIncludePad) or to the
 * input itself, as in PyTorch; a window lying wholly in the padding (possible with ceilMode) yields 0.
 */
export function avgPoolReference(p: PoolParams, input: ArrayLike<number>, countIncludePad: boolean): Float64Array {
  const { NC, H, W, OH, OW } = p;
  const output = new Float64Array(NC * OH * OW);
  for (let plane = 0; plane < NC; plane++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const { divisor, taps } = avgWindow(p, oh, ow, countIncludePad);
        let acc = 0;
        for (const [ih, iw] of taps) acc += input[(plane * H + ih) * W + iw];
        output[(plane * OH + oh) * OW + ow] = taps.length ? acc / divisor : 0;
      }
    }
  }
  return output;
}

/** The in-range taps of one average-pooling window and its divisor. */
export function avgWindow(
  p: PoolParams,
  oh: number,
  ow: number,
  countIncludePad: boolean
): { divisor: number; taps: [number, number][] } {
  const h0 = oh * p.strideH - p.padH,
    w0 = ow * p.strideW - p.padW;
  const h1 = Math.min(h0 + p.kH, p.H + p.padH),
    w1 = Math.min(w0 + p.kW, p.W + p.padW);
  const taps: [number, number][] = [];
  for (let ih = Math.max(h0, 0); ih < Math.min(h1, p.H); ih++) {
    for (let iw = Math.max(w0, 0); iw < Math.min(w1, p.W); iw++) taps.push([ih, iw]);
  }
  const divisor = countIncludePad ? (h1 - h0) * (w1 - w0) : taps.length;
  return { divisor, taps };
}

/** Gradient of max pooling: each output's gradient goes to the input element it selected. */
export function maxPoolBackwardReference(p: PoolParams, gradOutput: ArrayLike<number>, indices: ArrayLike<number>): Float64Array {
  const gx = new Float64Array(p.NC * p.H * p.W);
  const per = p.OH * p.OW;
  for (let plane = 0; plane < p.NC; plane++) {
    for (let i = 0; i < per; i++) {
      const at = indices[plane * per + i];
      if (at >= 0) gx[plane * p.H * p.W + at] += gradOutput[plane * per + i];
    }
  }
  return gx;
}

/** Gradient of average pooling: each output's gradient spread evenly (1/divisor) over its taps. */
export function avgPoolBackwardReference(p: PoolParams, gradOutput: ArrayLike<number>, countIncludePad: boolean): Float64Array {
  const gx = new Float64Array(p.NC * p.H * p.W);
  for (let plane = 0; plane < p.NC; plane++) {
    for (let oh = 0; oh < p.OH; oh++) {
      for (let ow = 0; ow < p.OW; ow++) {
        const { divisor, taps } = avgWindow(p, oh, ow, countIncludePad);
        const g = gradOutput[(plane * p.OH + oh) * p.OW + ow];
        for (const [ih, iw] of taps) gx[(plane * p.H + ih) * p.W + iw] += g / divisor;
      }
    }
  }
  return gx;
}
