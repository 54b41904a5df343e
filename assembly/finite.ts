// The scan that sends non-finite inputs to an exact algorithm: Winograd and FFT transforms would spread
// one NaN/Inf over a whole tile, while PyTorch's direct sums keep it to the outputs that see it.

/** Whether `count` floats at p are all finite (x*0 is NaN exactly for NaN and +-Inf). */
export function allFinite(p: usize, count: i32): bool {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    const z = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(p + (<usize>i << 2)), z));
    if (!v128.all_true<i32>(f32x4.eq(acc, acc))) return false;
  }
  let s: f32 = 0;
  for (; i < count; i++) s += load<f32>(p + (<usize>i << 2)) * 0;
  return s == s;
}
