// Checks the addon at every ISA this CPU runs x every algorithm it implements (direct, im2col,
// winograd, fft; Winograd also forced to each output tile, F(2x2) and F(4x4), through the winogradTile
// knob) against a float64 direct convolution: random shapes, 3x3 stride-1 shapes (Winograd's, with
// tile edges), fixed shapes big enough to split across threads (at 1, 2 and the default thread
// count), and the forward golden cases of test/golden (NaN/Inf positions exact). A shape an
// algorithm does not apply to (addon.supports) is skipped; an ISA x algorithm that ran no shape at all
// fails the check, so the claim above cannot go stale. test/selfcheck.test.ts runs it quickly.
//   node native/selfcheck.mjs [--cases 300] [--seed 1] [--golden DIR]
// Exit code 1 on any mismatch. Needs a built addon (npm run build:native).

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALGORITHMS, KNOBS, PARAM_FIELDS } from './interface.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const addon = createRequire(import.meta.url)(path.join(here, '..', 'build', 'Release', 'fastconv.node'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const CASES = Number(opt('cases', 300));
let seed = Number(opt('seed', 1)) >>> 0;
const GOLDEN = opt('golden', path.join(here, '..', 'test', 'golden'));
// Allowed |got - ref| / S, as in test/tester.ts: Winograd's and the FFT's transforms round more than a
// GEMM's sums, and an FFT's error is normwise (a fraction of the largest S of its output plane).
const TOL = { direct: 1e-5, im2col: 1e-5, winograd: 1e-4, fft: 1e-4 };
const PLANE_TOL = { direct: 0, im2col: 0, winograd: 0, fft: 1e-6 };
const FIELDS = PARAM_FIELDS.map((f) => f.name);
const TILE_KNOB = KNOBS.findIndex((k) => k.name === 'winogradTile');

function rand() {
  // xorshift32: reproducible shapes for a given --seed
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (a) => a[int(0, a.length - 1)];

const outSize = (n, p0, p1, d, k, s) => Math.floor((n + p0 + p1 - d * (k - 1) - 1) / s) + 1;
const pack = (p) => Int32Array.from(FIELDS.map((f) => (f === 'relu' ? (p.relu ? 1 : 0) : p[f])));

// Float64 direct convolution; also returns S = conv(|x|, |w|) + |b| for the tolerance.
function reference(p, x, w, b) {
  const { N, C, H, W, K, R, S, groups, OH, OW } = p;
  const Cg = C / groups,
    Kg = K / groups;
  const y = new Float64Array(N * K * OH * OW),
    s = new Float64Array(y.length);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = 0,
            abs = 0;
          for (let c = 0; c < Cg; c++)
            for (let r = 0; r < R; r++) {
              const ih = oh * p.strideH - p.padTop + r * p.dilationH;
              if (ih < 0 || ih >= H) continue;
              for (let q = 0; q < S; q++) {
                const iw = ow * p.strideW - p.padLeft + q * p.dilationW;
                if (iw < 0 || iw >= W) continue;
                const xv = x[((n * C + g * Cg + c) * H + ih) * W + iw],
                  wv = w[((k * Cg + c) * R + r) * S + q];
                acc += xv * wv;
                abs += Math.abs(xv * wv);
              }
            }
          const i = ((n * K + k) * OH + oh) * OW + ow;
          const bv = b ? b[k] : 0;
          acc += bv;
          // biome-ignore lint/complexity/useMathMinMax: the ternary keeps -0 and NaN as they are; Math.max(0, -0) is +0
          y[i] = p.relu ? (acc < 0 ? 0 : acc) : acc;
          s[i] = abs + Math.abs(bv);
        }
    }
  return { y, s };
}

