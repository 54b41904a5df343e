// Property-based hostile inputs (issue #16): fast-check draws calls of every public operation — conv1d/conv2d
// (+Async), explain, outputShape, conv1dBackward/conv2dBackward (+Async), convTranspose1d/2d (+Async),
// maxPool2d/avgPool2d and their backward (+Async), the Conv1d/Conv2d layers — on every backend (native,
// wasm-relaxed, wasm-simd, wasm-scalar, js) and every forced algorithm, with hostile option values, options
// containers, tensor objects and shapes, buffers, and extreme sizes (test/fuzz/hostile-*.ts). Each case runs
// in a child process that imports dist/ (test/fuzz/hostile-runner.ts), where it may crash or hang without
// taking this runner down. A case passes when the call
//   - threw a TypeError or RangeError whose message names an argument (the mutated one, for invalid calls),
//     where the call is invalid, or valid but extreme (RangeError), or presented in a way that may be refused;
//   - or returned the float64 reference's answer (tolerances of test/tester.ts), for calls that mean one;
//   - and in either case modified none of its inputs (data, shapes, option arrays, the options object), read
//     each switching getter once, stayed under the RSS limit and the time limit, left no stray rejection, and
//     left its backend working (a canary convolution right after it).
// `npm test` runs a fixed-seed batch of each property; `npm run fuzz -- --minutes N` (test/fuzz/run.mjs)
// runs fresh batches until N minutes have passed. On failure: the seed, the shrunk case (as JSON), and a
// table of every failure class in the batch with its smallest case. Replay:
//   FASTCONV_FUZZ_SEED=<seed> npx vitest run --config test/vitest.config.ts test/hostile.property.test.ts
//   FASTCONV_HOSTILE_CASE='<case JSON>' npx vitest run --config test/vitest.config.ts test/hostile.property.test.ts

import fs from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROPERTIES, plainCases } from './fuzz/hostile-arbitraries.js';
import { checkBuild, DEFAULT_LIMITS, HostilePool, prepareChild } from './fuzz/hostile-runner.js';
import type { HostileCase, Outcome } from './fuzz/hostile-types.js';
import { ALGOS, familyOf, OPS, takesBackend } from './fuzz/hostile-types.js';
import { expectNative } from './paths.js';

const env = process.env;
const SEED = env.FASTCONV_FUZZ_SEED ? Number(env.FASTCONV_FUZZ_SEED) : 20261204;
const MINUTES = env.FASTCONV_FUZZ_MINUTES ? Number(env.FASTCONV_FUZZ_MINUTES) : 0;
/** Cases per property and batch (npm test runs one batch of each); plain calls: every combination once. */
const CASES: Record<keyof typeof PROPERTIES, number> = {
  plain: plainCases(SEED).length,
  options: 1200,
  objects: 1200,
  buffers: 1200,
  sizes: 200,
};
// FASTCONV_HOSTILE_CASES=n: n cases per property instead (quick local runs, or a deeper fixed-seed one).
if (Number(env.FASTCONV_HOSTILE_CASES) > 0)
  for (const k of Object.keys(CASES) as (keyof typeof CASES)[]) CASES[k] = Number(env.FASTCONV_HOSTILE_CASES);
/** After the first failure of a batch, shrinking may take this long (each step is a case in the child). */
const SHRINK_MS = 20_000;
/**
 * A batch that runs longer stops: only failing cases are slow (calls over the time limit, hangs), so a
 * batch that hits this has failed already, and the rest would only add minutes.
 */
const BATCH_MS: Record<keyof typeof PROPERTIES, number> = {
  plain: 20_000,
  options: 30_000,
  objects: 30_000,
  buffers: 30_000,
  sizes: 45_000,
};
// FASTCONV_HOSTILE_BATCH_MS=ms: one budget for every batch (a survey of every failure class while some are slow).
if (Number(env.FASTCONV_HOSTILE_BATCH_MS) > 0)
  for (const k of Object.keys(BATCH_MS) as (keyof typeof BATCH_MS)[]) BATCH_MS[k] = Number(env.FASTCONV_HOSTILE_BATCH_MS);
