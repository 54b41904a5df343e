// The addon's lower ISA paths on CPUs that lack AVX-512 or AVX2, emulated by Debian's qemu-user: node
// runs under `qemu-x86_64 -cpu Haswell` (AVX2 + FMA, no AVX-512) and `-cpu Nehalem` (neither). The addon
// must pick 'avx2' / 'scalar' by itself, load (no AVX-512 instruction leaked into shared code: that
// would be SIGILL), and compute every algorithm right against an inline float64 reference, NaN/Inf
// positions included.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PARAM_FIELDS } from '../src/backends/types.js';
import { expectNative, noNativeReason } from './paths.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonFile = path.join(root, 'build', 'Release', 'fastconv.node');
const qemu = ['/usr/bin/qemu-x86_64', '/usr/local/bin/qemu-x86_64'].find((f) => existsSync(f));
const x64 = process.arch === 'x64';
// Under the ASan run the sanitizer runtime does not start inside qemu: that run covers the host ISA.
const skip = !x64
  ? 'not an x86-64 host'
  : !qemu
    ? 'qemu-x86_64 is not installed (apt-get install -y qemu-user)'
    : process.env.FASTCONV_ASAN
      ? 'sanitizer build'
      : noNativeReason;
// CI installs qemu-user for the legs that run the addon; elsewhere a missing qemu is only a skip.
const qemuRequired = Boolean(process.env.CI) && x64 && expectNative && !process.env.FASTCONV_ASAN;

describe('native addon under qemu-user', () => {
  it.skipIf(!qemuRequired)(
    `has qemu where it is expected (CI)${qemuRequired ? '' : ' (skipped: required only in CI runs of the addon on x86-64)'}`,
    () => {
      expect(qemu, 'install qemu-user in CI').toBeDefined();
    }
  );

  for (const [cpu, isa] of [
    ['Haswell', 'avx2'],
    ['Nehalem', 'scalar'],
  ] as const) {
    it.skipIf(skip !== '')(
      `-cpu ${cpu}: picks '${isa}' and every algorithm matches the reference${skip ? ` (skipped: ${skip})` : ''}`,
      () => {
        const r = spawnSync(qemu!, ['-cpu', cpu, process.execPath, '--input-type=module', '-e', SCRIPT, addonFile], {
          encoding: 'utf8',
          timeout: 240_000,
        });
        const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
        expect(r.signal, `killed by ${r.signal} (SIGILL: an instruction this CPU lacks)\n${r.stderr.slice(-2000)}`).toBeNull();
        expect(
          r.status,
          `${r.stdout}\n${r.stderr
            .split('\n')
            .filter((l) => !/TCG doesn't support/.test(l))
            .join('\n')}`
        ).toBe(0);
        const report = JSON.parse(last);
        expect(report.isa).toBe(isa);
        expect(report.failures).toEqual([]);
        // Every algorithm the addon has ran on at least one problem.
        expect(
          Object.keys(report.ran)
            .filter((k) => !k.startsWith('gradWeight/'))
            .sort()
        ).toEqual([...report.algorithms].sort());
        expect(report.ran['gradWeight/1']).toBe(true);
      },
      300_000
    );
  }
});