function randomProblem(i) {
  for (;;) {
    const depthwise = rand() < 0.25,
      big = i % 10 === 0;
    const groups = depthwise ? int(1, 12) : pick([1, 1, 1, 2, 3, 4]);
    const Cg = depthwise ? 1 : big ? int(16, 64) : int(1, 9);
    const Kg = depthwise ? pick([1, 1, 2, 3]) : big ? int(10, 40) : int(1, 20);
    const p = {
      N: int(1, 3),
      C: groups * Cg,
      H: big ? int(16, 40) : int(1, 20),
      W: big ? int(16, 40) : int(1, 20),
      K: groups * Kg,
      R: int(1, 5),
      S: int(1, 5),
      groups,
      strideH: pick([1, 1, 2, 3]),
      strideW: pick([1, 1, 2, 3]),
      dilationH: pick([1, 1, 2, 3]),
      dilationW: pick([1, 1, 2]),
      padTop: int(0, 3),
      padBottom: int(0, 3),
      padLeft: int(0, 3),
      padRight: int(0, 3),
      relu: rand() < 0.3,
    };
    if (rand() < 0.2) {
      p.H = 1;
      p.R = 1;
      p.strideH = 1;
      p.dilationH = 1;
      p.padTop = p.padBottom = 0;
    } // conv1d
    if (rand() < 0.1) {
      p.R = p.S = 1;
      p.strideH = p.strideW = 1;
      p.padTop = p.padBottom = p.padLeft = p.padRight = 0;
    }
    p.OH = outSize(p.H, p.padTop, p.padBottom, p.dilationH, p.R, p.strideH);
    p.OW = outSize(p.W, p.padLeft, p.padRight, p.dilationW, p.S, p.strideW);
    if (p.OH >= 1 && p.OW >= 1) return p;
  }
}

const randArray = (n) => Float32Array.from({ length: n }, () => rand() * 2 - 1);

// Returns the worst (|got - ref| - slack) / (S + 1e-30), slack being planeTol x the largest S of the
// output plane, the worst |got - ref| / S without it (for the report), and whether non-finite
// positions all match.
function compare(got, ref, s, plane, planeTol) {
  let worst = 0,
    raw = 0,
    nonfinite = true;
  for (let base = 0; base < got.length; base += plane) {
    let slack = 0;
    if (planeTol > 0)
      for (let i = base; i < base + plane; i++) if (Number.isFinite(s[i])) slack = Math.max(slack, planeTol * s[i]);
    for (let i = base; i < base + plane; i++) {
      const g = got[i],
        r = ref[i];
      if (!Number.isFinite(r) || !Number.isFinite(g)) {
        if (!(Object.is(g, r) || (Number.isNaN(g) && Number.isNaN(r)))) nonfinite = false;
        continue;
      }
      const e = Math.abs(g - r);
      worst = Math.max(worst, Math.max(0, e - slack) / (s[i] + 1e-30));
      raw = Math.max(raw, e / (s[i] + 1e-30));
    }
  }
  return { worst, raw, nonfinite };
}

const cpu = addon.info().cpu;
const isas = [
  'scalar',
  ...(cpu.avx2 && cpu.fma ? ['avx2'] : []),
  ...(cpu.avx512 ? ['avx512'] : []),
  ...(cpu.neon ? ['neon'] : []),
];
let failures = 0;
const report = (what, p, res) => {
  failures++;
  if (failures <= 20)
    console.log(`FAIL ${what} worst=${res.worst.toExponential(2)} nonfinite=${res.nonfinite} ${JSON.stringify(p)}`);
};

// What runs per ISA: each algorithm by its own rule, and Winograd again at each forced tile (F(4x4)
// only where it is accurate; elsewhere the knob runs F(2x2), which the 'winograd-f2' variant covers).
const algorithms = addon.info().algorithms;
const variants = algorithms.map((a) => ({ key: a, algo: a, tile: 0 }));
if (algorithms.includes('winograd'))
  for (const tile of [2, 4]) variants.push({ key: `winograd-f${tile}`, algo: 'winograd', tile });
const ran = {};

function run(p, algo, x, w, b) {
  const out = new Float32Array(p.N * p.K * p.OH * p.OW).fill(Number.NaN); // stale data must not survive
  addon.conv2d(pack(p), ALGORITHMS.indexOf(algo), x, w, b, out);
  return out;
}

