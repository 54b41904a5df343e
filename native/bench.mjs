// Steady-state GFLOP/s of the native addon on layers of bench/layers.json (buffers reused, warm-up,
// median of --runs runs).
//   node native/bench.mjs [--layers L2,L4,L6] [--algo im2col] [--threads 1,2] [--runs 15] [--isa avx512] [--cpu] [--no-store]
// Weights are packed once into a store, as Conv2d layers do; --no-store repacks them on every call.
// --cpu times by process CPU time instead of wall time: on a shared, oversubscribed machine that
// discounts the time other processes held the core (meaningful with 1 thread only).

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALGORITHMS, PARAM_FIELDS } from './interface.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const addon = createRequire(import.meta.url)(path.join(here, '..', 'build', 'Release', 'fastconv.node'));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const suite = JSON.parse(fs.readFileSync(path.join(here, '..', 'bench', 'layers.json'), 'utf8')).layers;
const wanted = opt('layers', 'L2,L4,L6').split(',');
const algo = opt('algo', 'im2col');
if (!ALGORITHMS.includes(algo)) throw new Error(`--algo: expected one of ${ALGORITHMS.join(', ')}, got ${algo}`);
const threadList = opt('threads', '1,2').split(',').map(Number);
const runs = Number(opt('runs', 15));
const useCpu = args.includes('--cpu');
const useStore = !args.includes('--no-store');
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
if (opt('isa')) addon.setIsa(opt('isa'));
const FIELDS = PARAM_FIELDS.map((f) => f.name);

function params(l) {
  const is1d = l.op === 'conv1d';
  const [N, C, H, W] = is1d ? [l.input[0], l.input[1], 1, l.input[2]] : l.input;
  const [R, S] = is1d ? [1, l.kernel[0]] : l.kernel;
  const sh = is1d ? 1 : l.stride,
    ph = is1d ? 0 : l.padding,
    dh = is1d ? 1 : l.dilation;
  const p = {
    N,
    C,
    H,
    W,
    K: l.out_channels,
    R,
    S,
    groups: l.groups,
    strideH: sh,
    strideW: l.stride,
    dilationH: dh,
    dilationW: l.dilation,
    padTop: ph,
    padBottom: ph,
    padLeft: l.padding,
    padRight: l.padding,
    relu: 0,
  };
  p.OH = Math.floor((H + 2 * ph - dh * (R - 1) - 1) / sh) + 1;
  p.OW = Math.floor((W + 2 * l.padding - l.dilation * (S - 1) - 1) / l.stride) + 1;
  return p;
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
};
console.log(
  `isa=${addon.info().isa} algo=${algo} clock=${useCpu ? 'cpu' : 'wall'} store=${useStore} kernels=${JSON.stringify(addon.info().kernels)}`
);
for (const l of suite.filter((l) => wanted.includes(l.id))) {
  const p = params(l);
  const packed = Int32Array.from(FIELDS.map((f) => p[f]));
  const x = Float32Array.from({ length: p.N * p.C * p.H * p.W }, () => Math.random() - 0.5);
  const w = Float32Array.from({ length: p.K * (p.C / p.groups) * p.R * p.S }, () => Math.random() - 0.5);
  const b = Float32Array.from({ length: p.K }, () => Math.random() - 0.5);
  const out = new Float32Array(p.N * p.K * p.OH * p.OW);
  const flops = 2 * p.N * p.K * p.OH * p.OW * (p.C / p.groups) * p.R * p.S;
  const cols = [];
  const store = useStore ? addon.packedWeights() : undefined;
  for (const t of threadList) {
    addon.setNumThreads(t);
    for (let i = 0; i < 3; i++) addon.conv2d(packed, ALGORITHMS.indexOf(algo), x, w, b, out, store);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const c0 = cpuSeconds(),
        t0 = process.hrtime.bigint();
      addon.conv2d(packed, ALGORITHMS.indexOf(algo), x, w, b, out, store);
      times.push(useCpu ? cpuSeconds() - c0 : Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const m = median(times),
      best = Math.min(...times);
    cols.push(
      `${t}T ${(flops / m / 1e9).toFixed(1).padStart(6)} GFLOP/s (${(m * 1e3).toFixed(3)} ms; best ${(flops / best / 1e9).toFixed(1)})`
    );
  }
  console.log(`${l.id.padEnd(4)} ${l.name.padEnd(15)} ${cols.join('   ')}`);
}
