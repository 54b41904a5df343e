// Correctness check of the wasm builds through the real adapter (src/backends/wasm.ts, transpiled on
// the fly): every build (simd, relaxed where the engine runs it, scalar) x every algorithm the build
// implements (direct, im2col, winograd, fft; Winograd also forced to each output tile, F(2x2) and
// F(4x4), through the winogradTile knob) against a float64 direct conv on random shapes, 3x3
// stride-1 shapes (Winograd's) and GEMM-blocking shapes, plus every forward golden case in test/golden
// (NaN/Inf positions exact) and bad parameters (RangeError, never a trap). Fails when any build x
// algorithm ran no case at all, so the claim cannot go stale. test/selfcheck.test.ts runs it quickly.
//   node [--experimental-wasm-relaxed-simd] assembly/selfcheck.mjs [--cases 300] [--seed 1] [--golden DIR]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const CASES = Number(arg('--cases', 300));
let seed = Number(arg('--seed', 1));
const GOLDEN = arg('--golden', join(root, 'test', 'golden'));
const WASM_DIR = arg('--wasm-dir', join(root, 'assembly', 'build'));
// Winograd's and the FFT's transforms add rounding beyond the GEMM's: the shared tester allows them 1e-4 * S.
const TOLERANCE = { direct: 1e-5, im2col: 1e-5, winograd: 1e-4, fft: 1e-4 };
const tol = (algo) => TOLERANCE[algo] ?? 1e-5;

// The whole of src/, transpiled file by file into a scratch directory with its layout kept, so that
// every relative import of the adapter resolves whatever it imports next (a list of files to copy went
// stale as soon as wasm.ts imported a new module).
async function loadAdapter() {
  // src/backends/interface.generated.ts comes from native/interface.mjs at build time (not committed).
  const gen = spawnSync(process.execPath, [join(root, 'native', 'gen-interface.mjs'), 'ts'], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`native/gen-interface.mjs ts failed: ${gen.stderr}`);
  const out = mkdtempSync(join(tmpdir(), 'fastconv-selfcheck-'));
  process.on('exit', () => rmSync(out, { recursive: true, force: true }));
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  const src = join(root, 'src');
  for (const rel of readdirSync(src, { recursive: true })) {
    if (!rel.endsWith('.ts') || rel.endsWith('.d.ts')) continue;
    const js = ts.transpileModule(readFileSync(join(src, rel), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    mkdirSync(dirname(join(out, rel)), { recursive: true });
    writeFileSync(join(out, rel.replace(/\.ts$/, '.js')), js.outputText);
  }
  return import(pathToFileURL(join(out, 'backends', 'wasm.js')).href);
}

function rand() {
  // mulberry32: reproducible shapes from --seed
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

/** float64 reference and S = conv(|x|, |w|) + |b| in one pass. */
function reference(p, x, w, b) {
  const { N, C, H, W, K, R, S, groups, OH, OW } = p;
  const Cg = C / groups,
    Kg = K / groups;
  const ref = new Float64Array(N * K * OH * OW),
    mag = new Float64Array(ref.length);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = b ? b[k] : 0,
            m = b ? Math.abs(b[k]) : 0;
          for (let ci = 0; ci < Cg; ci++)
            for (let r = 0; r < R; r++) {
              const ih = oh * p.strideH - p.padTop + r * p.dilationH;
              if (ih < 0 || ih >= H) continue;
              for (let s = 0; s < S; s++) {
                const iw = ow * p.strideW - p.padLeft + s * p.dilationW;
                if (iw < 0 || iw >= W) continue;
                const xv = x[((n * C + g * Cg + ci) * H + ih) * W + iw],
                  wv = w[((k * Cg + ci) * R + r) * S + s];
                acc += xv * wv;
                m += Math.abs(xv * wv);
              }
            }
          const i = ((n * K + k) * OH + oh) * OW + ow;
          // biome-ignore lint/complexity/useMathMinMax: the ternary keeps -0 and NaN as they are; Math.max(0, -0) is +0
          ref[i] = p.relu ? (acc < 0 ? 0 : acc) : acc;
          mag[i] = m;
        }
    }
  return { ref, mag };
}

/** Worst |got-ref|/S; Infinity when a NaN/Inf position differs. */
function compare(got, ref, mag) {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = got[i],
      e = ref[i];
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (!(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)))) return { worst: Infinity, at: i, got: a, want: e };
      continue;
    }
    const err = Math.abs(a - e) / (mag[i] + 1e-30);
    if (err > worst) worst = err;
  }
  return { worst };
}

