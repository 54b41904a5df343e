// Value distributions and buffer placements for fuzzed tensors. The distributions are chosen to hit what
// breaks float kernels: exact zeros (incl. -0), subnormals, magnitudes far from 1, products that overflow
// float32, and NaN/±Inf scattered among ordinary values.

import type { Rng } from '../random.js';

export const VALUE_KINDS = ['normal', 'zeros', 'denormal', 'huge', 'tiny', 'mixed', 'special', 'overflow'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

/** How a tensor's Float32Array sits in memory: its own buffer, a view at an offset, or SharedArrayBuffer-backed. */
/**
 * Kinds whose values span many binades (or have few significant bits): an error bound relative to each
 * output's own S only holds for exact summation orders, not through Winograd/FFT transforms.
 */
export const WIDE_RANGE: ReadonlySet<ValueKind> = new Set(['mixed', 'denormal']);

export const STORAGES = ['plain', 'offset', 'shared'] as const;
export type Storage = (typeof STORAGES)[number];

const sign = (rng: Rng) => (rng.chance(0.5) ? -1 : 1);

/** 10^e for e uniform in [lo, hi): spreads values over many binades instead of crowding the top one. */
const magnitude = (rng: Rng, lo: number, hi: number) => 10 ** (lo + rng.next() * (hi - lo));

function value(rng: Rng, kind: ValueKind): number {
  switch (kind) {
    case 'normal':
      return rng.next() * 2 - 1;
    case 'zeros':
      return rng.chance(0.5) ? 0 : -0;
    // Float32 subnormals lie in [1.4e-45, 1.18e-38).
    case 'denormal':
      return sign(rng) * magnitude(rng, -44.8, -38);
    // One decade each: scale alone, far from 1 (wide ranges are 'mixed'). Bounded so that |x|·|w| sums
    // stay below FLT_MAX even when both operands are huge.
    case 'huge':
      return sign(rng) * magnitude(rng, 14, 15);
    case 'tiny':
      return sign(rng) * magnitude(rng, -20, -19);
    case 'mixed': {
      const r = rng.next();
      if (r < 0.15) return rng.chance(0.5) ? 0 : -0;
      return sign(rng) * magnitude(rng, -30, 12);
    }
    case 'special': {
      const r = rng.next();
      if (r < 0.04) return NaN;
      if (r < 0.07) return Infinity;
      if (r < 0.1) return -Infinity;
      return rng.next() * 2 - 1;
    }
    // Positive only: products of two overflow tensors are +Inf in float32 and beyond FLT_MAX in float64,
    // so the reference and every exact summation agree on +Inf (mixed signs would give Inf - Inf = NaN).
    case 'overflow':
      return magnitude(rng, 19.5, 20.5);
  }
}

export function fill(rng: Rng, kind: ValueKind, n: number): number[] {
  return Array.from({ length: n }, () => value(rng, kind));
}

/** A Float32Array holding `values`, placed in memory as `storage` says. */
export function place(values: readonly number[], storage: Storage, rng: Rng): Float32Array {
  const n = values.length;
  let a: Float32Array;
  if (storage === 'plain') a = new Float32Array(n);
  else {
    const before = rng.int(1, 7),
      after = rng.int(0, 5);
    const backing =
      storage === 'shared'
        ? new Float32Array(new SharedArrayBuffer(4 * (before + n + after)))
        : new Float32Array(before + n + after);
    backing.fill(-123.25);
    a = backing.subarray(before, before + n);
  }
  a.set(values);
  return a;
}

/** FNV-1a over the bytes a view covers (and only those): detects any write to an input. */
export function hashView(a: ArrayBufferView | null | undefined): number {
  if (!a) return 0;
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** Hash of the whole backing buffer: also catches writes just outside a view (the guard elements). */
export function hashBacking(a: ArrayBufferView | null | undefined): number {
  return a ? hashView(new Uint8Array(a.buffer)) : 0;
}
