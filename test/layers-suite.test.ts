// The benchmark's layer suite (bench/layers.json) through the correctness tester: every layer the bench
// times, on every path of this machine and every algorithm that path applies to it, against the float64
// reference. The random-shape tests never draw shapes this big (224x224 images, 256 channels, an
// 11x11 kernel, a 251-tap conv1d), where GEMM blocking, thread splits and FFT/Winograd tiling take
// paths small shapes never reach.
//
// What keeps it under a minute (the float64 reference runs at ~10 ns per multiply-add, and the suite
// has 5.3 G of them):
// - Dense layers are checked on a sample of output channels: the first, the last and evenly spaced
//   ones between, as many as fit REFERENCE_MACS per layer. The backend still computes the whole layer;
//   every other output must be written (no sentinel left) and finite.
// - The js path is the reference itself, so it runs only where the whole layer is cheap (JS_MAX_MACS):
//   on the big layers it would compare the reference with itself for seconds each.
// - The native 'direct' algorithm on a dense layer is one plain loop nest compiled for no ISA in
//   particular (native/conv/direct.cc; only depthwise layers take per-ISA kernels there): it runs on
//   the first native path only, not again at each lower ISA (seconds per big layer for the same code).
// Batch is the layers' own (1); the backends run the exact shapes the bench times.

import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Layer } from '../bench/suite.js';
import { loadSuite, makeData } from '../bench/suite.js';
import { convReference } from '../src/backends/js.js';
import type { Algorithm, ConvParams } from '../src/backends/types.js';
import { normalizeConv } from '../src/shape.js';
import { allPaths, restoreNativeIsa } from './paths.js';
import { compare, formatFailure, NORMWISE_TOLERANCE, planeSlack, TOLERANCE } from './tester.js';

const REFERENCE_MACS = 20e6;
const JS_MAX_MACS = 20e6;
const SENTINEL = -7.5e33; // no correct kernel leaves it behind (as in tester.checkBackend)

afterAll(restoreNativeIsa);

const layers = loadSuite(fileURLToPath(new URL('../bench/layers.json', import.meta.url)));
const macs = (l: Layer) => l.flops / 2;

interface Case {
  layer: Layer;
  p: ConvParams;
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
  /** Output channels checked against the reference, ascending. */
  channels: number[];
  want: Float64Array;
  scale: Float64Array; // [N, channels.length, OH, OW]
}

// Params through the public argument checker, so they are exactly what conv1d/conv2d produce for the layer.
function paramsOf(l: Layer, b: Float32Array): ConvParams {
  const is1d = l.op === 'conv1d';
  const n = normalizeConv(
    is1d ? 1 : 2,
    { data: new Float32Array(l.N * l.C * l.H * l.W), shape: l.inputShape },
    { data: new Float32Array(l.K * (l.C / l.groups) * l.R * l.S), shape: l.weightShape },
    { stride: l.stride, padding: l.padding, dilation: l.dilation, groups: l.groups, bias: b }
  );
  return n.params;
}

function sampleChannels(l: Layer): number[] {
  // Grouped layers (here only the depthwise L7, 4 M multiply-adds) are checked whole: a channel sample
  // would need the matching input channels too.
  if (l.groups !== 1) return Array.from({ length: l.K }, (_, k) => k);
  const perChannel = macs(l) / l.K;
  const n = Math.min(l.K, Math.max(2, Math.floor(REFERENCE_MACS / perChannel)));
  return [...new Set(Array.from({ length: n }, (_, i) => Math.round((i * (l.K - 1)) / (n - 1))))];
}