/** Runs variant v of p at the current ISA and thread count; false when v does not apply to p. */
function check(what, v, p, x, w, b, want, s, worstBy) {
  const packed = pack(p);
  if (addon.supports(packed, ALGORITHMS.indexOf(v.algo)) !== null) return false;
  addon.setKnob(TILE_KNOB, v.tile);
  try {
    if (v.tile && addon.winogradTile(packed) !== v.tile) return false;
    const res = compare(run(p, v.algo, x, w, b), want, s, p.OH * p.OW, PLANE_TOL[v.algo]);
    const key = `${addon.info().isa}/${v.key}`;
    ran[key] = (ran[key] ?? 0) + 1;
    if (worstBy) worstBy[key] = Math.max(worstBy[key] ?? 0, res.raw);
    if (!(res.worst <= TOL[v.algo]) || !res.nonfinite) report(`${what} ${key}`, p, res);
    return true;
  } finally {
    addon.setKnob(TILE_KNOB, 0);
  }
}

// Random shapes, plus fixed ones big enough to be split across threads (columns and, for few
// output pixels, weight rows), with multiple k-blocks and edge tiles in both dimensions.
const fixed = [
  [1, 64, 7, 7, 72, 3, 3, 1, 1, 1],
  [2, 96, 9, 11, 40, 3, 3, 1, 1, 1],
  [1, 300, 1, 60, 100, 1, 5, 1, 1, 1],
  [1, 256, 13, 13, 70, 1, 1, 1, 1, 1],
  [1, 48, 23, 29, 33, 3, 3, 2, 2, 1],
  [1, 32, 30, 30, 50, 5, 5, 1, 1, 2],
  [1, 96, 28, 28, 96, 3, 3, 1, 1, 96],
  [1, 3, 64, 64, 20, 7, 7, 2, 2, 1],
].map(([N, C, H, W, K, R, S, sh, sw, groups]) => {
  const pad = Math.floor(R / 2),
    padW = Math.floor(S / 2);
  const p = {
    N,
    C,
    H,
    W,
    K,
    R,
    S,
    groups,
    strideH: sh,
    strideW: sw,
    dilationH: 1,
    dilationW: 1,
    padTop: pad,
    padBottom: pad,
    padLeft: padW,
    padRight: padW,
    relu: true,
  };
  p.OH = outSize(H, pad, pad, 1, R, sh);
  p.OW = outSize(W, padW, padW, 1, S, sw);
  return p;
});
// Padding so large that phase planes would be huge: exercises the packed-B fallback.
fixed.push({
  N: 1,
  C: 5,
  H: 7,
  W: 6,
  K: 9,
  R: 2,
  S: 3,
  groups: 1,
  strideH: 3000,
  strideW: 2999,
  dilationH: 2,
  dilationW: 1,
  padTop: 4000,
  padBottom: 3000,
  padLeft: 3500,
  padRight: 3200,
  relu: false,
});
Object.assign(fixed[fixed.length - 1], { OH: outSize(7, 4000, 3000, 2, 2, 3000), OW: outSize(6, 3500, 3200, 1, 3, 2999) });
// 3x3 stride 1 (Winograd's shapes): odd output sizes for tile edges, wide rows, padding 0..3 (F(4x4)
// only up to 1), dilation (Winograd on sub-grids), groups, batch.
function winogradProblem() {
  for (;;) {
    const groups = rand() < 0.25 ? int(2, 3) : 1;
    const dil = () => (rand() < 0.25 ? int(2, 3) : 1);
    const p = {
      N: int(1, 2),
      C: groups * int(1, 24),
      H: int(1, 30),
      W: int(1, 60),
      K: groups * int(1, 24),
      R: 3,
      S: 3,
      groups,
      strideH: 1,
      strideW: 1,
      dilationH: dil(),
      dilationW: dil(),
      padTop: int(0, 3),
      padBottom: int(0, 3),
      padLeft: int(0, 3),
      padRight: int(0, 3),
      relu: rand() < 0.5,
    };
    if (rand() < 0.2) {
      p.H = 1;
      p.R = 1;
      p.dilationH = 1;
      p.padTop = p.padBottom = 0;
    } // conv1d, kernel 3
    if (rand() < 0.5) p.padTop = p.padBottom = p.padLeft = p.padRight = p.R === 1 ? 0 : int(0, 1);
    if (p.R === 1) p.padLeft = p.padRight = int(0, 1);
    p.OH = outSize(p.H, p.padTop, p.padBottom, p.dilationH, p.R, 1);
    p.OW = outSize(p.W, p.padLeft, p.padRight, p.dilationW, p.S, 1);
    if (p.OH >= 1 && p.OW >= 1) return p;
  }
}
const problems = [
  ...fixed,
  ...Array.from({ length: CASES }, (_, i) => randomProblem(i)),
  ...Array.from({ length: Math.ceil(CASES / 3) }, winogradProblem),
];
const threadCounts = [...new Set([1, addon.getNumThreads(), 2])];
const worstBy = {};
for (const p of problems) {
  const x = randArray(p.N * p.C * p.H * p.W),
    w = randArray(p.K * (p.C / p.groups) * p.R * p.S);
  const b = rand() < 0.7 ? randArray(p.K) : null;
  const { y, s } = reference(p, x, w, b);
  for (const isa of isas) {
    addon.setIsa(isa);
    for (const v of variants)
      for (const threads of fixed.includes(p) ? threadCounts : [threadCounts[1]]) {
        addon.setNumThreads(threads);
        check(`threads=${threads}`, v, p, x, w, b, y, s, worstBy);
      }
  }
}
addon.setNumThreads(threadCounts[1]);
console.log(
  `random: ${problems.length} shapes (${fixed.length} fixed, also at threads ${threadCounts.join('/')}) x ${isas.length} ISAs x ${variants.length} variants (${variants.map((v) => v.key).join(', ')}); worst scaled error per path:`
);
for (const [k, v] of Object.entries(worstBy)) console.log(`  ${k.padEnd(20)} ${v.toExponential(2)}`);

