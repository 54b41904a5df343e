// The layer suite (bench/layers.json) and the geometry every implementation needs from it.
import { readFileSync } from 'node:fs';

export interface LayerSpec {
  id: string;
  name: string;
  op: 'conv1d' | 'conv2d';
  input: number[];
  out_channels: number;
  kernel: number[];
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
  /** Activation layout fastconv is called with (default NCHW/NCW); the oracle and the peers without it see NCHW. */
  layout?: 'NCHW' | 'NHWC';
}

/** A layer as a canonical 2-D problem (conv1d has H = R = 1), plus its FLOP count. */
export interface Layer extends LayerSpec {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  R: number;
  S: number;
  padH: number;
  padW: number;
  dilH: number;
  dilW: number;
  strideH: number;
  strideW: number;
  OH: number;
  OW: number;
  flops: number;
  inputShape: number[];
  weightShape: number[];
  outputShape: number[];
}

const SUITE_URL = new URL('../../bench/layers.json', import.meta.url);

export function loadSuite(path: string | URL = SUITE_URL): Layer[] {
  const json = JSON.parse(readFileSync(path, 'utf8')) as { layers: LayerSpec[] };
  return json.layers.map(geometry);
}

export function geometry(spec: LayerSpec): Layer {
  const is1d = spec.op === 'conv1d';
  const [N, C] = spec.input;
  const H = is1d ? 1 : spec.input[2];
  const W = is1d ? spec.input[2] : spec.input[3];
  const R = is1d ? 1 : spec.kernel[0];
  const S = is1d ? spec.kernel[0] : spec.kernel[1];
  const K = spec.out_channels;
  const padH = is1d ? 0 : spec.padding,
    padW = spec.padding;
  const dilH = is1d ? 1 : spec.dilation,
    dilW = spec.dilation;
  const strideH = is1d ? 1 : spec.stride,
    strideW = spec.stride;
  const OH = Math.floor((H + 2 * padH - dilH * (R - 1) - 1) / strideH) + 1;
  const OW = Math.floor((W + 2 * padW - dilW * (S - 1) - 1) / strideW) + 1;
  const flops = 2 * N * K * OH * OW * (C / spec.groups) * R * S;
  const cg = C / spec.groups;
  return {
    ...spec,
    N,
    C,
    H,
    W,
    K,
    R,
    S,
    padH,
    padW,
    dilH,
    dilW,
    strideH,
    strideW,
    OH,
    OW,
    flops,
    inputShape: is1d ? [N, C, W] : [N, C, H, W],
    weightShape: is1d ? [K, cg, S] : [K, cg, R, S],
    outputShape: is1d ? [N, K, OW] : [N, K, OH, OW],
  };
}

export interface LayerData {
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
}

/** Deterministic data (mulberry32) so every run and every implementation sees the same numbers. */
export function makeData(l: Layer, seed = 1): LayerData {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const fill = (n: number, scale: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
    return a;
  };
  // Weights scaled like Kaiming-uniform so outputs stay O(1) whatever the fan-in.
  const fanIn = (l.C / l.groups) * l.R * l.S;
  return {
    x: fill(l.N * l.C * l.H * l.W, 1),
    w: fill(l.K * (l.C / l.groups) * l.R * l.S, 1 / Math.sqrt(fanIn)),
    b: fill(l.K, 0.1),
  };
}

export function outputSize(l: Layer): number {
  return l.N * l.K * l.OH * l.OW;
}

/**
 * A channels-last layer as fastconv is called with it: NHWC shapes and data (input transposed from
 * the canonical NCHW data). The layer's own shapes stay NCHW, so the oracle, the correctness suite
 * and the peers that only take NCHW keep reading them.
 */
export function channelsLastView(l: Layer, d: LayerData): { l: Layer; d: LayerData } {
  if (l.layout !== 'NHWC') return { l, d };
  if (l.op !== 'conv2d') throw new RangeError(`${l.id}: layout NHWC applies to conv2d layers`);
  return {
    l: { ...l, inputShape: [l.N, l.H, l.W, l.C], outputShape: [l.N, l.OH, l.OW, l.K] },
    d: { ...d, x: toChannelsLast(d.x, l.N, l.C, l.H * l.W) },
  };
}

export function toChannelsLast(src: Float32Array, N: number, C: number, P: number): Float32Array {
  const dst = new Float32Array(src.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const s = (n * C + c) * P,
        o = n * P * C + c;
      for (let i = 0; i < P; i++) dst[o + i * C] = src[s + i];
    }
  return dst;
}

export function toChannelsFirst(src: Float32Array, N: number, C: number, P: number): Float32Array {
  const dst = new Float32Array(src.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const o = (n * C + c) * P,
        s = n * P * C + c;
      for (let i = 0; i < P; i++) dst[o + i] = src[s + i * C];
    }
  return dst;
}

export function selectLayers(all: Layer[], ids: string[] | null): Layer[] {
  if (!ids) return all;
  // Case-insensitive: ids like L4b8 and L4nhwc are as easy to type as L4.
  const want = ids.map((s) => s.trim().toUpperCase()).filter(Boolean);
  const unknown = want.filter((id) => !all.some((l) => l.id.toUpperCase() === id));
  if (unknown.length)
    throw new RangeError(`--layers: unknown layer ${unknown.join(', ')} (have ${all.map((l) => l.id).join(', ')})`);
  return all.filter((l) => want.includes(l.id.toUpperCase()));
}
