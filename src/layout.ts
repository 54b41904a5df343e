// Channels-last <-> channels-first copies. Backends compute in NCHW only; NHWC/NWC calls pay one
// transpose each way, which is cheap next to the convolution itself (O(size) vs O(size * C * R * S)).

/** [N, P, C] -> [N, C, P] where P is the product of the spatial sizes. */
export function channelsLastToFirst(
  src: Float32Array,
  N: number,
  P: number,
  C: number,
  dst: Float32Array<ArrayBufferLike> = new Float32Array(src.length)
): Float32Array<ArrayBufferLike> {
  for (let n = 0; n < N; n++) {
    const base = n * P * C;
    for (let p = 0; p < P; p++) {
      const row = base + p * C;
      for (let c = 0; c < C; c++) dst[base + c * P + p] = src[row + c];
    }
  }
  return dst;
}

/** [N, C, P] -> [N, P, C]. */
export function channelsFirstToLast(
  src: Float32Array,
  N: number,
  C: number,
  P: number,
  dst: Float32Array<ArrayBufferLike> = new Float32Array(src.length)
): Float32Array<ArrayBufferLike> {
  for (let n = 0; n < N; n++) {
    const base = n * P * C;
    for (let c = 0; c < C; c++) {
      const plane = base + c * P;
      for (let p = 0; p < P; p++) dst[base + p * C + c] = src[plane + p];
    }
  }
  return dst;
}
