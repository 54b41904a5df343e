// An independent float64 oracle evaluated at sampled output positions: checking every
// implementation against it costs milliseconds even on the largest layer, and it does not
// trust fastconv to check the peers.
import type { Layer, LayerData } from './suite.js';
import { outputSize } from './suite.js';

export interface Oracle {
  /** Flat NCHW output indices that were evaluated. */
  idx: Int32Array;
  ref: Float64Array;
  /** S = conv(|x|, |w|) + |b| at each sampled index: the scale float32 rounding error grows with. */
  scale: Float64Array;
}

export interface Check {
  maxAbs: number; // max |got - ref| over the sampled positions
  maxRel: number; // max |got - ref| / S
  nonFinite: number; // NaN/Inf where the reference is finite
}

const SAMPLES = 4096;

export function makeOracle(l: Layer, d: LayerData): Oracle {
  const total = outputSize(l);
  const n = Math.min(total, SAMPLES);
  const idx = new Int32Array(n);
  // Every position for small outputs, else an even spread that includes the first and last (padded) ones.
  for (let i = 0; i < n; i++) idx[i] = n === total ? i : Math.floor((i * (total - 1)) / (n - 1));
  const ref = new Float64Array(n),
    scale = new Float64Array(n);
  const cg = l.C / l.groups,
    kg = l.K / l.groups;
  for (let t = 0; t < n; t++) {
    let o = idx[t];
    const ow = o % l.OW;
    o = (o - ow) / l.OW;
    const oh = o % l.OH;
    o = (o - oh) / l.OH;
    const k = o % l.K;
    const nb = (o - k) / l.K;
    const g = Math.floor(k / kg);
    let acc = d.b[k],
      abs = Math.abs(d.b[k]);
    for (let c = 0; c < cg; c++) {
      const xc = (nb * l.C + g * cg + c) * l.H;
      const wc = (k * cg + c) * l.R;
      for (let r = 0; r < l.R; r++) {
        const ih = oh * l.strideH - l.padH + r * l.dilH;
        if (ih < 0 || ih >= l.H) continue;
        for (let s = 0; s < l.S; s++) {
          const iw = ow * l.strideW - l.padW + s * l.dilW;
          if (iw < 0 || iw >= l.W) continue;
          const xv = d.x[(xc + ih) * l.W + iw],
            wv = d.w[(wc + r) * l.S + s];
          acc += xv * wv;
          abs += Math.abs(xv * wv);
        }
      }
    }
    ref[t] = acc;
    scale[t] = abs;
  }
  return { idx, ref, scale };
}

export function checkAgainst(o: Oracle, got: Float32Array): Check {
  let maxAbs = 0,
    maxRel = 0,
    nonFinite = 0;
  for (let t = 0; t < o.idx.length; t++) {
    const v = got[o.idx[t]];
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    const e = Math.abs(v - o.ref[t]);
    if (e > maxAbs) maxAbs = e;
    const r = e / (o.scale[t] + 1e-30);
    if (r > maxRel) maxRel = r;
  }
  return { maxAbs, maxRel, nonFinite };
}

/** Full-output comparison of two implementations (peer vs fastconv), normalised by the oracle's S. */
export function compareOutputs(o: Oracle, a: Float32Array, b: Float32Array): Check {
  let maxAbs = 0,
    nonFinite = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (Number.isNaN(e)) {
      nonFinite++;
      continue;
    }
    if (e > maxAbs) maxAbs = e;
  }
  let maxRel = 0;
  for (let t = 0; t < o.idx.length; t++) {
    const r = Math.abs(a[o.idx[t]] - b[o.idx[t]]) / (o.scale[t] + 1e-30);
    if (r > maxRel) maxRel = r;
  }
  if (a.length !== b.length) nonFinite += Math.abs(a.length - b.length);
  return { maxAbs, maxRel, nonFinite };
}

/** Per-algorithm bound (issue 3): 1e-5·S for direct/GEMM, 1e-4·S for Winograd/FFT; peers get the looser one. */
export function tolerance(algorithm: string | undefined): number {
  return algorithm === 'direct' || algorithm === 'im2col' ? 1e-5 : 1e-4;
}