function outSize(size, a, b, k, d, s) {
  return Math.floor((size + a + b - d * (k - 1) - 1) / s) + 1;
}

function randomShape(big) {
  for (;;) {
    const groups = rand() < 0.25 ? int(2, 4) : 1;
    const depthwise = rand() < 0.2;
    const Cg = depthwise ? 1 : big ? int(8, 40) : int(1, 6);
    const Kg = depthwise ? int(1, 3) : big ? int(5, 70) : int(1, 14);
    const p = {
      N: int(1, 3),
      C: groups * Cg,
      H: big ? int(10, 40) : int(1, 20),
      W: big ? int(10, 40) : int(1, 20),
      K: groups * Kg,
      R: int(1, 5),
      S: int(1, 5),
      groups,
      strideH: int(1, 3),
      strideW: int(1, 3),
      dilationH: int(1, 3),
      dilationW: int(1, 3),
      padTop: int(0, 3),
      padBottom: int(0, 3),
      padLeft: int(0, 3),
      padRight: int(0, 3),
      relu: rand() < 0.5,
    };
    if (rand() < 0.15) {
      p.H = 1;
      p.R = 1;
      p.strideH = 1;
      p.dilationH = 1;
      p.padTop = 0;
      p.padBottom = 0;
    } // conv1d
    if (rand() < 0.15) {
      p.R = 1;
      p.S = 1;
      p.strideH = 1;
      p.strideW = 1;
      p.padTop = p.padBottom = p.padLeft = p.padRight = 0;
    }
    p.OH = outSize(p.H, p.padTop, p.padBottom, p.R, p.dilationH, p.strideH);
    p.OW = outSize(p.W, p.padLeft, p.padRight, p.S, p.dilationW, p.strideW);
    if (p.OH >= 1 && p.OW >= 1) return p;
  }
}

const fill = (n) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
};

// What runs per build: each algorithm by the module's own rule, and Winograd again at each tile forced
// through the winogradTile knob (F(4x4) only where it is accurate; elsewhere the knob runs F(2x2)).
function variantsOf(be) {
  const v = be.algorithms.map((algo) => ({ key: algo, algo, tile: 0 }));
  if (be.algorithms.includes('winograd') && be.setKnob)
    for (const tile of [2, 4]) v.push({ key: `winograd-f${tile}`, algo: 'winograd', tile });
  return v;
}

/** Every variant of every build that applies to p, against `want`; `counted`: whether coverage counts it. */
function runVariants(backends, p, x, w, b, want, mag, label, stats, counted) {
  for (const be of backends) {
    for (const v of variantsOf(be)) {
      if (be.supports(p, v.algo) !== null) continue;
      if (v.tile) be.setKnob('winogradTile', v.tile);
      try {
        if (v.tile && be.winogradTile(p) !== v.tile) continue;
        const out = new Float32Array(want.length).fill(NaN);
        be.conv2d(p, x, w, b, out, v.algo);
        const r = compare(out, want, mag);
        const key = `${be.isa}/${v.key}`;
        stats[key] = Math.max(stats[key] ?? 0, r.worst);
        if (counted) ran[key] = (ran[key] ?? 0) + 1;
        if (!(r.worst <= tol(v.algo))) failures.push(`${label} ${key}: ${JSON.stringify(r)} ${JSON.stringify(p)}`);
      } finally {
        if (v.tile) be.setKnob('winogradTile', 0);
      }
    }
  }
}

function runCase(backends, p, x, w, b, label) {
  const { ref, mag } = reference(p, x, w, b);
  runVariants(backends, p, x, w, b, ref, mag, label, stats, true);
}

