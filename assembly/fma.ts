// acc + a*b on f32x4. The relaxed-SIMD build uses relaxed_madd, which engines lower to one fused
// multiply-add where the CPU has FMA (x86 FMA3, ARM NEON) and to mul+add elsewhere; either result is
// within the GEMM tolerance. Plain SIMD128 has no FMA: a mul and an add.
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}
