// The copies of dilated Winograd's phases (winograd.ts convPhases): phase (a, b) of a dilation
// (dh, dw) reads input rows a + dh*m - padTop and columns b + dw*j - padLeft, gathered into a dense
// zero-bordered plane, and its outputs land at rows a + dh*i, columns b + dw*j. Per row: the columns
// inside the input are one strided run (SIMD deinterleave for dilation 2, the common case), the rest
// zeros. That beat a per-element loop with bounds tests on L8 at dilations 2 and 3
// (bench/README.md, measurements).

import { zeroFloats, copyFloats } from './memops';

/** dst[j] = src[j * step] for j < n. */
@inline function gatherRun(src: usize, step: i32, dst: usize, n: i32): void {
  if (step == 1) { copyFloats(dst, src, n); return; }
  let j = 0;
  if (ASC_FEATURE_SIMD && step == 2) {
    // j + 5 <= n: the second load ends at src[2j + 7] <= src[2(n - 1) - 1], inside the run.
    for (; j + 5 <= n; j += 4) {
      const s = src + (<usize>j << 3);
      v128.store(dst + (<usize>j << 2), v128.shuffle<f32>(v128.load(s), v128.load(s, 16), 0, 2, 4, 6));
    }
  }
  const stepBytes = <usize>step << 2;
  let s = src + <usize>j * stepBytes;
  for (; j < n; j++) {
    store<f32>(dst + (<usize>j << 2), load<f32>(s));
    s += stepBytes;
  }
}

/**
 * Gathers phase (a, b) of `planes` input planes (h0 x w0 at `input`) into h x w planes at `to`:
 * row m, column j = input (a + dh*m - pt, b + dw*j - pl), zero outside the input.
 */
export function gatherPhase(input: usize, planes: i32, h0: i32, w0: i32, a: i32, b: i32, dh: i32, dw: i32,
                            pt: i32, pl: i32, h: i32, w: i32, to: usize): void {
  // Columns [j0, j1) fall inside the input (pl - b > -dw: the numerators are >= 0).
  const j0 = min(w, (pl - b + dw - 1) / dw);
  const j1 = max(j0, min(w, (w0 + pl - b + dw - 1) / dw));
  const rowBytes = <usize>w << 2;
  for (let plane = 0; plane < planes; plane++) {
    const from = input + ((<usize>plane * <usize>h0 * <usize>w0) << 2);
    for (let m = 0; m < h; m++) {
      const ih = a + dh * m - pt;
      if (ih < 0 || ih >= h0 || j1 == j0) {
        zeroFloats(to, w);
      } else {
        zeroFloats(to, j0);
        gatherRun(from + ((<usize>ih * <usize>w0 + <usize>(b + dw * j0 - pl)) << 2), dw, to + (<usize>j0 << 2), j1 - j0);
        zeroFloats(to + (<usize>j1 << 2), w - j1);
      }
      to += rowBytes;
    }
  }
}

/** Scatters oh x ow output planes at `from` to rows a + dh*i, columns b + dw*j of the oh0 x ow0 planes at `out`. */
export function scatterPhase(from: usize, planes: i32, oh: i32, ow: i32, a: i32, b: i32, dh: i32, dw: i32,
                             oh0: i32, ow0: i32, out: usize): void {
  const stepBytes = <usize>dw << 2;
  for (let plane = 0; plane < planes; plane++) {
    const dst = out + ((<usize>plane * <usize>oh0 * <usize>ow0) << 2);
    for (let i = 0; i < oh; i++) {
      let q = dst + ((<usize>(a + dh * i) * <usize>ow0 + <usize>b) << 2);
      if (dw == 1) {
        copyFloats(q, from, ow);
        from += <usize>ow << 2;
        continue;
      }
      for (let j = 0; j < ow; j++) {
        store<f32>(q, load<f32>(from));
        q += stepBytes;
        from += 4;
      }
    }
  }
}
