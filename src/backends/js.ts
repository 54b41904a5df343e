// The float64 reference: a direct convolution summed in double precision. It is the test oracle for
// every other backend and the last-resort `js` backend. Written for obviousness, not speed.

import type { Algorithm, Backend, ConvParams } from './types.js';

/**
 * Direct convolution in float64. With `abs`, computes S = conv(|x|, |w|) + |b| instead: the scale that
 * error bounds are expressed in (the rounding error of any summation order is bounded by a multiple of S).
 *
 * Padding is zeros that take part in the products, as in PyTorch's definition (pad, then correlate): a
 * padded tap contributes 0 * w, which is 0 for finite w and NaN for w = ±Inf/NaN.
 */
export function convReference(
  p: ConvParams,
  input: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  abs = false
): Float64Array {
  const { N, C, H, W, K, R, S, groups, OH, OW } = p;
  const Cg = C / groups,
    Kg = K / groups;
  const out = new Float64Array(N * K * OH * OW);
  const f = abs ? Math.abs : (v: number) => v;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg);
      const b = bias ? f(bias[k]) : 0;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = 0;
          for (let c = 0; c < Cg; c++) {
            const ci = g * Cg + c;
            for (let r = 0; r < R; r++) {
              const ih = oh * p.strideH - p.padTop + r * p.dilationH;
              for (let s = 0; s < S; s++) {
                const iw = ow * p.strideW - p.padLeft + s * p.dilationW;
                const w = f(weight[((k * Cg + c) * R + r) * S + s]);
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                  acc += 0 * w;
                  continue;
                }
                acc += f(input[((n * C + ci) * H + ih) * W + iw]) * w;
              }
            }
          }
          const v = acc + b;
          // NaN stays NaN through ReLU and ReLU6, as torch.relu and torch.clamp do.
          out[((n * K + k) * OH + oh) * OW + ow] = p.relu && v < 0 ? 0 : p.relu6 && v > 6 ? 6 : v;
        }
      }
    }
  }
  return out;
}

export function createJsBackend(): Backend {
  const run = (p: ConvParams, input: Float32Array, weight: Float32Array, bias: Float32Array | null, out: Float32Array) => {
    out.set(convReference(p, input, weight, bias));
  };
  return {
    name: 'js',
    isa: 'js-f64',
    threads: 1,
    algorithms: ['direct'],
    supports: (_p: ConvParams, algo: Algorithm) =>
      algo === 'direct' ? null : `algorithm '${algo}' is not implemented on the js backend (it has 'direct' only)`,
    choose: () => ({ algorithm: 'direct', reason: 'the js backend has one algorithm: direct float64 summation' }),
    conv2d: (p, input, weight, bias, out) => run(p, input, weight, bias, out),
    conv2dAsync: async (p, input, weight, bias, out) => run(p, input, weight, bias, out),
  };
}
