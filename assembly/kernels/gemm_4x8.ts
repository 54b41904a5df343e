// The GEMM microkernel: a 4x8 tile of C (4 output channels x 8 output pixels) accumulated over kc
// steps of packed A (4 floats per step) and B (8 floats per step, `ldb` bytes apart).
//
// Why 4x8: V8 on x86-64 allocates 15 xmm registers to wasm SIMD and loads every operand of a loop
// step up front. 4x8 needs 8 accumulators + 2 B vectors + 4 A splats + 1 product = 15: no spills.
// 6x8 and 5x8 spill in V8's code and ran slower than 4x8 (bench/README.md, measurements). Each step
// is a mul and an add per accumulator, or one relaxed_madd in the relaxed build.
// Whatever order the source gives, V8 (--print-wasm-code) emits every load32_splat of a step before
// its first multiply, so a taller tile holds MR splats at once: 5x8 keeps 2 accumulators on the stack
// across iterations and 6x8 more; unrolling k by 2 or 4 hoists twice the operands and loses too.
// Splatting lanes of one A vector (shuffles) instead fits 5x8 in the relaxed build only (a few percent
// faster) and still spills in the simd build, whose mul+add pair per lane already keeps both FP ports
// busy: that build's GEMM is at its ceiling whatever the tile (issue #4 re-measured all of this).
//
// The scalar build (no ASC_FEATURE_SIMD) runs the same tile as four 4x2 column passes: 8 scalar
// accumulators plus operands is what fits registers without SIMD.

import { madd } from '../fma';

export const MR = 4;
export const NR = 8;

/**
 * Where row k of B is: PackedB = `ldb` bytes after row k-1 (a packed strip); IndirectB = at
 * b + offsets[k] (i32 byte offsets), so stride-1 convolutions read 8 consecutive pixels straight from
 * the zero-padded input with no packing pass. Types, not flags, so each mode compiles separately.
 */
export type PackedB = u8;
export type IndirectB = u16;

/** flags: accumulate onto C instead of starting from the bias, and apply ReLU when storing. */
export const LOAD_C = 1;
export const RELU = 2;
/** With RELU: clamp at 6 too (ReLU6). */
export const RELU6 = 4;

/**
 * C[0..4][0..8] = (LOAD_C ? C : bias[row]) + sum_k A[k][row] * B[k][col], then max(0, .) if RELU.
 * a: packed A (kc x 4 floats), b: B rows of 8 floats (see PackedB/IndirectB), c: tile, `ldc` bytes per row.
 */
export function gemm4x8<BM>(kc: i32, a: usize, b: usize, ldb: usize, offsets: usize, c: usize, ldc: usize,
                            bias: usize, flags: i32): void {
  if (ASC_FEATURE_SIMD) {
    gemm4x8Simd<BM>(kc, a, b, ldb, offsets, c, ldc, bias, flags);
  } else {
    for (let col: usize = 0; col < <usize>(NR * 4); col += 8) {
      gemm4x2Scalar<BM>(kc, a, b + col, ldb, offsets, c + col, ldc, bias, flags);
    }
  }
}

@inline function rowOf<BM>(b: usize, offsets: usize): usize {
  return sizeof<BM>() == 1 ? b : b + <usize>load<u32>(offsets);
}