/** Failures whose every shrinking step would cost seconds (a fresh child, a time limit): reported unshrunk. */
const EXPENSIVE = new Set(['hang', 'slow', 'crash', 'oom-abort', 'rss']);

let pool: HostilePool;
let tmp = '';
/** Every case that ran (not skipped), for the coverage test. */
const ran: HostileCase[] = [];

beforeAll(() => {
  // npm test builds dist/ first; a run by hand may find it older than src/ (in a shared tree, src/ moves).
  const stale = checkBuild();
  if (stale) console.warn(`WARNING: the hostile child tests the build in dist/, and ${stale}`);
  const child = prepareChild();
  tmp = child.dir;
  const caseMs = Number(env.FASTCONV_HOSTILE_CASE_MS) || DEFAULT_LIMITS.caseMs;
  pool = new HostilePool(child.script, { ...DEFAULT_LIMITS, caseMs });
});

afterAll(() => {
  pool?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const key = (c: HostileCase) => JSON.stringify(c);

/** A failure class: what went wrong, in which operation family, under which kind of mutation. */
function classOf(c: HostileCase, o: Outcome): string {
  const muts = c.mutations.map((m) =>
    m.m === 'option'
      ? `option ${m.key}:${m.value.kind}`
      : m.m === 'container'
        ? `options ${m.form}`
        : m.m === 'midcall'
          ? `${m.slot} ${m.action} ${m.when}`
          : `${m.slot}.${m.m} ${m.form.kind}`
  );
  const what = [...muts, ...(c.geom.template ? [`template ${c.geom.template}`] : [])].join(' + ') || 'plain call';
  return `${o.what} | ${familyOf(c.op)} | ${what}`;
}

function summarize(name: string, seed: number, cases: HostileCase[], outcomes: Outcome[]): string {
  const byClass = new Map<string, { n: number; smallest: HostileCase; outcome: Outcome }>();
  let failed = 0,
    skipped = 0,
    threw = 0,
    results = 0,
    ms = 0;
  const skips = new Map<string, number>();
  outcomes.forEach((o, i) => {
    const c = cases[i];
    ms += o.ms;
    if (o.status === 'skip') {
      skipped++;
      skips.set(o.detail, (skips.get(o.detail) ?? 0) + 1);
      return;
    }
    if (o.status === 'pass') {
      if (o.what === 'result') results++;
      else threw++;
      return;
    }
    failed++;
    const k = classOf(c, o);
    const e = byClass.get(k);
    if (!e) byClass.set(k, { n: 1, smallest: c, outcome: o });
    else {
      e.n++;
      if (key(c).length < key(e.smallest).length) {
        e.smallest = c;
        e.outcome = o;
      }
    }
  });
  const unrun = cases.length - outcomes.length;
  const lines = [
    `hostile ${name} (seed ${seed}): ${cases.length} cases, ${results} results and ${threw} clean errors passed, ${failed} failed, ${skipped} skipped` +
      `${[...skips].map(([d, n]) => ` (${n}: ${d})`).join('')}; ${(ms / 1000).toFixed(1)} s in the child` +
      (unrun ? `; ${unrun} not run: the batch passed its ${BATCH_MS[name as keyof typeof BATCH_MS] / 1000} s budget` : ''),
  ];
  for (const [k, e] of [...byClass].sort((a, b) => b[1].n - a[1].n)) {
    lines.push(`  ${e.n} x ${k}\n    e.g. ${e.outcome.detail.split('\n')[0].slice(0, 300)}\n    case ${key(e.smallest)}`);
  }
  return lines.join('\n');
}

/** One batch of a property: run every case (for the summary), then fast-check over the same seed, which shrinks a failure. */
async function batch(name: keyof typeof PROPERTIES, seed: number): Promise<{ summary: string; failed: boolean; cases: number }> {
  const arb = PROPERTIES[name];
  const numRuns = CASES[name];
  const cases = name === 'plain' ? plainCases(seed) : fc.sample(arb, { seed, numRuns });
  const results = new Map<string, Outcome>();
  const outcomes: Outcome[] = [];
  const t0 = Date.now();
  for (const c of cases) {
    if (Date.now() - t0 > BATCH_MS[name]) break;
    const o = await pool.run(c);
    results.set(key(c), o);
    outcomes.push(o);
    if (o.status !== 'skip') ran.push(c);
  }
  // FASTCONV_HOSTILE_DUMP=file: every case and its outcome as JSON lines (surveys, timing).
  if (env.FASTCONV_HOSTILE_DUMP)
    fs.appendFileSync(
      env.FASTCONV_HOSTILE_DUMP,
      outcomes.map((o, i) => `${JSON.stringify({ property: name, seed, c: cases[i], o })}\n`).join('')
    );
  const summary = summarize(name, seed, cases, outcomes);
  const replay = `replay: FASTCONV_FUZZ_SEED=${seed} npx vitest run --config test/vitest.config.ts test/hostile.property.test.ts`;
  if (outcomes.length < cases.length) throw new Error(`${summary}\n${replay}`);
  if (!outcomes.some((o) => o.status === 'fail')) return { summary, failed: false, cases: cases.length };
  // Plain calls are enumerated, not drawn: nothing for fast-check to shrink; the summary has each class's smallest.
  if (name === 'plain') throw new Error(`${summary}\n${replay}`);
  let firstFailure = 0,
    noShrink = false;
  try {
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        let o = results.get(key(c));
        if (!o) {
          // Past the shrink budget a new candidate counts as passing: fast-check then keeps the smallest
          // failing case it has, instead of running children for minutes.
          if (noShrink || (firstFailure && Date.now() - firstFailure > SHRINK_MS)) return true;
          o = await pool.run(c);
          results.set(key(c), o);
        }
        if (o.status === 'fail') {
          firstFailure ||= Date.now();
          noShrink ||= EXPENSIVE.has(o.what);
          throw new Error(`${o.what}: ${o.detail}`);
        }
        return true;
      }),
      { seed, numRuns }
    );
  } catch (e) {
    throw new Error(`${summary}\n\n${(e as Error).message}\n${replay}`);
  }
  // fast-check drew the same cases as the batch; a failure it did not see means the two disagree.
  throw new Error(`${summary}\n(fast-check did not reproduce the batch's failure: its runs differ from fc.sample's)`);
}

