// Direct convolution for every shape: per image and group, pad the group's input planes once, then
// accumulate each (output channel, input channel) filter with convPlane. Depthwise layers (one input
// channel per group, any channel multiplier) take one pass per output channel; this is their fast
// path. Dense layers are correct here but belong to im2col.

import { convPlane } from './depthwise';
import { zeroPlanes, copyInteriors, paddedHeight, paddedWidth } from './pad';
import { N, C, H, W, K, Kg, Cg, R, S, groups, OH, OW, relu } from './params';

/** Floats of workspace: one group's padded input planes. */
export function directWorkspaceFloats(): i64 {
  return <i64>Cg * <i64>paddedHeight() * <i64>paddedWidth();
}

/** bias: K floats (zeros when the layer has none). */
export function convDirect(input: usize, weight: usize, bias: usize, out: usize, workspace: usize): void {
  const inPlane = <usize>H * <usize>W * 4;
  const outPlane = <usize>OH * <usize>OW * 4;
  const padded = <usize>paddedHeight() * <usize>paddedWidth() * 4;
  const filter = <usize>R * <usize>S * 4;
  zeroPlanes(workspace, Cg);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      copyInteriors(input + (<usize>n * <usize>C + <usize>g * <usize>Cg) * inPlane, Cg, workspace);
      for (let kk = 0; kk < Kg; kk++) {
        const k = g * Kg + kk;
        const dst = out + (<usize>n * <usize>K + <usize>k) * outPlane;
        const b = load<f32>(bias + (<usize>k << 2));
        for (let ci = 0; ci < Cg; ci++) {
          convPlane(workspace + <usize>ci * padded, weight + (<usize>k * <usize>Cg + <usize>ci) * filter, dst, b,
                    ci == 0, relu && ci == Cg - 1);
        }
      }
    }
  }
}
