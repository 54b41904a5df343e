// Direct convolution of one zero-padded input plane with one R x S filter into one output plane,
// SIMD along the output row (8 pixels per block, all R*S taps accumulated in registers).
// A depthwise layer (C/groups = 1, any channel multiplier) is one call per output channel; direct.ts
// calls it once per (output, input) channel pair and accumulates for every other shape.
//
// The input plane is copied into a zero-bordered buffer first (pad.ts) so that every block is
// branch-free: padding taps multiply real zeros, exactly as PyTorch's padded input does.

import { madd } from './fma';
import { scratch, SCRATCH_TAIL } from './threads';
import { copyFloats } from './memops';
import { BLOCK, paddedWidth } from './pad';
import { Step1, Step2, StepN, stepOf } from './stride';
import { R, S, OH, OW, strideH, strideW, dilationH, dilationW, relu6 } from './params';

// Two rows of one block, per thread.
@inline function tailAt(): usize { return scratch(SCRATCH_TAIL); }

@inline function gather4<T>(p: usize, step: i32): v128 {
  if (sizeof<T>() == 1) return v128.load(p);
  if (sizeof<T>() == 2) return v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6);
  const d = <usize>step << 2;
  let v = f32x4.splat(load<f32>(p));
  v = f32x4.replace_lane(v, 1, load<f32>(p + d));
  v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * d));
  return f32x4.replace_lane(v, 3, load<f32>(p + 3 * d));
}

/**
 * 8 outputs at `dst` (and, if TWO is u8, 8 more at dst + dst2, from input src + src2) from the padded
 * plane at `src` (already offset to the block's first tap). T is the stride's marker type
 * (stride.ts); K3 = u8 unrolls 3-wide filter rows.
 *
 * Why two rows: each accumulator is a chain of R*S dependent adds, so with one row's two chains
 * the block waits on add latency (L7: bench/README.md, measurements); four chains keep the adders busy.
 */
@inline function block8<T, K3, TWO>(src: usize, src2: usize, rowBytes: usize, w: usize, dst: usize, dst2: usize,
                                    bias: f32, first: bool, doRelu: bool,
                                    kh: i32, kw: i32, dh: usize, dw: usize, step: i32): void {
  const two = sizeof<TWO>() == 1;
  if (ASC_FEATURE_SIMD) {
    let a0: v128, a1: v128, b0: v128 = f32x4.splat(0), b1: v128 = f32x4.splat(0);
    if (first) {
      a0 = f32x4.splat(bias); a1 = a0;
      if (two) { b0 = a0; b1 = a0; }
    } else {
      a0 = v128.load(dst); a1 = v128.load(dst, 16);
      if (two) { b0 = v128.load(dst + dst2); b1 = v128.load(dst + dst2, 16); }
    }
    const half = <usize>(4 * step) << 2;
    let row = src;
    let wp = w;
    for (let r = 0; r < kh; r++) {
      if (sizeof<K3>() == 1) {
        // The common 3-wide filter row, unrolled: no loop counter per tap.
        const w0 = v128.load32_splat(wp), w1 = v128.load32_splat(wp, 4), w2 = v128.load32_splat(wp, 8);
        a0 = madd(a0, w0, gather4<T>(row, step));
        a1 = madd(a1, w0, gather4<T>(row + half, step));
        a0 = madd(a0, w1, gather4<T>(row + dw, step));
        a1 = madd(a1, w1, gather4<T>(row + dw + half, step));
        a0 = madd(a0, w2, gather4<T>(row + 2 * dw, step));
        a1 = madd(a1, w2, gather4<T>(row + 2 * dw + half, step));
        if (two) {
          const q = row + src2;
          b0 = madd(b0, w0, gather4<T>(q, step));
          b1 = madd(b1, w0, gather4<T>(q + half, step));
          b0 = madd(b0, w1, gather4<T>(q + dw, step));
          b1 = madd(b1, w1, gather4<T>(q + dw + half, step));
          b0 = madd(b0, w2, gather4<T>(q + 2 * dw, step));
          b1 = madd(b1, w2, gather4<T>(q + 2 * dw + half, step));
        }
        wp += 12;
      } else {
        let p = row;
        for (let s = 0; s < kw; s++) {
          const wv = v128.load32_splat(wp);
          a0 = madd(a0, wv, gather4<T>(p, step));
          a1 = madd(a1, wv, gather4<T>(p + half, step));
          if (two) {
            b0 = madd(b0, wv, gather4<T>(p + src2, step));
            b1 = madd(b1, wv, gather4<T>(p + src2 + half, step));
          }
          p += dw;
          wp += 4;
        }
      }
      row += dh * rowBytes;
    }
    if (doRelu) {
      const z = f32x4.splat(0);
      a0 = f32x4.pmax(a0, z); // NaN stays NaN
      a1 = f32x4.pmax(a1, z);
      b0 = f32x4.pmax(b0, z);
      b1 = f32x4.pmax(b1, z);
      if (relu6) {
        // doRelu is the conv's relu on its last pass, so the ReLU6 bound rides on it.
        const six = f32x4.splat(6);
        a0 = f32x4.pmin(a0, six); // NaN stays NaN
        a1 = f32x4.pmin(a1, six);
        b0 = f32x4.pmin(b0, six);
        b1 = f32x4.pmin(b1, six);
      }
    }
    v128.store(dst, a0);
    v128.store(dst, a1, 16);
    if (two) {
      v128.store(dst + dst2, b0);
      v128.store(dst + dst2, b1, 16);
    }
  } else {
    // Four outputs at a time, one accumulator each: independent add chains, as in the SIMD path.
    const d = <usize>step << 2;
    const rows = two ? 2 : 1;
    for (let k = 0; k < rows; k++) {
      const out = dst + (k == 0 ? 0 : dst2);
      const in0 = src + (k == 0 ? 0 : src2);
      for (let i: usize = 0; i < <usize>BLOCK; i += 4) {
        let s0: f32, s1: f32, s2: f32, s3: f32;
        if (first) { s0 = bias; s1 = bias; s2 = bias; s3 = bias; }
        else {
          s0 = load<f32>(out + (i << 2)); s1 = load<f32>(out + (i << 2), 4);
          s2 = load<f32>(out + (i << 2), 8); s3 = load<f32>(out + (i << 2), 12);
        }
        let row = in0 + i * d;
        let wp = w;
        for (let r = 0; r < kh; r++) {
          let p = row;
          for (let t = 0; t < kw; t++) {
            const wv = load<f32>(wp);
            s0 += wv * load<f32>(p); s1 += wv * load<f32>(p + d);
            s2 += wv * load<f32>(p + 2 * d); s3 += wv * load<f32>(p + 3 * d);
            p += dw;
            wp += 4;
          }
          row += dh * rowBytes;
        }
        if (doRelu) { s0 = reluScalar(s0); s1 = reluScalar(s1); s2 = reluScalar(s2); s3 = reluScalar(s3); }
        if (doRelu && relu6) { s0 = min6Scalar(s0); s1 = min6Scalar(s1); s2 = min6Scalar(s2); s3 = min6Scalar(s3); }
        store<f32>(out + (i << 2), s0); store<f32>(out + (i << 2), s1, 4);
        store<f32>(out + (i << 2), s2, 8); store<f32>(out + (i << 2), s3, 12);
      }
    }
  }
}

