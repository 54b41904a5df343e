// Direct convolution for every shape: per image and group, pad the group's input planes once, then
// accumulate each (output channel, input channel) filter with convPlane. Depthwise layers (one input
// channel per group, any channel multiplier) take one pass per output channel; this is their fast
// path. Dense layers are correct here but belong to im2col.

import { convPlane } from './depthwise';
import { claimChunk } from './threads';
import { zeroPlanes, copyInteriors, paddedHeight, paddedWidth } from './pad';
import { N, C, H, W, K, Kg, Cg, R, S, groups, OH, OW, relu } from './params';

/** Floats each thread needs for itself: one group's padded input planes (nothing is shared). */
export function directPrivateFloats(): i64 {
  return <i64>Cg * <i64>paddedHeight() * <i64>paddedWidth();
}

/**
 * This thread's share: (image, output channel) planes as it claims them, so depthwise layers split by
 * channel and dense ones by output channel. bias: K floats (zeros when the layer has none).
 */
export function directSlice(input: usize, weight: usize, bias: usize, out: usize, own: usize): void {
  const inPlane = <usize>H * <usize>W * 4;
  const outPlane = <usize>OH * <usize>OW * 4;
  const padded = <usize>paddedHeight() * <usize>paddedWidth() * 4;
  const filter = <usize>R * <usize>S * 4;
  let loaded = -2; // the (image, group) whose planes are in `own`; -2: not zeroed yet
  for (let item = claimChunk(); item < N * K; item = claimChunk()) {
    const n = item / K, k = item - n * K;
    const g = k / Kg;
    const ng = n * groups + g;
    if (ng != loaded) {
      if (loaded == -2) zeroPlanes(own, Cg);
      copyInteriors(input + (<usize>n * <usize>C + <usize>g * <usize>Cg) * inPlane, Cg, own);
      loaded = ng;
    }
    const dst = out + (<usize>n * <usize>K + <usize>k) * outPlane;
    const b = load<f32>(bias + (<usize>k << 2));
    for (let ci = 0; ci < Cg; ci++) {
      convPlane(own + <usize>ci * padded, weight + (<usize>k * <usize>Cg + <usize>ci) * filter, dst, b,
                ci == 0, relu && ci == Cg - 1);
    }
  }
}
