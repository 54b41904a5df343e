// Small copies and fills as inline loops. V8 implements memory.copy/memory.fill as calls into the
// runtime, which costs more than the copy itself for the short rows these kernels move.

@inline export function copyFloats(dst: usize, src: usize, count: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= count; i += 4) {
      v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
    }
  }
  for (; i < count; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

@inline export function zeroFloats(dst: usize, count: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= count; i += 4) v128.store(dst + (<usize>i << 2), f32x4.splat(0));
  }
  for (; i < count; i++) store<f32>(dst + (<usize>i << 2), 0);
}
