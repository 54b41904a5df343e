// The NEON path (native/kernels/*_neon.cc) on an x86 machine: every native source but the N-API layer
// is cross-compiled for AArch64 with test/neon/harness.cc, which runs jobs under qemu-aarch64. Each
// algorithm x ISA path (NEON, and the scalar one as an arm64 build runs it), 1 and 2 threads, on random
// shapes and the golden cases, plus the grad-weight kernels, is checked here against the same float64
// references and tolerances as every other path. Needs Debian's g++-aarch64-linux-gnu and qemu-user
// (.ci/run installs them); without them the suite says so and skips.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { ConvParams } from '../src/backends/types.js';
import { ALGORITHM_CODE, ALGORITHMS, GRAD_WEIGHT_ALGORITHM_CODE, PARAM_FIELDS } from '../src/backends/types.js';
import { convGradBiasReference, convGradWeightReference } from '../src/reference/backward.js';
import { normalizeConv } from '../src/shape.js';
import { loadGolden } from './golden.js';
import { noNativeReason } from './paths.js';
import { Rng } from './random.js';
import type { ConvProblem, ShapeSpace } from './tester.js';
import {
  compare,
  DEPTHWISE_FAMILIES,
  depthwiseProblem,
  describeParams,
  NORMWISE_TOLERANCE,
  planeSlack,
  randomProblem,
  TOLERANCE,
} from './tester.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'build', 'neon-qemu');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const CXX = 'aarch64-linux-gnu-g++',
  QEMU = 'qemu-aarch64';
const skip = !has(CXX)
  ? `${CXX} is not installed (apt-get install -y g++-aarch64-linux-gnu)`
  : !has(QEMU)
    ? `${QEMU} is not installed (apt-get install -y qemu-user)`
    : process.env.FASTCONV_ASAN
      ? 'sanitizer run (this suite builds its own binary)'
      : // The harness never loads the addon, so a run without it would only repeat the normal leg.
        noNativeReason;
if (skip) console.warn(`neon.qemu.test.ts: skipped, ${skip}`);

const ISA = { scalar: 0, neon: 1 } as const;
type IsaName = keyof typeof ISA;

interface Job {
  kind: 'forward' | 'gradWeight';
  isa: IsaName;
  threads: number;
  algo: number;
  prob: ConvProblem;
  gradOut?: Float32Array;
  label: string;
}

type JobResult = { ok: true; data: Float32Array } | { ok: false; error: string };

/** Cross-compiles the harness with every native source but addon.cc (statically: qemu needs no sysroot). */
function build(): string {
  const sources = createRequire(import.meta.url)('../native/sources.cjs') as { list: (isa: string) => string[] };
  const files = [...sources.list('main'), ...sources.list('neon')].filter((f) => !f.endsWith('addon.cc'));
  mkdirSync(outDir, { recursive: true });
  const exe = path.join(outDir, 'harness');
  const r = spawnSync(
    CXX,
    [
      '-std=c++17',
      '-O2',
      '-fno-math-errno',
      '-Wall',
      '-Inative',
      '-static',
      '-pthread',
      ...files,
      'test/neon/harness.cc',
      '-o',
      exe,
    ],
    { cwd: root, encoding: 'utf8' }
  );
  if (r.status !== 0) throw new Error(`${CXX} failed:\n${r.stderr}`);
  return exe;
}

function encode(jobs: Job[]): Buffer {
  const parts: Buffer[] = [];
  const i32 = (v: number[]) => Buffer.from(Int32Array.from(v).buffer);
  const f32 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  parts.push(i32([jobs.length]));
  for (const j of jobs) {
    const p = j.prob.p;
    parts.push(
      i32([
        j.kind === 'forward' ? 0 : 1,
        ISA[j.isa],
        j.threads,
        j.algo,
        ...PARAM_FIELDS.map((f) => Number(p[f])),
        j.prob.bias ? 1 : 0,
      ])
    );
    parts.push(f32(j.prob.input));
    if (j.kind === 'forward') {
      parts.push(f32(j.prob.weight));
      if (j.prob.bias) parts.push(f32(j.prob.bias));
    } else {
      parts.push(f32(j.gradOut!));
    }
  }
  return Buffer.concat(parts);
}

function decode(buf: Buffer, jobs: Job[]): JobResult[] {
  const out: JobResult[] = [];
  let at = 0;
  for (const j of jobs) {
    if (at >= buf.length) break;
    const status = buf.readInt32LE(at);
    at += 4;
    if (status === 0) {
      const p = j.prob.p;
      const n = j.kind === 'forward' ? p.N * p.K * p.OH * p.OW : p.K * (p.C / p.groups) * p.R * p.S + p.K;
      out.push({ ok: true, data: new Float32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + 4 * n)) });
      at += 4 * n;
    } else {
      const len = buf.readInt32LE(at);
      at += 4;
      out.push({ ok: false, error: buf.toString('utf8', at, at + len) });
      at += len;
    }
  }
  return out;
}

