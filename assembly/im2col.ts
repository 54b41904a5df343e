// The GEMM's packed B path (gemm.ts: strides other than 1 along rows, pointwise layers, narrow rows).
// Builds the B operand of the convolution GEMM straight from the NCHW input, one panel at a time:
// B[q][p] with q = (c, r, s) over the group's channels and p = (oh, ow) over output pixels, stored
// as NR-column strips [strip][kc][NR] so the microkernel reads B sequentially. Padding taps become
// zeros here, so the kernel never tests bounds. The full im2col matrix is never materialised.

import { NR } from './kernels/gemm_4x8';
import { Step1, Step2, StepN, stepOf } from './stride';
import { H, W, R, S, OW, strideW, strideH, dilationH, dilationW, padTop, padLeft, padBottom, padRight } from './params';

/** 1x1, stride 1, no padding: B is the input itself ([C][H*W] rows), see packPointwise. */
export function isPointwise(): bool {
  return R == 1 && S == 1 && strideH == 1 && strideW == 1 &&
    padTop == 0 && padBottom == 0 && padLeft == 0 && padRight == 0;
}

@inline function floorDiv(a: i32, b: i32): i32 {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

@inline function stripAddress(dst: usize, j: i32, qq: i32, kc: i32): usize {
  return dst + ((<usize>(j >> 3) * <usize>kc * NR + <usize>qq * NR + <usize>(j & 7)) << 2);
}

/**
 * Packs rows [pc, pc+kc) and columns [jc, jc+nc) of B for the image/group whose first input channel
 * is at `img` into `dst`, zero-filling the columns of the last strip beyond nc.
 */
export function packPanel(img: usize, pc: i32, kc: i32, jc: i32, nc: i32, dst: usize): void {
  if (strideW == 1) packRows<Step1>(img, pc, kc, jc, nc, dst);
  else if (strideW == 2) packRows<Step2>(img, pc, kc, jc, nc, dst);
  else packRows<StepN>(img, pc, kc, jc, nc, dst);
}

// One compiled copy per stride marker type (stride.ts), so strip copies have no stride tests.
function packRows<T>(img: usize, pc: i32, kc: i32, jc: i32, nc: i32, dst: usize): void {
  const step = stepOf<T>(strideW);
  const RS = R * S;
  const plane = <usize>H * <usize>W * 4;
  let c = pc / RS;
  let r = (pc - c * RS) / S;
  let s = pc - c * RS - r * S;
  const ncPadded = (nc + NR - 1) & ~(NR - 1);
  for (let qq = 0; qq < kc; qq++) {
    const src = img + <usize>c * plane;
    const rowOff = r * dilationH - padTop;
    const colOff = s * dilationW - padLeft;
    // Output columns whose tap lands inside the row: ow*step + colOff in [0, W).
    let owLo = colOff >= 0 ? 0 : (-colOff + step - 1) / step;
    let owHi = floorDiv(W - 1 - colOff, step) + 1;
    if (owHi > OW) owHi = OW;
    if (owLo > owHi) owLo = owHi;

    let oh = jc / OW;
    let ow = jc - oh * OW;
    let j = 0;
    while (j < nc) {
      let seg = OW - ow;
      if (seg > nc - j) seg = nc - j;
      const ih = oh * strideH + rowOff;
      if (ih < 0 || ih >= H) {
        for (let t = 0; t < seg; t++) store<f32>(stripAddress(dst, j + t, qq, kc), 0);
      } else {
        const row = src + <usize>ih * <usize>W * 4;
        const end = ow + seg;
        const lo = owLo > ow ? (owLo < end ? owLo : end) : ow;
        const hi = owHi < end ? (owHi > lo ? owHi : lo) : end;
        let jj = j;
        for (let o = ow; o < lo; o++) store<f32>(stripAddress(dst, jj++, qq, kc), 0);
        let o = lo;
        if (ASC_FEATURE_SIMD && sizeof<T>() <= 2) {
          // Whole strip rows (8 floats starting a strip) as vectors, the rest element by element.
          while (o < hi) {
            const from = row + (<usize>(o * step + colOff) << 2);
            if ((jj & 7) == 0 && o + 8 <= hi) {
              copyStrip<T>(stripAddress(dst, jj, qq, kc), from, step);
              o += 8; jj += 8;
            } else {
              store<f32>(stripAddress(dst, jj++, qq, kc), load<f32>(from));
              o++;
            }
          }
        }
        for (; o < hi; o++) {
          store<f32>(stripAddress(dst, jj++, qq, kc), load<f32>(row + (<usize>(o * step + colOff) << 2)));
        }
        for (o = hi; o < end; o++) store<f32>(stripAddress(dst, jj++, qq, kc), 0);
      }
      j += seg;
      ow = 0;
      oh++;
    }
    for (let t = nc; t < ncPadded; t++) store<f32>(stripAddress(dst, t, qq, kc), 0);
    if (++s == S) { s = 0; if (++r == R) { r = 0; c++; } }
  }
}

/**
 * Pointwise (1x1, stride 1, no padding): B is the input itself, [Cg][H*W] rows, so a strip row is 8
 * contiguous floats even where output rows wrap, and no im2col addressing is needed. It is still
 * packed: reading B in place walks kc rows H*W*4 bytes apart, which measured 10-15 % slower on L4.
 */
export function packPointwise(img: usize, pc: i32, kc: i32, jc: i32, nc: i32, pixels: i32, dst: usize): void {
  const full = nc / NR;
  const rest = nc - full * NR;
  const stripBytes = (<usize>kc * NR) << 2;
  for (let qq = 0; qq < kc; qq++) {
    const row = img + ((<usize>(pc + qq) * <usize>pixels + <usize>jc) << 2);
    let to = dst + (<usize>qq * NR << 2);
    let from = row;
    for (let js = 0; js < full; js++) {
      copyStrip<Step1>(to, from, 1);
      to += stripBytes;
      from += NR * 4;
    }
    if (rest > 0) {
      for (let t = 0; t < NR; t++) store<f32>(to + (<usize>t << 2), t < rest ? load<f32>(from + (<usize>t << 2)) : 0);
    }
  }
}

/** 8 taps `step` floats apart into one strip row (T: stride marker, see stride.ts). */
@inline function copyStrip<T>(to: usize, from: usize, step: i32): void {
  if (ASC_FEATURE_SIMD && sizeof<T>() == 1) {
    v128.store(to, v128.load(from));
    v128.store(to, v128.load(from, 16), 16);
  } else if (ASC_FEATURE_SIMD && sizeof<T>() == 2) {
    v128.store(to, v128.shuffle<f32>(v128.load(from), v128.load(from, 16), 0, 2, 4, 6));
    v128.store(to, v128.shuffle<f32>(v128.load(from, 32), v128.load(from, 48), 0, 2, 4, 6), 16);
  } else {
    const d = <usize>step << 2;
    for (let t: usize = 0; t < <usize>NR; t++) store<f32>(to + (t << 2), load<f32>(from + t * d));
  }
}