/** Child script: convolutions chosen so each algorithm applies to some, sync and async, 1 and 2 threads. */
const SCRIPT = `
import { createRequire } from 'node:module';
const addon = createRequire(import.meta.url)(process.argv[1]);
const info = addon.info();
const NAMES = ['direct', 'im2col', 'winograd', 'fft'];
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
function reference(p, x, w, b, abs) {
  const [N, C, H, W, K, R, S, G, sh, sw, dh, dw, pt, , pl, , OH, OW, relu] = p;
  const Cg = C / G, Kg = K / G, f = abs ? Math.abs : (v) => v;
  const y = new Float64Array(N * K * OH * OW);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    let acc = b ? f(b[k]) : 0;
    const g = Math.floor(k / Kg);
    for (let c = 0; c < Cg; c++) for (let r = 0; r < R; r++) for (let s = 0; s < S; s++) {
      const ih = oh * sh - pt + r * dh, iw = ow * sw - pl + s * dw, wv = f(w[((k * Cg + c) * R + r) * S + s]);
      acc += (ih < 0 || ih >= H || iw < 0 || iw >= W) ? 0 * wv : f(x[((n * C + g * Cg + c) * H + ih) * W + iw]) * wv;
    }
    y[((n * K + k) * OH + oh) * OW + ow] = relu && acc < 0 ? 0 : acc;
  }
  return y;
}
const out = (H, pt, pb, d, k, s) => Math.floor((H + pt + pb - d * (k - 1) - 1) / s) + 1;
// In the addon's field order (native/interface.mjs via src/backends/types.ts): a new field cannot shift it.
const FIELDS = ${JSON.stringify(PARAM_FIELDS)};
function problem(N, C, H, W, K, R, S, G, s, d, pad, relu) {
  const f = { N, C, H, W, K, R, S, groups: G, strideH: s, strideW: s, dilationH: d, dilationW: d, padTop: pad, padBottom: pad,
    padLeft: pad, padRight: pad, OH: out(H, pad, pad, d, R, s), OW: out(W, pad, pad, d, S, s), relu: relu ? 1 : 0 };
  return FIELDS.map((name) => f[name] ?? 0);
}
const PROBLEMS = [
  problem(2, 8, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1),    // winograd 3x3
  problem(1, 6, 10, 10, 12, 3, 3, 6, 1, 1, 1, 0),  // depthwise, channel multiplier 2
  problem(1, 5, 17, 15, 7, 5, 5, 1, 2, 1, 2, 0),   // strided
  problem(1, 4, 12, 12, 3, 3, 3, 1, 1, 2, 2, 1),   // dilated
  problem(1, 3, 20, 19, 4, 7, 7, 1, 1, 1, 3, 0),   // large kernel: fft
  problem(1, 4, 1, 90, 4, 1, 33, 1, 1, 1, 0, 0),   // 1-D long kernel: fft
  problem(2, 3, 1, 40, 5, 1, 3, 1, 1, 1, 1, 0),    // 1-D 3-tap: winograd
  problem(1, 70, 6, 6, 70, 1, 1, 1, 1, 1, 0, 0),   // 1x1, GEMM blocking edges
];
const failures = [], ran = {};
for (const threads of [1, 2]) {
  addon.setNumThreads(threads);
  for (const [pi, p0] of PROBLEMS.entries()) for (const special of [false, true]) {
    const p = Int32Array.from(p0);
    const [N, C, H, W, K, R, S, G, , , , , , , , , OH, OW] = p0;
    const x = Float32Array.from({ length: N * C * H * W }, rnd);
    const w = Float32Array.from({ length: K * (C / G) * R * S }, rnd);
    const b = Float32Array.from({ length: K }, rnd);
    if (special) { x[3] = NaN; x[x.length - 2] = Infinity; x[5] = -Infinity; }
    const want = reference(p0, x, w, b, false), scale = reference(p0, x, w, b, true);
    let top = 0; for (const v of scale) if (Number.isFinite(v)) top = Math.max(top, v);
    for (let algo = 0; algo < 4; algo++) {
      if (!info.algorithms.includes(NAMES[algo]) || addon.supports(p, algo) !== null) continue;
      const y = new Float32Array(N * K * OH * OW);
      if ((pi + algo) % 2) await addon.conv2dAsync(p, algo, x, w, b, y); else addon.conv2d(p, algo, x, w, b, y);
      ran[NAMES[algo]] = (ran[NAMES[algo]] ?? 0) + 1;
      const tol = algo >= 2 ? 1e-4 : 1e-5, normwise = algo === 3 ? 1e-6 * top : 0;
      for (let i = 0; i < y.length; i++) {
        const g = y[i], v = want[i];
        const ok = Number.isNaN(v) ? Number.isNaN(g) : !Number.isFinite(v) ? g === v : Math.abs(g - v) <= tol * scale[i] + normwise + 1e-30;
        if (!ok) { failures.push(NAMES[algo] + ' problem ' + pi + (special ? ' (NaN/Inf)' : '') + ' threads ' + threads + ': [' + i + '] got ' + g + ' want ' + v); break; }
      }
    }
  }
}
// Grad-weight (and grad-bias): the GEMM form on every problem, the Winograd form where it applies.
function gradWeightReference(p, x, gy, abs) {
  const [N, C, H, W, K, R, S, G, sh, sw, dh, dw, pt, , pl, , OH, OW] = p;
  const Cg = C / G, Kg = K / G, f = abs ? Math.abs : (v) => v;
  const gw = new Float64Array(K * Cg * R * S);
  for (let k = 0; k < K; k++) for (let c = 0; c < Cg; c++) for (let r = 0; r < R; r++) for (let s = 0; s < S; s++) {
    let acc = 0;
    const ci = Math.floor(k / Kg) * Cg + c;
    for (let n = 0; n < N; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      const ih = oh * sh - pt + r * dh, iw = ow * sw - pl + s * dw;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) acc += f(gy[((n * K + k) * OH + oh) * OW + ow]) * f(x[((n * C + ci) * H + ih) * W + iw]);
    }
    gw[((k * Cg + c) * R + r) * S + s] = acc;
  }
  return gw;
}
for (const [pi, p0] of PROBLEMS.entries()) {
  const p = Int32Array.from(p0);
  const [N, C, H, W, K, R, S, G, , , , , , , , , OH, OW] = p0;
  const x = Float32Array.from({ length: N * C * H * W }, rnd);
  const gy = Float32Array.from({ length: N * K * OH * OW }, rnd);
  const want = gradWeightReference(p0, x, gy, false), scale = gradWeightReference(p0, x, gy, true);
  for (const code of [1, 2]) {
    const gw = new Float32Array(want.length), gb = new Float32Array(K);
    try { addon.gradWeight(p, x, gy, gw, gb, code); } catch (e) {
      if (code === 1) failures.push('gradWeight problem ' + pi + ': ' + e.message);
      continue;
    }
    ran['gradWeight/' + code] = true;
    // Winograd mixes the taps of a 3x3, so its error is relative to the largest S there (normwise).
    const tol = code === 2 ? 1e-4 : 1e-5, normwise = code === 2 ? 1e-4 * Math.max(...scale) : 0;
    for (let i = 0; i < gw.length; i++) {
      if (!(Math.abs(gw[i] - want[i]) <= tol * scale[i] + normwise + 1e-30)) {
        failures.push('gradWeight/' + code + ' problem ' + pi + ': [' + i + '] got ' + gw[i] + ' want ' + want[i]); break;
      }
    }
  }
}
console.log(JSON.stringify({ isa: info.isa, algorithms: info.algorithms, ran, failures: failures.slice(0, 10) }));
`;