interface Run {
  report: Record<string, string | number>;
  results: JobResult[];
}

function run(exe: string, jobs: Job[], name: string): Run {
  const jobFile = path.join(outDir, `${name}.jobs`),
    resultFile = path.join(outDir, `${name}.out`);
  writeFileSync(jobFile, encode(jobs));
  const r = spawnSync(QEMU, [exe, jobFile, resultFile], { encoding: 'utf8', timeout: 600_000 });
  expect(r.signal, `harness killed by ${r.signal}\n${r.stderr}`).toBeNull();
  expect(r.status, `harness exited ${r.status}\n${r.stdout}\n${r.stderr}`).toBe(0);
  const results = decode(readFileSync(resultFile), jobs);
  expect(results.length, 'one result per job').toBe(jobs.length);
  return { report: JSON.parse(r.stdout.trim().split('\n').pop()!), results };
}

/** Small random problems (qemu runs ~100x slower than the host): the tester's shape space, capped in FLOPs. */
function problems(seed: number, count: number, space: ShapeSpace, maxFlops: number): ConvProblem[] {
  const rng = new Rng(seed),
    out: ConvProblem[] = [];
  while (out.length < count) {
    const prob = randomProblem(rng, space);
    const p = prob.p;
    if (2 * p.N * p.K * p.OH * p.OW * (p.C / p.groups) * p.R * p.S <= maxFlops) out.push(prob);
  }
  return out;
}

function forwardJobs(probs: ConvProblem[], isas: IsaName[], tag: string): Job[] {
  const jobs: Job[] = [];
  probs.forEach((prob, i) => {
    for (const isa of isas) {
      for (const a of ALGORITHMS) {
        jobs.push({
          kind: 'forward',
          isa,
          threads: 1 + (i % 2),
          algo: ALGORITHM_CODE[a],
          prob,
          label: `${tag} ${prob.tag} ${isa}/${a}`,
        });
      }
    }
  });
  return jobs;
}

/** Checks forward results; returns how many ran per ISA/algorithm. */
function checkForward(jobs: Job[], results: JobResult[]): Record<string, number> {
  const ran: Record<string, number> = {};
  const failures: string[] = [];
  jobs.forEach((j, i) => {
    const r = results[i];
    if (!r.ok) {
      // Only "does not apply" refusals are expected (an algorithm that cannot run this shape).
      if (!/needs|cannot|only|apply|requires/i.test(r.error)) failures.push(`${j.label}: ${r.error}`);
      return;
    }
    const algo = ALGORITHMS[j.algo];
    const { p, input, weight, bias } = j.prob;
    const want = convReference(p, input, weight, bias),
      S = convReference(p, input, weight, bias, true);
    const c = compare(r.data, want, S, TOLERANCE[algo], planeSlack(S, p.OH * p.OW, NORMWISE_TOLERANCE[algo]));
    if (!c.ok) {
      const m = c.mismatches
        .slice(0, 3)
        .map((x) => `[${x.index}] got ${x.got} want ${x.want} S=${x.scale}`)
        .join('; ');
      failures.push(`${j.label} ${describeParams(p)}: ${c.mismatches.length}/${c.checked} outside ${TOLERANCE[algo]}*S: ${m}`);
    }
    ran[`${j.isa}/${algo}`] = (ran[`${j.isa}/${algo}`] ?? 0) + 1;
  });
  expect(failures).toEqual([]);
  return ran;
}