// Only the variant the build calls is compiled: the other body never reaches the compiler.
@inline function gemm4x8Simd<BM>(kc: i32, a: usize, b: usize, ldb: usize, offsets: usize, c: usize, ldc: usize,
                                 bias: usize, flags: i32): void {
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (flags & LOAD_C) {
    let p = c;
    c00 = v128.load(p); c01 = v128.load(p, 16); p += ldc;
    c10 = v128.load(p); c11 = v128.load(p, 16); p += ldc;
    c20 = v128.load(p); c21 = v128.load(p, 16); p += ldc;
    c30 = v128.load(p); c31 = v128.load(p, 16);
  } else {
    c00 = v128.load32_splat(bias); c01 = c00;
    c10 = v128.load32_splat(bias, 4); c11 = c10;
    c20 = v128.load32_splat(bias, 8); c21 = c20;
    c30 = v128.load32_splat(bias, 12); c31 = c30;
  }
  for (let k = 0; k < kc; k++) {
    const row = rowOf<BM>(b, offsets);
    const b0 = v128.load(row);
    const b1 = v128.load(row, 16);
    const a0 = v128.load32_splat(a);
    const a1 = v128.load32_splat(a, 4);
    const a2 = v128.load32_splat(a, 8);
    const a3 = v128.load32_splat(a, 12);
    c00 = madd(c00, a0, b0); c01 = madd(c01, a0, b1);
    c10 = madd(c10, a1, b0); c11 = madd(c11, a1, b1);
    c20 = madd(c20, a2, b0); c21 = madd(c21, a2, b1);
    c30 = madd(c30, a3, b0); c31 = madd(c31, a3, b1);
    a += MR * 4;
    if (sizeof<BM>() == 1) b += ldb;
    else offsets += 4;
  }
  if (flags & RELU) {
    // pmax(x, 0) is `x < 0 ? 0 : x`: NaN stays NaN, as in PyTorch's relu.
    const z = f32x4.splat(0);
    c00 = f32x4.pmax(c00, z); c01 = f32x4.pmax(c01, z); c10 = f32x4.pmax(c10, z); c11 = f32x4.pmax(c11, z);
    c20 = f32x4.pmax(c20, z); c21 = f32x4.pmax(c21, z); c30 = f32x4.pmax(c30, z); c31 = f32x4.pmax(c31, z);
  }
  if (flags & RELU6) {
    // pmin(x, 6) is `6 < x ? 6 : x`: NaN stays NaN, as in torch.clamp.
    const six = f32x4.splat(6);
    c00 = f32x4.pmin(c00, six); c01 = f32x4.pmin(c01, six); c10 = f32x4.pmin(c10, six); c11 = f32x4.pmin(c11, six);
    c20 = f32x4.pmin(c20, six); c21 = f32x4.pmin(c21, six); c30 = f32x4.pmin(c30, six); c31 = f32x4.pmin(c31, six);
  }
  let p = c;
  v128.store(p, c00); v128.store(p, c01, 16); p += ldc;
  v128.store(p, c10); v128.store(p, c11, 16); p += ldc;
  v128.store(p, c20); v128.store(p, c21, 16); p += ldc;
  v128.store(p, c30); v128.store(p, c31, 16);
}

@inline function reluScalar(x: f32): f32 {
  return x < 0 ? 0 : x; // NaN compares false and stays NaN
}

@inline function min6Scalar(x: f32): f32 {
  return x > 6 ? 6 : x; // NaN compares false and stays NaN
}

@inline function gemm4x2Scalar<BM>(kc: i32, a: usize, b: usize, ldb: usize, offsets: usize, c: usize, ldc: usize,
                                   bias: usize, flags: i32): void {
  let c00: f32, c01: f32, c10: f32, c11: f32, c20: f32, c21: f32, c30: f32, c31: f32;
  if (flags & LOAD_C) {
    let p = c;
    c00 = load<f32>(p); c01 = load<f32>(p, 4); p += ldc;
    c10 = load<f32>(p); c11 = load<f32>(p, 4); p += ldc;
    c20 = load<f32>(p); c21 = load<f32>(p, 4); p += ldc;
    c30 = load<f32>(p); c31 = load<f32>(p, 4);
  } else {
    c00 = load<f32>(bias); c01 = c00;
    c10 = load<f32>(bias, 4); c11 = c10;
    c20 = load<f32>(bias, 8); c21 = c20;
    c30 = load<f32>(bias, 12); c31 = c30;
  }
  for (let k = 0; k < kc; k++) {
    const row = rowOf<BM>(b, offsets);
    const b0 = load<f32>(row);
    const b1 = load<f32>(row, 4);
    const a0 = load<f32>(a);
    const a1 = load<f32>(a, 4);
    const a2 = load<f32>(a, 8);
    const a3 = load<f32>(a, 12);
    c00 += a0 * b0; c01 += a0 * b1;
    c10 += a1 * b0; c11 += a1 * b1;
    c20 += a2 * b0; c21 += a2 * b1;
    c30 += a3 * b0; c31 += a3 * b1;
    a += MR * 4;
    if (sizeof<BM>() == 1) b += ldb;
    else offsets += 4;
  }
  if (flags & RELU) {
    c00 = reluScalar(c00); c01 = reluScalar(c01); c10 = reluScalar(c10); c11 = reluScalar(c11);
    c20 = reluScalar(c20); c21 = reluScalar(c21); c30 = reluScalar(c30); c31 = reluScalar(c31);
  }
  if (flags & RELU6) {
    c00 = min6Scalar(c00); c01 = min6Scalar(c01); c10 = min6Scalar(c10); c11 = min6Scalar(c11);
    c20 = min6Scalar(c20); c21 = min6Scalar(c21); c30 = min6Scalar(c30); c31 = min6Scalar(c31);
  }
  let p = c;
  store<f32>(p, c00); store<f32>(p, c01, 4); p += ldc;
  store<f32>(p, c10); store<f32>(p, c11, 4); p += ldc;
  store<f32>(p, c20); store<f32>(p, c21, 4); p += ldc;
  store<f32>(p, c30); store<f32>(p, c31, 4);
}