// Golden cases (forward only).
const decode = (b64) => {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
};
if (fs.existsSync(GOLDEN)) {
  let count = 0;
  for (const f of fs
    .readdirSync(GOLDEN)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const g = JSON.parse(fs.readFileSync(path.join(GOLDEN, f), 'utf8'));
    if (g.op !== 'conv2d' && g.op !== 'conv1d') continue;
    const is1d = g.op === 'conv1d';
    const [N, C, H, W] = is1d ? [g.input_shape[0], g.input_shape[1], 1, g.input_shape[2]] : g.input_shape;
    const [K, , R, S] = is1d ? [g.weight_shape[0], 0, 1, g.weight_shape[2]] : g.weight_shape;
    const [pt, pb, pl, pr] = g.effective_pad;
    const p = {
      N,
      C,
      H,
      W,
      K,
      R,
      S,
      groups: g.groups,
      strideH: is1d ? 1 : g.stride[0],
      strideW: is1d ? g.stride[0] : g.stride[1],
      dilationH: is1d ? 1 : g.dilation[0],
      dilationW: is1d ? g.dilation[0] : g.dilation[1],
      padTop: pt,
      padBottom: pb,
      padLeft: pl,
      padRight: pr,
      relu: false,
    };
    p.OH = outSize(H, pt, pb, p.dilationH, R, p.strideH);
    p.OW = outSize(W, pl, pr, p.dilationW, S, p.strideW);
    const x = decode(g.input),
      w = decode(g.weight),
      b = g.bias ? decode(g.bias) : null;
    const want = decode(g.output);
    const { s } = reference(p, x, w, b);
    for (const isa of isas) {
      addon.setIsa(isa);
      for (const v of variants) check(`golden ${g.name}`, v, p, x, w, b, want, s, null);
    }
    count++;
  }
  console.log(`golden: ${count} forward cases x ${isas.length} ISAs x the variants that apply to each`);
} else {
  console.log(`golden: ${GOLDEN} not found, skipped`);
}
addon.setIsa(isas[isas.length - 1]);

// Every ISA x variant must have run: one whose supports() (or tile rule) turned every shape down would
// otherwise pass unnoticed.
for (const isa of isas)
  for (const v of variants) {
    if (!ran[`${isa}/${v.key}`]) {
      failures++;
      console.log(`FAIL ${isa}/${v.key}: no shape ran`);
    }
  }
console.log(
  `coverage (cases per ISA/variant): ${Object.entries(ran)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}`
);
console.log(failures === 0 ? 'selfcheck: OK' : `selfcheck: ${failures} FAILURES`);
process.exit(failures === 0 ? 0 : 1);