function decode(b64) {
  if (b64 === null) return null;
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

function goldenParams(g) {
  const oned = g.op === 'conv1d';
  const [N, C] = g.input_shape;
  const H = oned ? 1 : g.input_shape[2],
    W = g.input_shape[oned ? 2 : 3];
  const K = g.weight_shape[0],
    R = oned ? 1 : g.weight_shape[2],
    S = g.weight_shape[oned ? 2 : 3];
  const [padTop, padBottom, padLeft, padRight] = g.effective_pad;
  const st = oned ? [1, g.stride[0]] : g.stride,
    dl = oned ? [1, g.dilation[0]] : g.dilation;
  return {
    N,
    C,
    H,
    W,
    K,
    R,
    S,
    groups: g.groups,
    strideH: st[0],
    strideW: st[1],
    dilationH: dl[0],
    dilationW: dl[1],
    padTop,
    padBottom,
    padLeft,
    padRight,
    OH: oned ? 1 : g.output_shape[2],
    OW: g.output_shape[oned ? 2 : 3],
    relu: false,
  };
}

const { createWasmBackend, wasmSimdSupported, wasmRelaxedSimdSupported } = await loadAdapter();
// The relaxed build runs only where the engine validates it (Node 20: --experimental-wasm-relaxed-simd).
const variants = ['simd', ...(wasmRelaxedSimdSupported() ? ['relaxed'] : []), 'scalar'];
const backends = variants.map((v) =>
  createWasmBackend(new WebAssembly.Module(readFileSync(join(WASM_DIR, `fastconv-${v}.wasm`))), v)
);
console.log(`wasmSimdSupported() = ${wasmSimdSupported()}, wasmRelaxedSimdSupported() = ${wasmRelaxedSimdSupported()}`);

const failures = [],
  stats = {},
  ran = {};
const t0 = performance.now();
for (let i = 0; i < CASES; i++) {
  const p = randomShape(i % 10 === 9);
  const b = rand() < 0.7 ? fill(p.K) : null;
  runCase(backends, p, fill(p.N * p.C * p.H * p.W), fill(p.K * (p.C / p.groups) * p.R * p.S), b, `random#${i}`);
}
// 3x3 stride 1 (Winograd's shapes): tile edges (odd OH/OW), wide rows, padding 0..3, groups, batch.
for (let i = 0; i < CASES / 3; i++) {
  const groups = rand() < 0.25 ? int(2, 3) : 1;
  const p = {
    N: int(1, 2),
    C: groups * int(1, 40),
    H: int(1, 40),
    W: int(1, 70),
    K: groups * int(1, 40),
    R: 3,
    S: 3,
    groups,
    strideH: 1,
    strideW: 1,
    dilationH: rand() < 0.25 ? int(2, 3) : 1,
    dilationW: rand() < 0.25 ? int(2, 3) : 1,
    padTop: int(0, 3),
    padBottom: int(0, 3),
    padLeft: int(0, 3),
    padRight: int(0, 3),
    relu: rand() < 0.5,
  };
  p.OH = outSize(p.H, p.padTop, p.padBottom, 3, p.dilationH, 1);
  p.OW = outSize(p.W, p.padLeft, p.padRight, 3, p.dilationW, 1);
  if (p.OH < 1 || p.OW < 1) continue;
  const b = rand() < 0.7 ? fill(p.K) : null;
  runCase(backends, p, fill(p.N * p.C * p.H * p.W), fill(p.K * (p.C / p.groups) * 9), b, `3x3#${i}`);
}
// Shapes that cross the GEMM's KC (256) and NC (512) blocks, its 4x8 tile edges, and both B paths
// (packed: OW 23/25, pointwise; indirect: OW 40/16/450).
for (const [C, K, HW, R] of [
  [300, 13, 9, 1],
  [30, 7, 25, 3],
  [64, 65, 23, 3],
  [257, 6, 24, 1],
  [1, 32, 1, 251],
  [40, 9, 40, 3],
  [33, 10, 16, 3],
]) {
  const p = {
    N: 2,
    C,
    H: R === 251 ? 1 : HW,
    W: R === 251 ? 700 : HW,
    K,
    R: R === 251 ? 1 : R,
    S: R,
    groups: 1,
    strideH: 1,
    strideW: 1,
    dilationH: 1,
    dilationW: 1,
    padTop: R === 251 ? 0 : R >> 1,
    padBottom: R === 251 ? 0 : R >> 1,
    padLeft: R >> 1,
    padRight: R >> 1,
    relu: true,
  };
  p.OH = outSize(p.H, p.padTop, p.padBottom, p.R, 1, 1);
  p.OW = outSize(p.W, p.padLeft, p.padRight, p.S, 1, 1);
  runCase(backends, p, fill(p.N * p.C * p.H * p.W), fill(p.K * p.C * p.R * p.S), fill(p.K), `blocking ${C}x${K}x${HW}x${R}`);
}
console.log(
  `random: ${CASES} shapes + 7 blocking shapes in ${((performance.now() - t0) / 1000).toFixed(1)} s; worst |err|/S:`,
  Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v.toExponential(2)]))
);

