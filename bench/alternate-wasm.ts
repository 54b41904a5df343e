// Two layers called in turn on the wasm backend (a network alternating conv A, conv B, ...), with and
// without per-layer weight stores, interleaved in one process. Without stores the module's one global
// cache (assembly/weight_cache.ts) misses on every call: each call compares the weights and
// transforms them again. With stores each layer's transform is made once.
//   npx tsc -p tsconfig.json && node dist/bench/alternate-wasm.js [--layers L3,L6] [--variant simd]
//        [--threads 1] [--rounds 15]
// Prints the median ms per call of each layer in each mode (and the same layer repeated, where the
// global cache hits), and the ratio storeless / stored.

import fs from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Algorithm, ConvParams, WeightStore } from '../src/backends/types.js';
import type { WasmVariant } from '../src/backends/wasm.js';
import { createWasmBackend } from '../src/backends/wasm.js';
import { loadWasmBytes } from '../src/backends/wasm-bytes.node.js';
import { spawnNodeWorker } from '../src/backends/wasm-pool.node.js';
import { normalizeConv } from '../src/shape.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

interface LayerSpec {
  id: string;
  input: number[];
  out_channels: number;
  kernel: number[];
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const suiteFile = [path.join(here, 'layers.json'), path.join(here, '..', '..', 'bench', 'layers.json')].find((f) =>
  fs.existsSync(f)
);
if (!suiteFile) throw new Error(`bench/layers.json not found beside ${here}`);
const suite = (JSON.parse(fs.readFileSync(suiteFile, 'utf8')) as { layers: LayerSpec[] }).layers;
const ids = flag('layers', 'L3,L6').split(',');
const variant = flag('variant', 'simd') as WasmVariant;
const threads = Math.max(1, Math.min(availableParallelism(), Number(flag('threads', '1'))));
const rounds = Number(flag('rounds', '15'));

const module = new WebAssembly.Module(loadWasmBytes(variant) as BufferSource);
const backend = createWasmBackend(
  module,
  variant,
  threads > 1 && variant !== 'scalar'
    ? {
        module: new WebAssembly.Module(loadWasmBytes(`${variant}-threads` as WasmVariant) as BufferSource),
        spawn: spawnNodeWorker,
        canBlock: true,
        threads,
      }
    : undefined
);

let seed = 1;
const random = (n: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = seed / 2 ** 31 - 1;
  }
  return a;
};

interface Layer {
  id: string;
  p: ConvParams;
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
  out: Float32Array;
  algo: Algorithm;
  store: WeightStore;
}
const createStore = backend.createWeightStore?.bind(backend);
if (!createStore) throw new Error(`the wasm-${variant} backend has no weight stores`);
const layers: Layer[] = ids.map((id) => {
  const s = suite.find((l) => l.id === id);
  if (!s) throw new Error(`no layer ${id} in ${suiteFile}`);
  const [N, C] = s.input;
  const wShape = [s.out_channels, C / s.groups, ...s.kernel];
  const x = { data: random(s.input.reduce((a, b) => a * b, 1)), shape: s.input };
  const w = { data: random(wShape.reduce((a, b) => a * b, 1)), shape: wShape };
  const n = normalizeConv(2, x, w, { stride: s.stride, padding: s.padding, dilation: s.dilation, groups: s.groups });
  const p = n.params;
  return {
    id,
    p,
    x: x.data,
    w: w.data,
    b: random(p.K),
    out: new Float32Array(N * p.K * p.OH * p.OW),
    algo: backend.choose(p).algorithm,
    store: createStore(),
  };
});

const call = (l: Layer, stored: boolean) => {
  const t = performance.now();
  backend.conv2d(l.p, l.x, l.w, l.b, l.out, l.algo, stored ? l.store : undefined);
  return performance.now() - t;
};

// The pool's workers do not keep the process alive: a timer does while they start.
const keepAlive = setInterval(() => {}, 1000);
await backend.whenReady();
clearInterval(keepAlive);
const modes = ['alternating, no stores', 'alternating, stores', 'same layer repeated, no stores'] as const;
const times = new Map<string, number[]>();
const record = (mode: string, l: Layer, ms: number) => {
  const k = `${mode}|${l.id}`;
  const list = times.get(k);
  if (list) list.push(ms);
  else times.set(k, [ms]);
};
for (let r = -2; r < rounds; r++) {
  // 2 warm-up rounds
  for (const mode of modes) {
    for (let rep = 0; rep < 2; rep++) {
      for (const l of layers) {
        if (mode === 'same layer repeated, no stores') {
          call(l, false);
          if (r >= 0) record(mode, l, call(l, false));
          continue;
        }
        const ms = call(l, mode === 'alternating, stores');
        if (r >= 0) record(mode, l, ms);
      }
    }
  }
}
const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`wasm-${variant}, ${threads} thread(s), ${rounds} rounds x 2 calls per layer and mode, medians in ms per call`);
for (const l of layers) {
  const m = modes.map((mode) => {
    const t = times.get(`${mode}|${l.id}`);
    if (!t) throw new Error(`no timings for ${l.id} (${mode}): --rounds must be at least 1`);
    return median(t);
  });
  const gflops = (ms: number) =>
    ((2 * l.p.N * l.p.K * l.p.OH * l.p.OW * (l.p.C / l.p.groups) * l.p.R * l.p.S) / ms / 1e6).toFixed(1);
  console.log(
    `${l.id} (${l.algo}, store ${(l.store.bytes / 2 ** 20).toFixed(1)} MiB): ` +
      modes.map((mode, i) => `${mode} ${m[i].toFixed(2)} ms (${gflops(m[i])} GFLOP/s)`).join('; ') +
      `; storeless/stored ${(m[0] / m[1]).toFixed(2)}x`
  );
}
backend.dispose();
