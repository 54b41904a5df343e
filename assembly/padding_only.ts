// Outputs whose taps all fall in the zero padding are exactly relu(bias) in PyTorch, and their
// S = |bias| leaves no room for the rounding noise a Winograd or FFT tile spreads over its outputs.
// Only whole rows or columns at the edges can qualify (padding wider than the dilated kernel).

import { N, K, H, W, R, S, OH, OW, padTop, padLeft, dilationH, dilationW, strideH, strideW, relu, relu6 } from './params';

@inline function allPadding(o: i32, stride: i32, pad: i32, size: i32, taps: i32, dilation: i32): bool {
  const first = o * stride - pad;
  return first + (taps - 1) * dilation < 0 || first >= size;
}

/** Rewrites padding-only rows and columns of every output plane with relu(bias[k]). */
export function fixPaddingOnly(bias: usize, out: usize): void {
  if (!allPadding(0, strideH, padTop, H, R, dilationH) && !allPadding(OH - 1, strideH, padTop, H, R, dilationH)
      && !allPadding(0, strideW, padLeft, W, S, dilationW) && !allPadding(OW - 1, strideW, padLeft, W, S, dilationW)) {
    return;
  }
  const plane = <usize>OH * <usize>OW;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let v = load<f32>(bias + (<usize>k << 2));
      if (relu && v < 0) v = 0;
      if (relu6 && v > 6) v = 6; // NaN compares false and stays NaN
      const o = out + ((<usize>(n * K + k) * plane) << 2);
      for (let oh = 0; oh < OH; oh++) {
        const rowPad = allPadding(oh, strideH, padTop, H, R, dilationH);
        for (let ow = 0; ow < OW; ow++) {
          if (rowPad || allPadding(ow, strideW, padLeft, W, S, dilationW)) {
            store<f32>(o + ((<usize>oh * <usize>OW + <usize>ow) << 2), v);
          }
        }
      }
    }
  }
}
