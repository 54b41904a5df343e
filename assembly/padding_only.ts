// Outputs whose taps all fall in the zero padding are exactly relu(bias) in PyTorch, and their
// S = |bias| leaves no room for the rounding noise a Winograd or FFT tile spreads over its outputs.
// Whole rows or columns qualify: at the edges (padding wider than the dilated kernel), and inside
// where a dilated window straddles an input narrower than its dilation with every tap beside it.

import { N, K, H, W, R, S, OH, OW, padTop, padLeft, dilationH, dilationW, strideH, strideW, relu, relu6 } from './params';

@inline function allPadding(o: i32, stride: i32, pad: i32, size: i32, taps: i32, dilation: i32): bool {
  const first = <i64>o * <i64>stride - <i64>pad;
  const t0: i64 = first >= 0 ? 0 : (-first + <i64>dilation - 1) / <i64>dilation; // first tap at index >= 0
  return t0 >= <i64>taps || first + t0 * <i64>dilation >= <i64>size;
}

function anyPadding(count: i32, stride: i32, pad: i32, size: i32, taps: i32, dilation: i32): bool {
  for (let o = 0; o < count; o++) if (allPadding(o, stride, pad, size, taps, dilation)) return true;
  return false;
}

/** Rewrites padding-only rows and columns of every output plane with relu(bias[k]). */
export function fixPaddingOnly(bias: usize, out: usize): void {
  if (!anyPadding(OH, strideH, padTop, H, R, dilationH) && !anyPadding(OW, strideW, padLeft, W, S, dilationW)) return;
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