describe.skipIf(skip !== '')(`NEON kernels under qemu-aarch64${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let exe = '';
  beforeAll(() => {
    exe = build();
  }, 300_000);

  it('random shapes: every algorithm on the NEON and scalar paths, 1 and 2 threads', () => {
    const probs = [
      ...problems(41000, 40, {}, 4e6),
      ...problems(42000, 16, { kernel: '3x3s1' }, 4e6),
      ...problems(43000, 12, { kernel: 'stride1' }, 8e6),
      ...problems(44000, 4, { large: true }, 6e7), // several k-blocks and row blocks of the GEMM
    ];
    const jobs = forwardJobs(probs, ['neon', 'scalar'], 'random');
    const { report, results } = run(exe, jobs, 'random');
    // The arm64 build picks NEON by itself and has a kernel of its own in every family.
    expect(report).toMatchObject({
      best: 'neon',
      gemm: 'gemm_neon_8x12',
      depthwise: 'depthwise_neon',
      fft: 'fft_tile_neon',
      fma: 'fma_peak_neon',
    });
    expect(report.fmaGflops).toBeGreaterThan(0);
    const ran = checkForward(jobs, results);
    for (const isa of ['neon', 'scalar']) {
      for (const a of ALGORITHMS) expect(ran[`${isa}/${a}`] ?? 0, `${isa}/${a} ran`).toBeGreaterThanOrEqual(10);
    }
  }, 600_000);

  it('depthwise family: every code path of the direct kernel on NEON and scalar, 1 and 2 threads', () => {
    const jobs: Job[] = [];
    DEPTHWISE_FAMILIES.forEach((family, fi) => {
      for (let i = 0; i < 15; i++) {
        const prob = depthwiseProblem(new Rng(46000 + 100 * fi + i), family);
        for (const isa of ['neon', 'scalar'] as const) {
          jobs.push({
            kind: 'forward',
            isa,
            threads: 1 + (i % 2),
            algo: ALGORITHM_CODE.direct,
            prob,
            label: `depthwise ${prob.tag} ${isa}`,
          });
        }
      }
    });
    const { results } = run(exe, jobs, 'depthwise');
    const ran = checkForward(jobs, results);
    expect(ran).toEqual({ 'neon/direct': 60, 'scalar/direct': 60 });
  }, 600_000);

  it('golden cases (PyTorch), NaN/Inf included: every applicable algorithm on NEON', () => {
    const cases = loadGolden().filter((c) => c.op === 'conv1d' || c.op === 'conv2d');
    expect(cases.length).toBeGreaterThan(50);
    const probs: ConvProblem[] = cases.map((g) => {
      const n = normalizeConv(g.dims, g.input, g.weight, { ...g.options, bias: g.bias });
      return { p: n.params, input: g.input.data, weight: g.weight.data, bias: n.bias, tag: g.name };
    });
    const jobs = forwardJobs(probs, ['neon'], 'golden');
    const { results } = run(exe, jobs, 'golden');
    const ran = checkForward(jobs, results);
    // The float64 reference is checked against the vectors themselves in golden.test.ts; here the
    // outputs must also sit on PyTorch's NaN/Inf positions, which compare() enforces.
    for (const a of ALGORITHMS) expect(ran[`neon/${a}`] ?? 0, `neon/${a} ran`).toBeGreaterThan(0);
  }, 600_000);

  it('grad-weight kernels (GEMM, Winograd) and grad-bias on NEON', () => {
    const rng = new Rng(45000);
    const jobs: Job[] = [];
    const add = (probs: ConvProblem[], algo: 'gemm' | 'winograd') =>
      probs.forEach((prob, i) => {
        const p: ConvParams = prob.p;
        jobs.push({
          kind: 'gradWeight',
          isa: 'neon',
          threads: 1 + (i % 2),
          algo: GRAD_WEIGHT_ALGORITHM_CODE[algo],
          prob,
          gradOut: rng.floats(p.N * p.K * p.OH * p.OW),
          label: `gradWeight ${prob.tag} ${algo}`,
        });
      });
    add(problems(46000, 30, {}, 4e6), 'gemm');
    add(problems(47000, 16, { kernel: '3x3s1', oneD: false }, 4e6), 'winograd');
    const { results } = run(exe, jobs, 'grad');
    let winograd = 0;
    jobs.forEach((j, i) => {
      const r = results[i];
      expect(r.ok, `${j.label}: ${r.ok ? '' : r.error}`).toBe(true);
      if (!r.ok) return;
      const { p, input } = j.prob;
      const nw = r.data.length - p.K;
      const want = convGradWeightReference(p, input, j.gradOut!),
        S = convGradWeightReference(p, input, j.gradOut!, true);
      const isWinograd = j.algo === GRAD_WEIGHT_ALGORITHM_CODE.winograd;
      // Winograd's error is normwise over each 3x3 (see grad-weight.native.test.ts).
      const c = isWinograd
        ? compare(r.data.subarray(0, nw), want, S, TOLERANCE.winograd, planeSlack(S, p.R * p.S, TOLERANCE.winograd))
        : compare(r.data.subarray(0, nw), want, S, TOLERANCE.im2col);
      expect(c.ok, `${j.label} ${describeParams(p)}: ${JSON.stringify(c.mismatches.slice(0, 3))}`).toBe(true);
      const cb = compare(
        r.data.subarray(nw),
        convGradBiasReference(p, j.gradOut!),
        convGradBiasReference(p, j.gradOut!, true),
        TOLERANCE.im2col
      );
      expect(cb.ok, `${j.label} bias`).toBe(true);
      if (isWinograd) winograd++;
    });
    expect(winograd).toBeGreaterThanOrEqual(8);
  }, 600_000);
});