@inline function reluScalar(x: f32): f32 {
  return x < 0 ? 0 : x; // NaN compares false and stays NaN
}

@inline function min6Scalar(x: f32): f32 {
  return x > 6 ? 6 : x; // NaN compares false and stays NaN
}

/** One output row (TWO = u16) or two consecutive ones (TWO = u8): whole blocks, then the tail. */
@inline function rowSpan<T, K3, TWO>(inRow: usize, outRow: usize, w: usize, bias: f32, first: bool, doRelu: bool,
                                     step: i32, kw: i32): void {
  const rowBytes = <usize>paddedWidth() << 2;
  const src2 = <usize>strideH * rowBytes;
  const dst2 = <usize>OW << 2;
  const kh = R;
  const dh = <usize>dilationH, dw = <usize>dilationW << 2;
  const full = OW / BLOCK * BLOCK;
  const tail = OW - full;
  for (let ow = 0; ow < full; ow += BLOCK) {
    block8<T, K3, TWO>(inRow + ((<usize>ow * <usize>step) << 2), src2, rowBytes, w, outRow + (<usize>ow << 2), dst2,
                       bias, first, doRelu, kh, kw, dh, dw, step);
  }
  if (tail > 0) {
    // The last partial block computes into tailAt() (BLOCK floats per row) and copies the valid part.
    const out = outRow + (<usize>full << 2);
    const rows = sizeof<TWO>() == 1 ? 2 : 1;
    for (let k = 0; k < rows; k++) {
      if (!first) copyFloats(tailAt() + <usize>(k * BLOCK * 4), out + <usize>k * dst2, tail);
    }
    block8<T, K3, TWO>(inRow + ((<usize>full * <usize>step) << 2), src2, rowBytes, w, tailAt(), BLOCK * 4,
                       bias, first, doRelu, kh, kw, dh, dw, step);
    for (let k = 0; k < rows; k++) copyFloats(out + <usize>k * dst2, tailAt() + <usize>(k * BLOCK * 4), tail);
  }
}

// One compiled copy per (stride type, filter-width type): see stride.ts.
function planeRows<T, K3>(src: usize, w: usize, dst: usize, bias: f32, first: bool, doRelu: bool): void {
  const step = stepOf<T>(strideW);
  const kw = sizeof<K3>() == 1 ? 3 : S;
  const rowBytes = <usize>paddedWidth() << 2;
  const sh = <usize>strideH;
  let oh = 0;
  for (; oh + 2 <= OH; oh += 2) {
    rowSpan<T, K3, u8>(src + <usize>oh * sh * rowBytes, dst + ((<usize>oh * <usize>OW) << 2), w, bias, first, doRelu,
                       step, kw);
  }
  if (oh < OH) {
    rowSpan<T, K3, u16>(src + <usize>oh * sh * rowBytes, dst + ((<usize>oh * <usize>OW) << 2), w, bias, first, doRelu,
                        step, kw);
  }
}

/**
 * out plane (OH x OW) = (first ? bias : out) + conv(padded plane, filter w[R][S]); ReLU if doRelu.
 */
export function convPlane(src: usize, w: usize, dst: usize, bias: f32, first: bool, doRelu: bool): void {
  // Width-3 filters get unrolled taps (marker u8), others the general loop (u16).
  if (S == 3) {
    if (strideW == 1) planeRows<Step1, u8>(src, w, dst, bias, first, doRelu);
    else if (strideW == 2) planeRows<Step2, u8>(src, w, dst, bias, first, doRelu);
    else planeRows<StepN, u8>(src, w, dst, bias, first, doRelu);
  } else {
    if (strideW == 1) planeRows<Step1, u16>(src, w, dst, bias, first, doRelu);
    else if (strideW == 2) planeRows<Step2, u16>(src, w, dst, bias, first, doRelu);
    else planeRows<StepN, u16>(src, w, dst, bias, first, doRelu);
  }
}
