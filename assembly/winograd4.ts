// The 1-D pieces of Winograd F(4,3), for winograd.ts's conv1d F(4,3) and (by rows, then columns)
// its F(4x4,3x3): y = A^T [(G g) .* (B^T d)] on 6-point patches, 4 outputs. The matrices are
// native/kernels/winograd_matrices.h's kWinoBT4, kWinoG4
// and kWinoAT4 (points 0, 1, -1, 1/2, -2, infinity): the native backend measured them 5x more accurate
// than Lavin's 0, +-1, +-2 on padded shapes, and sharing them keeps both backends' F(4x4) error and
// accuracy rule (f4_accurate) the same. Written out as combinations rather than loops over a table so
// every coefficient is a constant and the zeros cost nothing.
//
// Each function reads 6 (or 3) values and writes its results `stride` bytes apart, so the same code
// does rows and columns of the 2-D transforms (one in place over the other's results).

import { add, sub, mul, splat } from './vec';

@inline function scale<T>(x: T, k: f32): T { return mul<T>(x, splat<T>(k)); }

/** B^T d (kWinoBT4 rows). */
@inline export function inputF4<T>(d0: T, d1: T, d2: T, d3: T, d4: T, d5: T, out: usize, stride: usize): void {
  const d13 = sub<T>(d3, d1);
  const d42 = sub<T>(d4, d2);
  store<T>(out, add<T>(add<T>(d4, d0), sub<T>(scale<T>(d13, 1.5), scale<T>(d2, 2))));
  store<T>(out + stride, add<T>(sub<T>(d4, d1), add<T>(scale<T>(d2, 0.5), scale<T>(d3, 2.5))));
  store<T>(out + 2 * stride, add<T>(add<T>(d4, d1), sub<T>(scale<T>(d3, 0.5), scale<T>(d2, 2.5))));
  store<T>(out + 3 * stride, add<T>(d42, scale<T>(d13, 2)));
  store<T>(out + 4 * stride, sub<T>(d42, scale<T>(d13, 0.5)));
  store<T>(out + 5 * stride, add<T>(add<T>(d5, d1), sub<T>(scale<T>(sub<T>(d4, d2), 1.5), scale<T>(d3, 2))));
}

/** G g (kWinoG4 rows). */
@inline export function weightF4<T>(g0: T, g1: T, g2: T, out: usize, stride: usize): void {
  const s = add<T>(g0, g2);
  store<T>(out, g0);
  store<T>(out + stride, scale<T>(add<T>(s, g1), <f32>(1.0 / 3)));
  store<T>(out + 2 * stride, scale<T>(sub<T>(g1, s), <f32>(1.0 / 3)));
  store<T>(out + 3 * stride, scale<T>(add<T>(add<T>(scale<T>(g0, 16), scale<T>(g1, 8)), scale<T>(g2, 4)), <f32>(-1.0 / 15)));
  store<T>(out + 4 * stride, scale<T>(add<T>(sub<T>(g0, scale<T>(g1, 2)), scale<T>(g2, 4)), <f32>(1.0 / 15)));
  store<T>(out + 5 * stride, g2);
}

/** Row r of G g (kWinoG4 row r): weightF4's results one at a time, for a transform held in registers. */
@inline export function weightRowF4<T>(r: usize, g0: T, g1: T, g2: T): T {
  if (r == 0) return g0;
  if (r == 5) return g2;
  if (r == 1) return scale<T>(add<T>(add<T>(g0, g2), g1), <f32>(1.0 / 3));
  if (r == 2) return scale<T>(sub<T>(g1, add<T>(g0, g2)), <f32>(1.0 / 3));
  if (r == 3) return scale<T>(add<T>(add<T>(scale<T>(g0, 16), scale<T>(g1, 8)), scale<T>(g2, 4)), <f32>(-1.0 / 15));
  return scale<T>(add<T>(sub<T>(g0, scale<T>(g1, 2)), scale<T>(g2, 4)), <f32>(1.0 / 15));
}

/** A^T m (kWinoAT4 rows), plus `bias` (zero for the first pass). */
@inline export function outputF4<T>(m0: T, m1: T, m2: T, m3: T, m4: T, m5: T, bias: T, out: usize, stride: usize): void {
  const a = sub<T>(m1, m2), b = add<T>(m1, m2);
  store<T>(out, add<T>(add<T>(add<T>(m0, b), add<T>(m3, m4)), bias));
  store<T>(out + stride, add<T>(add<T>(a, sub<T>(scale<T>(m3, 0.5), scale<T>(m4, 2))), bias));
  store<T>(out + 2 * stride, add<T>(add<T>(b, add<T>(scale<T>(m3, 0.25), scale<T>(m4, 4))), bias));
  store<T>(out + 3 * stride, add<T>(add<T>(add<T>(a, m5), sub<T>(scale<T>(m3, 0.125), scale<T>(m4, 8))), bias));
}

// Lane j of a, b, c, d: column j of the 4x4 matrix whose rows are a..d.
@inline export function col0(a: v128, b: v128, c: v128, d: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(a, b, 0, 4, 0, 4), v128.shuffle<f32>(c, d, 0, 4, 0, 4), 0, 1, 4, 5);
}
@inline export function col1(a: v128, b: v128, c: v128, d: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(a, b, 1, 5, 1, 5), v128.shuffle<f32>(c, d, 1, 5, 1, 5), 0, 1, 4, 5);
}
@inline export function col2(a: v128, b: v128, c: v128, d: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(a, b, 2, 6, 2, 6), v128.shuffle<f32>(c, d, 2, 6, 2, 6), 0, 1, 4, 5);
}
@inline export function col3(a: v128, b: v128, c: v128, d: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(a, b, 3, 7, 3, 7), v128.shuffle<f32>(c, d, 3, 7, 3, 7), 0, 1, 4, 5);
}

/** The first n (< 4) lanes of v at dst. */
@inline export function storeFirst(dst: usize, v: v128, n: i32): void {
  if (n > 0) store<f32>(dst, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(dst, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(dst, f32x4.extract_lane(v, 2), 8);
}