let golden = 0;
const gstats = {};
if (existsSync(GOLDEN)) {
  for (const f of readdirSync(GOLDEN)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const g = JSON.parse(readFileSync(join(GOLDEN, f), 'utf8'));
    if (g.op !== 'conv1d' && g.op !== 'conv2d') continue;
    const p = goldenParams(g);
    const x = decode(g.input),
      w = decode(g.weight),
      b = decode(g.bias),
      want = decode(g.output);
    const { mag } = reference(p, x, w, b);
    runVariants(backends, p, x, w, b, want, mag, `golden ${g.name}`, gstats, false);
    golden++;
  }
  console.log(
    `golden: ${golden} forward cases; worst |err|/S:`,
    Object.fromEntries(Object.entries(gstats).map(([k, v]) => [k, v.toExponential(2)]))
  );
} else {
  console.log(`golden: ${GOLDEN} not found, skipped`);
}

// Bad parameters must come back as RangeError, not a trap.
const bad = [];
const okP = {
  N: 1,
  C: 2,
  H: 5,
  W: 5,
  K: 3,
  R: 3,
  S: 3,
  groups: 1,
  strideH: 1,
  strideW: 1,
  dilationH: 1,
  dilationW: 1,
  padTop: 0,
  padBottom: 0,
  padLeft: 0,
  padRight: 0,
  OH: 3,
  OW: 3,
  relu: false,
};
for (const [what, patch, lens] of [
  ['OH wrong', { OH: 4 }, null],
  ['zero stride', { strideH: 0 }, null],
  ['negative pad', { padLeft: -1 }, null],
  ['groups', { groups: 2, K: 3 }, null],
  ['input length', {}, [49, 54, 3, 27]],
  ['kernel > input', { R: 7, OH: 0 }, null],
  ['huge', { N: 1 << 20, C: 1 << 20 }, null],
]) {
  const p = { ...okP, ...patch };
  const [xl, wl, bl, ol] = lens ?? [p.N * p.C * p.H * p.W, p.K * (p.C / p.groups) * p.R * p.S, p.K, p.N * p.K * p.OH * p.OW];
  for (const be of backends) {
    try {
      be.conv2d(
        p,
        new Float32Array(Math.min(xl, 1e6) | 0),
        new Float32Array(wl | 0),
        new Float32Array(bl),
        new Float32Array(Math.max(0, Math.min(ol, 1e6)) | 0),
        'im2col'
      );
      bad.push(`${what}: no error on ${be.isa}`);
    } catch (e) {
      if (!(e instanceof RangeError)) bad.push(`${what}: ${be.isa} threw ${e}`);
    }
  }
}
console.log(`bad inputs: ${bad.length ? bad.join('; ') : 'all rejected with RangeError'}`);

// Every build x algorithm must have run: an algorithm whose supports() turned down every shape here
// would otherwise pass unnoticed.
for (const be of backends)
  for (const v of variantsOf(be)) {
    if (!ran[`${be.isa}/${v.key}`])
      failures.push(`${be.isa}/${v.key}: no random shape ran (supports() or the tile rule refused them all)`);
  }
console.log(
  `coverage (random shapes per build/algorithm): ${Object.entries(ran)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}`
);

if (failures.length || bad.length) {
  console.log(`FAILED ${failures.length}:\n${failures.slice(0, 20).join('\n')}`);
  process.exit(1);
}
console.log('selfcheck OK');