async function property(name: keyof typeof PROPERTIES) {
  const deadline = Date.now() + MINUTES * 60_000;
  let seed = SEED,
    total = 0;
  do {
    const r = await batch(name, seed);
    total += r.cases;
    console.log(r.summary);
    seed = (seed * 1103515245 + 12345) >>> 0;
  } while (Date.now() < deadline);
  if (MINUTES > 0) console.log(`hostile ${name}: ${total} cases passed (first seed ${SEED})`);
}

/** A property's vitest timeout: its batches, the shrinking after a failure, and slack for one hang. */
const timeout = (name: keyof typeof PROPERTIES) => MINUTES * 60_000 + BATCH_MS[name] + SHRINK_MS + 120_000;

describe.runIf(!env.FASTCONV_HOSTILE_CASE)('hostile properties (every op x backend x algorithm, in a child process)', () => {
  it(
    `plain calls: every op on every backend with every algorithm agrees with the oracle (${CASES.plain} cases, seed ${SEED})`,
    () => property('plain'),
    timeout('plain')
  );
  it(
    `option values: holes, NaN, ±Infinity, non-integers, 2^31, 2^53, strings, wrong lengths, getters (${CASES.options} cases)`,
    () => property('options'),
    timeout('options')
  );
  it(
    `options containers, tensor objects and shapes: arrays, class instances, proxies, switching getters (${CASES.objects} cases)`,
    () => property('objects'),
    timeout('objects')
  );
  it(
    `buffers: shared, growable, resizable, detached, subclassed, lying; shrunk or detached during the call (${CASES.buffers} cases)`,
    () => property('buffers'),
    timeout('buffers')
  );
  it(
    `sizes: empty batches, paddings of 2^24 ± 1, strides of 1e8 and 2^30, dilation 1.1e9, outputs past 2^31 (${CASES.sizes} cases)`,
    () => property('sizes'),
    timeout('sizes')
  );

  it('the oracle itself: a result changed by one value fails every case whose real result passed', async () => {
    const cases = fc.sample(PROPERTIES.plain, { seed: SEED ^ 0x5eed, numRuns: 60 });
    let checked = 0;
    const missed: string[] = [];
    for (const c of cases) {
      const real = await pool.run(c);
      if (real.status !== 'pass' || real.what !== 'result') continue;
      const o = await pool.run(c, true);
      if (o.status === 'skip') continue;
      checked++;
      if (o.what !== 'wrong-result') missed.push(`${o.status} ${o.what}: ${key(c)}`);
    }
    expect(missed).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(40);
  }, 120_000);

  it('covered every operation on every backend, and every forced algorithm of each family', () => {
    const a = pool.available;
    const backends = ['native', 'wasm-relaxed', 'wasm-simd', 'wasm-scalar', 'js'].filter(
      (b) =>
        a[{ native: 'native', 'wasm-relaxed': 'wasmRelaxed', 'wasm-simd': 'wasmSimd', 'wasm-scalar': 'wasmScalar', js: 'js' }[b]!]
    );
    if (expectNative) expect(backends).toContain('native');
    expect(backends).toEqual(expect.arrayContaining(['wasm-simd', 'wasm-scalar', 'js']));
    const seen = new Set(ran.map((c) => `${c.op}/${takesBackend(familyOf(c.op)) ? c.backend : '-'}`));
    const algos = new Set(ran.map((c) => `${familyOf(c.op)}/${c.algorithm}`));
    const missing: string[] = [];
    for (const op of OPS) {
      if (!takesBackend(familyOf(op))) {
        if (!seen.has(`${op}/-`)) missing.push(op);
        continue;
      }
      for (const b of backends) if (!seen.has(`${op}/${b}`)) missing.push(`${op} on ${b}`);
      for (const al of ALGOS) if (!algos.has(`${familyOf(op)}/${al}`)) missing.push(`${familyOf(op)} with algorithm ${al}`);
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});

/** FASTCONV_HOSTILE_CASE: one case as JSON, or @file: JSON lines of cases (or FASTCONV_HOSTILE_DUMP lines). */
function replayCases(): HostileCase[] {
  const v = env.FASTCONV_HOSTILE_CASE!;
  const lines = v.startsWith('@')
    ? fs
        .readFileSync(v.slice(1), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
    : [v];
  return lines.map((l) => {
    const j = JSON.parse(l);
    return (j.c ?? j) as HostileCase;
  });
}

describe.runIf(!!env.FASTCONV_HOSTILE_CASE)('replayed hostile cases (FASTCONV_HOSTILE_CASE)', () => {
  it('pass', async () => {
    const cases = replayCases();
    const outcomes: Outcome[] = [];
    for (const c of cases) outcomes.push(await pool.run(c));
    if (cases.length === 1) console.log(JSON.stringify(outcomes[0], null, 2));
    const summary = summarize('replay', SEED, cases, outcomes);
    console.log(summary);
    expect(outcomes.filter((o) => o.status === 'fail').length, summary).toBe(0);
  }, 3_600_000);
});