const cases = new Map<string, Case>();
function caseOf(l: Layer): Case {
  let c = cases.get(l.id);
  if (c) return c;
  const { x, w, b } = makeData(l);
  const p = paramsOf(l, b);
  const channels = sampleChannels(l);
  // The reference of the sampled output channels alone: the same convolution with only their weight
  // rows and biases.
  const Cg = l.C / l.groups,
    taps = Cg * l.R * l.S;
  const sub: ConvParams = l.groups === 1 ? { ...p, K: channels.length } : p;
  const ws = new Float32Array(channels.length * taps),
    bs = new Float32Array(channels.length);
  channels.forEach((k, i) => {
    ws.set(w.subarray(k * taps, (k + 1) * taps), i * taps);
    bs[i] = b[k];
  });
  const abs = (a: Float32Array) => a.map(Math.abs);
  c = {
    layer: l,
    p,
    x,
    w,
    b,
    channels,
    want: convReference(sub, x, ws, bs),
    // S = conv(|x|, |w|) + |b|, the tester's error scale: the reference of the absolute values.
    scale: convReference(sub, abs(x), abs(ws), abs(bs)),
  };
  cases.set(l.id, c);
  return c;
}

/** The sampled channels of a full [N, K, OH, OW] output. */
function pickChannels(out: Float32Array, c: Case): Float32Array {
  const plane = c.p.OH * c.p.OW,
    { N, K } = c.p;
  const got = new Float32Array(N * c.channels.length * plane);
  for (let n = 0; n < N; n++) {
    c.channels.forEach((k, i) => {
      got.set(out.subarray((n * K + k) * plane, (n * K + k + 1) * plane), (n * c.channels.length + i) * plane);
    });
  }
  return got;
}

const paths = allPaths();
const firstNative = paths.find((p) => p.label.startsWith('native-'))?.label;

for (const path of paths) {
  describe(path.label, () => {
    path.enter();
    for (const layer of layers) {
      if (path.label === 'js' && macs(layer) > JS_MAX_MACS) continue;
      // The batch-8 rows (L2b8, L4b8) are L2 and L4 eight times over: ~30 s more over the paths for
      // shapes checked here at batch 1 (batches > 1: the random-shape tests; the bench checks them in float64).
      if (layer.N > 1) continue;
      // L4nhwc is L4 at this level: a layout is transposed before the backend sees it (conv.forward's
      // random calls cover the channels-last forms through the public API).
      if (layer.layout === 'NHWC') continue;
      const p0 = paramsOf(layer, new Float32Array(layer.K));
      const isaFree = (a: Algorithm) =>
        a === 'direct' && layer.C / layer.groups > 1 && path.label.startsWith('native-') && path.label !== firstNative;
      const algos = path.backend.algorithms.filter((a) => path.backend.supports(p0, a) === null && !isaFree(a));
      it(`${layer.id} ${layer.name}: ${algos.join(', ')}`, () => {
        path.enter();
        // direct and im2col take every shape: a path with nothing to run here has lost its algorithms.
        expect(algos.length).toBeGreaterThan(0);
        const c = caseOf(layer);
        const { p } = c;
        const copies = [c.x.slice(), c.w.slice(), c.b.slice()];
        for (const algo of algos as Algorithm[]) {
          const out = new Float32Array(p.N * p.K * p.OH * p.OW).fill(SENTINEL);
          path.backend.conv2d(p, c.x, c.w, c.b, out, algo);
          [c.x, c.w, c.b].forEach((a, i) => {
            if (!a.every((v, j) => Object.is(v, copies[i][j])))
              expect.fail(`${path.label}/${algo} ${layer.id} modified its ${['input', 'weight', 'bias'][i]}`);
          });
          const unwritten = out.findIndex((v) => v === SENTINEL || !Number.isFinite(v));
          if (unwritten >= 0)
            expect.fail(
              `${path.label}/${algo} ${layer.id}: output[${unwritten}] = ${out[unwritten]} (not written, or not finite)`
            );
          const sub = { ...p, K: c.channels.length };
          const got = pickChannels(out, c);
          const cmp = compare(got, c.want, c.scale, TOLERANCE[algo], planeSlack(c.scale, p.OH * p.OW, NORMWISE_TOLERANCE[algo]));
          if (!cmp.ok)
            expect.fail(formatFailure(`${path.label}/${algo} ${layer.id}`, sub, cmp, `channels ${c.channels.join(',')}`));
          expect(cmp.maxScaledErr).toBeLessThanOrEqual(TOLERANCE[algo]);
        }
      });
    }
  });
}
