// Scratch benchmark of the wasm builds through the adapter (copies in/out included): GFLOP/s per layer
// of the suite, median of --runs timed calls after warm-up, one thread.
//   node assembly/bench.mjs [--variant simd|scalar] [--runs 15] [--layers L1,L2] [--algo auto|direct,im2col,winograd] [--wasm file]

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const variant = arg('--variant', 'simd');
const RUNS = Number(arg('--runs', 15));
const only = arg('--layers', '');
const forced = arg('--algo', 'auto');

const out = join(tmpdir(), `fastconv-bench-${process.pid}`);
mkdirSync(out, { recursive: true });
for (const f of ['types', 'wasm', 'wasm-pool', 'wasm-worker-source']) {
  const src = readFileSync(join(root, 'src', 'backends', `${f}.ts`), 'utf8');
  writeFileSync(
    join(out, `${f}.js`),
    ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText
  );
}
const { createWasmBackend } = await import(pathToFileURL(join(out, 'wasm.js')).href);
const file = arg('--wasm', join(root, 'assembly', 'build', `fastconv-${variant}.wasm`));
const be = createWasmBackend(new WebAssembly.Module(readFileSync(file)), variant);

const suiteFile = [join(root, 'bench', 'layers.json'), join(root, '..', 'shared', 'bench', 'layers.json')].find(existsSync);
const { layers } = JSON.parse(readFileSync(suiteFile, 'utf8'));

const rows = [];
for (const L of layers) {
  if (only && !only.split(',').includes(L.id)) continue;
  const oned = L.op === 'conv1d';
  const [N, C] = L.input;
  const H = oned ? 1 : L.input[2],
    W = oned ? L.input[2] : L.input[3];
  const R = oned ? 1 : L.kernel[0],
    S = oned ? L.kernel[0] : L.kernel[1];
  const ph = oned ? 0 : L.padding,
    pw = L.padding,
    sh = oned ? 1 : L.stride,
    dh = oned ? 1 : L.dilation;
  const p = {
    N,
    C,
    H,
    W,
    K: L.out_channels,
    R,
    S,
    groups: L.groups,
    strideH: sh,
    strideW: L.stride,
    dilationH: dh,
    dilationW: L.dilation,
    padTop: ph,
    padBottom: ph,
    padLeft: pw,
    padRight: pw,
    relu: false,
  };
  p.OH = Math.floor((H + 2 * ph - dh * (R - 1) - 1) / sh) + 1;
  p.OW = Math.floor((W + 2 * pw - L.dilation * (S - 1) - 1) / L.stride) + 1;
  const x = Float32Array.from({ length: N * C * H * W }, () => Math.random() - 0.5);
  const w = Float32Array.from({ length: p.K * (C / p.groups) * R * S }, () => Math.random() - 0.5);
  const b = Float32Array.from({ length: p.K }, () => Math.random() - 0.5);
  const y = new Float32Array(N * p.K * p.OH * p.OW);
  // --algo a,b,c: the algorithms take turns run by run, so machine noise hits them alike.
  const algos = (forced === 'auto' ? [be.choose(p).algorithm] : forced.split(',')).filter((a) => be.supports(p, a) === null);
  const flops = 2 * N * p.K * p.OH * p.OW * (C / p.groups) * R * S;
  const times = new Map(algos.map((a) => [a, []]));
  for (const algo of algos) {
    const warm = performance.now();
    do be.conv2d(p, x, w, b, y, algo);
    while (performance.now() - warm < 300);
  }
  for (let i = 0; i < RUNS; i++) {
    for (const algo of algos) {
      const t = performance.now();
      be.conv2d(p, x, w, b, y, algo);
      times.get(algo).push(performance.now() - t);
    }
  }
  for (const algo of algos) {
    const ts = times.get(algo).sort((a, b) => a - b);
    const med = ts[ts.length >> 1];
    rows.push({ id: L.id, name: L.name, algo, ms: +med.toFixed(3), gflops: +(flops / med / 1e6).toFixed(1) });
    // best-of is shown too: on a shared machine it is the steadier number for A/B comparisons.
    console.log(
      `${L.id.padEnd(4)} ${L.name.padEnd(15)} ${algo.padEnd(8)} ${med.toFixed(3).padStart(9)} ms ${(flops / med / 1e6).toFixed(1).padStart(6)} GFLOP/s (best ${(flops / ts[0] / 1e6).toFixed(1)})`
    );
  }
}
const g = Math.exp(rows.reduce((s, r) => s + Math.log(r.gflops), 0) / rows.length);
console.log(`geomean ${g.toFixed(1)} GFLOP/s (${variant}, median of ${RUNS})`);
