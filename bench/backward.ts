// `npm run bench -- --backward`: the training step's convolution cost, grad-input + grad-weight of a
// layer (FLOPs counted as 2x forward, as the PyTorch numbers count them), plus each alone.
// onnxruntime and TF.js have no backward here, so the peer is PyTorch, merged from --torch FILE
// ("backward" records, bench/README.md). Before timing, sampled gradient entries are checked in float64.

import type { BenchArgs } from './args.js';
import type { FastconvApi, Tensor } from './fastconv.js';
import type { Layer } from './suite.js';
import { loadSuite, makeData, selectLayers } from './suite.js';

type Needs = Array<'input' | 'weight' | 'bias'>;
interface Grads {
  gradInput?: Tensor;
  gradWeight?: Tensor;
}
type BackwardFn = (x: Tensor, w: Tensor, gy: Tensor, o: Record<string, unknown>) => Grads;

const MODES: Array<{ key: 'dgrad_wgrad' | 'dgrad' | 'wgrad'; needs: Needs; mult: number }> = [
  { key: 'dgrad_wgrad', needs: ['input', 'weight'], mult: 2 },
  { key: 'dgrad', needs: ['input'], mult: 1 },
  { key: 'wgrad', needs: ['weight'], mult: 1 },
];

export interface BackwardRow {
  id: string;
  threads: number;
  gflops: Record<string, number>;
  torch?: Record<string, number>;
  maxRelErr: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Worst |got - ref| / sum|terms| over a few hundred sampled entries of each gradient, in float64. */
function sampledError(l: Layer, x: Float32Array, w: Float32Array, gy: Float32Array, g: Grads): number {
  const gw = g.gradWeight?.data,
    gx = g.gradInput?.data;
  if (!gw || !gx) throw new Error('sampledError: needs both grad-input and grad-weight');
  const Cg = l.C / l.groups,
    Kg = l.K / l.groups;
  let worst = 0;
  const note = (got: number, ref: number, abs: number) => {
    worst = Math.max(worst, Math.abs(got - ref) / (abs || 1));
  };
  const xi = (n: number, c: number, h: number, ww: number) => ((n * l.C + c) * l.H + h) * l.W + ww;
  const gi = (n: number, k: number, oh: number, ow: number) => ((n * l.K + k) * l.OH + oh) * l.OW + ow;
  for (let t = 0; t < 300; t++) {
    // grad-weight[k, c, r, s] = sum over n, oh, ow of gy * x at the tap's input position.
    const k = (t * 7919) % l.K,
      c = (t * 104729) % Cg,
      r = t % l.R,
      s = (t * 31) % l.S;
    const ci = Math.floor(k / Kg) * Cg + c;
    let ref = 0,
      abs = 0;
    for (let n = 0; n < l.N; n++)
      for (let oh = 0; oh < l.OH; oh++)
        for (let ow = 0; ow < l.OW; ow++) {
          const h = oh * l.strideH - l.padH + r * l.dilH,
            ww = ow * l.strideW - l.padW + s * l.dilW;
          if (h < 0 || h >= l.H || ww < 0 || ww >= l.W) continue;
          const p = gy[gi(n, k, oh, ow)] * x[xi(n, ci, h, ww)];
          ref += p;
          abs += Math.abs(p);
        }
    note(gw[((k * Cg + c) * l.R + r) * l.S + s], ref, abs);
  }
  for (let t = 0; t < 300; t++) {
    // grad-input[n, c, h, w] = sum over the outputs whose window covers (h, w).
    const n = t % l.N,
      c = (t * 7919) % l.C,
      h = (t * 13) % l.H,
      ww = (t * 104729) % l.W;
    const grp = Math.floor(c / Cg);
    let ref = 0,
      abs = 0;
    for (let kk = 0; kk < Kg; kk++)
      for (let r = 0; r < l.R; r++)
        for (let s = 0; s < l.S; s++) {
          const k = grp * Kg + kk;
          const ohs = h + l.padH - r * l.dilH,
            ows = ww + l.padW - s * l.dilW;
          if (ohs % l.strideH || ows % l.strideW) continue;
          const oh = ohs / l.strideH,
            ow = ows / l.strideW;
          if (oh < 0 || oh >= l.OH || ow < 0 || ow >= l.OW) continue;
          const p = gy[gi(n, k, oh, ow)] * w[((k * Cg + (c - grp * Cg)) * l.R + r) * l.S + s];
          ref += p;
          abs += Math.abs(p);
        }
    note(gx[xi(n, c, h, ww)], ref, abs);
  }
  return worst;
}

/** Issue 21's backward rows: the two dense 3x3 layers, plus the stem, a 1x1, the depthwise and the long conv1d. */
export const BACKWARD_LAYERS = ['L1', 'L2', 'L4', 'L6', 'L7', 'L10'];

interface TorchBackward {
  id: string;
  threads: number;
  [mode: string]: unknown;
}

export async function runBackward(
  a: BenchArgs,
  api: FastconvApi,
  torchFile: string | null,
  readJson: (p: string) => unknown
): Promise<number> {
  const backward = api as unknown as { conv2dBackward?: BackwardFn; conv1dBackward?: BackwardFn };
  if (!backward.conv2dBackward || !backward.conv1dBackward) {
    console.error('--backward: this build of fastconv exports no conv2dBackward');
    return 1;
  }
  const layers = selectLayers(loadSuite(), a.layers ?? BACKWARD_LAYERS);
  const threads = a.threads ? [a.threads] : [1];
  const torch = torchFile ? ((readJson(torchFile) as { backward?: TorchBackward[] }).backward ?? []) : [];
  const rows: BackwardRow[] = [];
  let failed = false;
  for (const l of layers) {
    const d = makeData(l);
    const gyData = makeData({ ...l, C: l.K, H: l.OH, W: l.OW, N: l.N }, 2).x;
    const x = { data: d.x, shape: l.inputShape },
      w = { data: d.w, shape: l.weightShape },
      gy = { data: gyData, shape: l.outputShape };
    const fn = l.op === 'conv1d' ? backward.conv1dBackward : backward.conv2dBackward;
    const opts = { stride: l.stride, padding: l.padding, dilation: l.dilation, groups: l.groups, backend: a.backend ?? 'auto' };
    for (const t of threads) {
      api.setNumThreads?.(t);
      const maxRelErr = sampledError(l, d.x, d.w, gyData, fn(x, w, gy, { ...opts, needs: ['input', 'weight'] }));
      if (!(maxRelErr <= 1e-4)) {
        failed = true;
        console.error(`!! MISMATCH ${l.id}: sampled gradient error ${maxRelErr.toExponential(2)} x S`);
      }
      const gflops: Record<string, number> = {};
      const runs = a.quick ? 3 : 10;
      const times: Record<string, number[]> = {};
      for (const m of MODES) {
        fn(x, w, gy, { ...opts, needs: m.needs });
        times[m.key] = [];
      }
      // Interleaved so that a stall hits every mode alike.
      for (let i = 0; i < runs; i++) {
        for (const m of MODES) {
          const t0 = performance.now();
          fn(x, w, gy, { ...opts, needs: m.needs });
          times[m.key].push(performance.now() - t0);
        }
      }
      for (const m of MODES) gflops[m.key] = (m.mult * l.flops) / (median(times[m.key]) * 1e6);
      const row: BackwardRow = { id: l.id, threads: t, gflops, maxRelErr };
      const tr = torch.filter((r) => r.id === l.id && r.threads === t);
      if (tr.length) {
        row.torch = {};
        for (const m of MODES) {
          const vals = tr
            .map((r) => (r[m.key] as { gflops?: number } | undefined)?.gflops)
            .filter((v): v is number => typeof v === 'number');
          if (vals.length) row.torch[m.key] = median(vals);
        }
      }
      rows.push(row);
    }
  }
  if (a.json) {
    console.log(JSON.stringify({ backward: rows }, null, 1));
  } else {
    console.log('backward GFLOP/s (grad-input + grad-weight counted as 2x forward FLOPs; medians); ratio = fastconv / pytorch');
    console.log(
      'layer  thr | fastconv dgrad+wgrad   dgrad   wgrad | pytorch dgrad+wgrad   dgrad   wgrad | ratio d+w     d     w | sampled err'
    );
    const num = (v: number | undefined, w: number) => (v === undefined ? '-' : v.toFixed(1)).padStart(w);
    const ratio = (v: number, t: number | undefined) => (t ? `${(v / t).toFixed(2)}x` : '-').padStart(6);
    for (const r of rows) {
      const g = r.gflops,
        t = r.torch ?? {};
      console.log(
        `${r.id.padEnd(5)} ${String(r.threads).padStart(4)} | ${num(g.dgrad_wgrad, 20)} ${num(g.dgrad, 7)} ${num(g.wgrad, 7)} | ` +
          `${num(t.dgrad_wgrad, 19)} ${num(t.dgrad, 7)} ${num(t.wgrad, 7)} | ` +
          `${ratio(g.dgrad_wgrad, t.dgrad_wgrad)}${ratio(g.dgrad, t.dgrad)}${ratio(g.wgrad, t.wgrad)} | ${r.maxRelErr.toExponential(1)}`
      );
    }
    if (!torch.length) console.log('(no PyTorch numbers: pass --torch FILE with "backward" records, see bench/README.md)');
  }
  return failed ? 1 : 0;
}
