// Elementwise loops on float32 bit patterns (Int32Array views), shared by the conv epilogues and the
// elementwise kernels. V8 compiles `v > 0 ? v : 0` and Math.max on doubles to branches, which on real
// activations (signs at random) mispredict about every other element: ~10 ns per element against ~2 ns for
// these branch-free integer forms. The results are TF.js's formulas exactly, NaN included:
//   relu  Math.max(0, x)               (NaN stays NaN, -0 and negatives become +0)
//   relu6 Math.min(Math.max(0, x), 6)
//   clip  x > hi ? hi : x < lo ? lo : x (NaN stays, -0 stays -0 unless clamped)

export type BitsActivation = 'linear' | 'relu' | 'relu6';

/** The Int32Array over the same elements. */
export function bitsOf(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

const SIX = 0x40c00000;   // 6.0f

/** float32 bits of v rounded to float32. */
export function f32bits(v: number): number {
  const f = new Float32Array([v]);
  return new Int32Array(f.buffer)[0];
}

/** y = act(x) elementwise on bit patterns (x and y may be the same array). */
export function activateBits(x: Int32Array, y: Int32Array, act: BitsActivation): void {
  const n = x.length;
  if (act === 'relu') {
    for (let i = 0; i < n; i++) {
      const b = x[i];
      // -1 where b is a NaN (exponent all ones, mantissa not zero), else 0.
      const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
      y[i] = b & ~((b >> 31) & ~nan);
    }
  } else if (act === 'relu6') {
    for (let i = 0; i < n; i++) {
      const b = x[i];
      const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
      const r = b & ~(b >> 31);        // non-negative floats order as their bits
      const d = r - SIX;
      const m = SIX + (d & (d >> 31));
      y[i] = (b & nan) | (m & ~nan);
    }
  } else if (x !== y) {
    y.set(x);
  }
}

/** Order-preserving integer key of a float32's bits (-0 and +0 equal; NaN excluded by the callers). */
function key(b: number): number {
  const s = b >> 31;
  return ((b & 0x7fffffff) ^ s) - s;
}

/** y = TF.js's clipByValue(x, lo, hi) on bit patterns; lo <= hi, neither NaN. */
export function clipBits(x: Int32Array, y: Int32Array, lo: number, hi: number): void {
  const loBits = f32bits(lo), hiBits = f32bits(hi);
  const klo = key(loBits), khi = key(hiBits);
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const b = x[i];
    const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
    const s = b >> 31;
    const k = ((b & 0x7fffffff) ^ s) - s;
    // Signed less-than as a mask without branches or overflow (Hacker's Delight 2-12).
    const d = (k - klo) | 0;
    const lt = ((d ^ ((k ^ klo) & (d ^ k))) >> 31) & ~nan;
    const e = (khi - k) | 0;
    const gt = ((e ^ ((khi ^ k) & (e ^ khi))) >> 31) & ~nan;
    y[i] = (loBits & lt) | (hiBits & gt) | (b & ~(lt | gt));
  }
}

/**
 * clipBits for an x holding no negative number and no -0 (a ReLU's output: +0, positives, +Inf, NaN) and
 * bounds 0 <= lo <= hi: there, float order is the order of the bits as integers, so the clamp is two
 * integer min/max without overflow.
 */
export function clipNonNegativeBits(x: Int32Array, y: Int32Array, lo: number, hi: number): void {
  const loBits = f32bits(lo), hiBits = f32bits(hi);
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const b = x[i];
    const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
    const d = b - loBits;
    const t = loBits + (d & ~(d >> 31));
    const e = t - hiBits;
    y[i] = (b & nan) | ((hiBits + (e & (e >> 31))) & ~nan);
  }
}

/** Whether clipNonNegativeBits takes these bounds: both +0 or positive (as float32 bits), lo <= hi. */
export function nonNegativeBounds(lo: number, hi: number): boolean {
  const l = f32bits(lo), h = f32bits(hi);
  return l >= 0 && h >= l && h <= 0x7f800000;
}

/**
 * [N, P, C] -> [N, C, P] (channels-last to channels-first), bit copies. `dst` must not overlap `src`.
 * Walks the destination in rows of a few channels so both sides stay in cache lines.
 */
export function lastToFirst(src: Int32Array, N: number, P: number, C: number, dst: Int32Array): void {
  const B = 16;
  for (let n = 0; n < N; n++) {
    const base = n * P * C;
    for (let p0 = 0; p0 < P; p0 += B) {
      const p1 = Math.min(P, p0 + B);
      for (let c = 0; c < C; c++) {
        const o = base + c * P;
        for (let p = p0; p < p1; p++) dst[o + p] = src[base + p * C + c];
      }
    }
  }
}

/** [N, C, P] -> [N, P, C] with `act` applied on the way (bit patterns); `dst` must not overlap `src`. */
export function firstToLast(src: Int32Array, N: number, C: number, P: number, dst: Int32Array, act: BitsActivation): void {
  const B = 16;
  for (let n = 0; n < N; n++) {
    const base = n * P * C;
    for (let c0 = 0; c0 < C; c0 += B) {
      const c1 = Math.min(C, c0 + B);
      if (act === 'linear') {
        for (let p = 0; p < P; p++) {
          const o = base + p * C;
          for (let c = c0; c < c1; c++) dst[o + c] = src[base + c * P + p];
        }
      } else if (act === 'relu') {
        for (let p = 0; p < P; p++) {
          const o = base + p * C;
          for (let c = c0; c < c1; c++) {
            const b = src[base + c * P + p];
            const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
            dst[o + c] = b & ~((b >> 31) & ~nan);
          }
        }
      } else {
        for (let p = 0; p < P; p++) {
          const o = base + p * C;
          for (let c = c0; c < c1; c++) {
            const b = src[base + c * P + p];
            const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
            const r = b & ~(b >> 31);
            const d = r - SIX;
            dst[o + c] = (b & nan) | ((SIX + (d & (d >> 31))) & ~nan);
          }
        }
      }
    }
  }
}

/**
 * y[i] += bias[i % C] (float32 rounding, as TF.js's add) then `act`, in one pass; bias may be null.
 * `y` and `yBits` view the same elements.
 */
export function biasActivate(y: Float32Array, yBits: Int32Array, C: number, bias: Float32Array | null, act: BitsActivation): void {
  if (!bias) {
    activateBits(yBits, yBits, act);
    return;
  }
  const n = y.length;
  let c = 0;
  if (act === 'linear') {
    for (let i = 0; i < n; i++) {
      y[i] += bias[c];
      if (++c === C) c = 0;
    }
  } else if (act === 'relu') {
    for (let i = 0; i < n; i++) {
      y[i] += bias[c];
      if (++c === C) c = 0;
      const b = yBits[i];
      const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
      yBits[i] = b & ~((b >> 31) & ~nan);
    }
  } else {
    for (let i = 0; i < n; i++) {
      y[i] += bias[c];
      if (++c === C) c = 0;
      const b = yBits[i];
      const nan = (0x7f800000 - (b & 0x7fffffff)) >> 31;
      const r = b & ~(b >> 31);
      const d = r - SIX;
      yBits[i] = (b & nan) | ((SIX + (d & (d >> 31))) & ~nan);
    }
  }
}
