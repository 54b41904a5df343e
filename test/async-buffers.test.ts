// Issue #16, class 1: an async call whose typed arrays are resized (resizable ArrayBuffer), detached or
// transferred (structuredClone / postMessage with a transfer list, ArrayBuffer.prototype.transfer where
// Node has it) while it runs. The native addon used to memcpy the result into a shrunk `out` (SIGSEGV
// after resize(0), a write past the end after a partial shrink); the wasm threaded path read its inputs
// and wrote `out` after awaits without looking; NHWC wrote the transposed result into a shrunk `out`,
// and typed-array writes past the end are dropped without a word.
//
// The rule (src/async-args.ts, native/addon.cc): an argument is intact while its view has exactly the
// element count it was validated with. So a length-tracking view (no length given) must not see its
// buffer resized at all, a fixed-length view may see its buffer grow or shrink as long as it stays in
// bounds, and a detached buffer is always an error: TypeError when detached, RangeError when resized,
// the message naming the argument. Nothing may be written past a buffer's end; inputs are never written.
//
// Every case runs in a child process (the compiled dist/, as a user runs it), so that a crash fails the
// test with the cases reported so far instead of killing the runner. Each child prints one JSON line per
// case; the checks of memory (guards, the bytes a shrink cut off: V8 zeroes them at the shrink, so a
// later write there is still visible after growing the buffer back) run in the child, the verdicts here.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packParams } from '../src/backends/types.js';
import { wasmSimdSupported } from '../src/backends/wasm.js';
import { expectNative, nativeOnly } from './paths.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface CaseLine {
  case: string;
  arg: string;
  expect: 'ok' | 'TypeError' | 'RangeError';
  got: string;
  message: string;
  problems: string[];
}

interface ChildReport {
  cases: CaseLine[];
  info: Record<string, unknown>[];
  stdout: string;
  stderr: string;
}

function runChild(backend: string, group: string): ChildReport {
  // The child imports dist/: it must be built from the current sources (npm test's pretest runs tsc).
  expect(existsSync(path.join(root, 'dist', 'src', 'async-args.js')), 'dist/ is stale or missing: run npm run build:ts').toBe(
    true
  );
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, root, backend, group], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  const lines = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{'));
  const parsed = lines.map((l) => JSON.parse(l) as { case?: string; info?: Record<string, unknown> });
  const cases = parsed.filter((o) => o.case !== undefined) as unknown as CaseLine[];
  const info = parsed.filter((o) => o.info !== undefined).map((o) => o.info!);
  const last = cases.length ? cases[cases.length - 1].case : '(none)';
  expect(r.signal, `child killed by ${r.signal} after case "${last}"; stderr:\n${r.stderr}`).toBeNull();
  expect(r.status, `child exit ${r.status} after case "${last}"\n${r.stderr}`).toBe(0);
  expect(r.stderr, 'the child wrote to stderr').toBe('');
  return { cases, info, stdout: r.stdout, stderr: r.stderr };
}

/** Every case came out as the rule says, with a message naming its argument, and left memory clean. */
function verdicts(cases: CaseLine[], atLeast: number, everyOutcome = true): void {
  expect(cases.length).toBeGreaterThanOrEqual(atLeast);
  const bad: string[] = [];
  for (const c of cases) {
    if (c.got !== c.expect) bad.push(`${c.case}: expected ${c.expect}, got ${c.got}: ${c.message}`);
    else if (c.expect !== 'ok') {
      const names = new RegExp(`(^|[^\\w])${c.arg}([^\\w]|$)`);
      const says = c.expect === 'TypeError' ? /detached/ : /resized/;
      if (!names.test(c.message) || !says.test(c.message))
        bad.push(`${c.case}: the message does not name ${c.arg} or say what happened: ${c.message}`);
    }
    for (const p of c.problems) bad.push(`${c.case}: ${p}`);
  }
  expect(bad.slice(0, 20), `${bad.length} of ${cases.length} cases wrong`).toEqual([]);
  // The matrix holds successes and both errors: it is not vacuous.
  if (!everyOutcome) return;
  for (const outcome of ['ok', 'RangeError', 'TypeError'])
    expect(
      cases.some((c) => c.expect === outcome),
      outcome
    ).toBe(true);
}

const BACKENDS = [
  { backend: 'native', run: expectNative, title: nativeOnly('native') },
  { backend: 'wasm-simd', run: wasmSimdSupported(), title: 'wasm-simd, 2 threads, every call split' },
];

// Cases per group and backend (arguments x layouts x view kinds x mutations), as the child builds them.
const GROUPS: [string, number, string][] = [
  ['forward', 150, 'conv2dAsync / conv1dAsync (NCHW, NHWC, NCW, NWC): input, weight, bias, out'],
  ['backward', 100, 'conv2dBackwardAsync / conv1dBackwardAsync (NCHW, NHWC, NCW): input, weight, gradOutput, bias'],
  ['transpose', 75, 'convTranspose2dAsync / convTranspose1dAsync (NCHW, NHWC, NCW): input, weight, bias'],
  ['layers', 50, 'Conv2d / Conv1d forwardAsync (input, out) and backwardAsync (gradOutput)'],
];

describe('async calls whose buffers are resized, detached or transferred mid-call', () => {
  for (const { backend, run, title } of BACKENDS) {
    for (const [group, atLeast, what] of GROUPS) {
      it.runIf(run)(`${title}: ${what}`, () => {
        const r = runChild(backend, group);
        if (backend === 'wasm-simd') {
          const setup = r.info.find((i) => 'threads' in i);
          expect(setup, 'the child reports its wasm threads').toBeDefined();
          expect(setup!.threadsOff).toBeNull();
          expect(setup!.threads).toBe(2);
        }
        verdicts(r.cases, atLeast);
      });
    }
  }

  it.runIf(expectNative)(
    nativeOnly('native addon, raw: conv2dAsync and gradWeightAsync name input, weight, bias, gradOutput, out, gradBiasOut'),
    () => {
      const r = runChild('native', 'raw');
      verdicts(r.cases, 60);
      for (const arg of ['input', 'weight', 'bias', 'out', 'gradOutput', 'gradBiasOut']) {
        expect(
          r.cases.some((c) => c.arg === arg && c.expect === 'RangeError'),
          arg
        ).toBe(true);
      }
    }
  );

  // Deterministic mid-run changes on the wasm threaded path: a worker blocks inside its slice until the
  // test has changed the buffer, so the change lands after the inputs were loaded and before `out` is
  // written (the main thread is then awaiting the pool).
  it.runIf(wasmSimdSupported())(
    'wasm-simd threads: a buffer changed while the workers run its slices rejects before out is written',
    () => {
      const r = runChild('wasm-simd', 'gated');
      verdicts(r.cases, 30);
      const gated = r.info.find((i) => 'gatedRuns' in i);
      expect(gated?.gatedRuns, 'every case held a worker inside its slice while the buffer changed').toBe(r.cases.length);
    }
  );

  // Interleavings: the change lands 1..21 event-loop turns after the call. Whatever the timing, a call
  // that had not settled when its buffer changed rejects, and one that had settled holds right values.
  for (const { backend, run, title } of BACKENDS) {
    it.runIf(run)(`${title}: a change some event-loop turns later rejects unless the call had already settled`, () => {
      const r = runChild(backend, 'later');
      verdicts(r.cases, 40, false);
    });
  }

  it('pooling *Async compute at call time: a buffer changed right after the call does not change the result', () => {
    const r = runChild('js', 'pool');
    expect(r.cases.length).toBeGreaterThanOrEqual(16);
    expect(
      r.cases
        .filter((c) => c.got !== 'ok' || c.problems.length > 0)
        .map((c) => `${c.case}: ${c.got} ${c.message} ${c.problems.join('; ')}`)
    ).toEqual([]);
  });
});

/**
 * The child: argv = repository root, backend ('native' | 'wasm-simd' | 'js'), group. Prints
 * { info } and { case, arg, expect, got, message, problems } lines.
 */
const CHILD = String.raw`
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
const [root, backend, group] = process.argv.slice(1);
const imp = (p) => import(pathToFileURL(path.join(root, 'dist', 'src', p)).href);
const fc = await imp('index.node.js');
const { dispatcher } = await imp('dispatch.js');
const info = (o) => console.log(JSON.stringify({ info: o }));
const report = (o) => console.log(JSON.stringify(o));

if (backend === 'wasm-simd' && group !== 'gated') {
  const be = dispatcher().backendFor('wasm-simd');
  be.minFlopsPerThread = 0; // every call splits across the workers
  fc.setNumThreads(2);
  await be.whenReady();
  info({ threads: be.threads, threadsOff: be.threadsOff });
}

const fill = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.37) * 0.9);
const OUT_FILL = -7.5, GUARD = 1234.5, FRONT = 4, BACK = 8;
const HAS_TRANSFER = typeof ArrayBuffer.prototype.transfer === 'function';
info({ transferMethod: HAS_TRANSFER });

// The argument under test, on a resizable buffer: a length-tracking view over all of it, or a
// fixed-length view with guard elements before and after it.
function resizable(values, view) {
  const n = values.length;
  const bytes = view === 'tracking' ? 4 * n : 4 * (FRONT + n + BACK);
  const ab = new ArrayBuffer(bytes, { maxByteLength: 4 * bytes + 4096 });
  if (view === 'fixed') new Float32Array(ab).fill(GUARD);
  const a = view === 'tracking' ? new Float32Array(ab) : new Float32Array(ab, 4 * FRONT, n);
  a.set(values);
  return { ab, a, n, bytes, view, values: Float32Array.from(values) };
}

const DETACH = ['structuredClone', 'postMessage', ...(HAS_TRANSFER ? ['transfer'] : [])];
const MUTATIONS = {
  tracking: ['none', 'shrink', 'shrink0', 'grow', ...DETACH],
  fixed: ['none', 'cut', 'grow', 'tail', 'structuredClone'],
};
function expected(view, m) {
  if (m === 'none' || (view === 'fixed' && (m === 'grow' || m === 'tail'))) return 'ok';
  return DETACH.includes(m) ? 'TypeError' : 'RangeError';
}
function mutate(h, m) {
  switch (m) {
    case 'none': return;
    case 'shrink': h.ab.resize(4 * Math.floor(h.n / 2)); return;
    case 'shrink0': h.ab.resize(0); return;
    case 'grow': h.ab.resize(2 * h.bytes + 64); return;
    case 'cut': h.ab.resize(4 * (FRONT + Math.floor(h.n / 2))); return; // the fixed view now out of bounds
    case 'tail': h.ab.resize(4 * (FRONT + h.n + 2)); return;            // shrinks, the fixed view still inside
    case 'structuredClone': structuredClone(h.ab, { transfer: [h.ab] }); return;
    case 'postMessage': { const { port1, port2 } = new MessageChannel(); port1.postMessage(h.ab, [h.ab]); port1.close(); port2.close(); return; }
    case 'transfer': h.ab.transfer(); return;
  }
  throw new Error('unknown mutation ' + m);
}

// After the call settled: no byte past the buffer's end at any moment was written, guards are intact,
// an input's elements are unchanged, and a rejected call left out unwritten.
function memoryProblems(h, isOut, outcome) {
  const problems = [];
  if (h.ab.byteLength === 0 && h.ab.maxByteLength === 0) return problems; // detached: nothing left to read
  const cur = h.ab.byteLength;
  const full = Math.max(cur, h.bytes);
  if (cur < full) h.ab.resize(full);
  const all = new Float32Array(h.ab);
  const start = h.view === 'tracking' ? 0 : FRONT;
  for (let i = 0; i < all.length; i++) {
    const inView = i >= start && i < start + h.n;
    // Cut off by a shrink, or added by a growth: zero unless something wrote past an end.
    if (4 * i >= cur || 4 * i >= h.bytes) {
      if (all[i] !== 0) { problems.push('element ' + i + ' past the buffer end (' + cur / 4 + ' elements after the change, ' + h.bytes / 4 + ' before) holds ' + all[i]); break; }
    } else if (!inView) {
      if (all[i] !== GUARD) { problems.push('guard element ' + i + ' holds ' + all[i]); break; }
    } else if (!isOut) {
      if (all[i] !== h.values[i - start]) { problems.push('input element ' + (i - start) + ' changed'); break; }
    } else if (outcome !== 'ok') {
      if (all[i] !== OUT_FILL) { problems.push('out element ' + (i - start) + ' was written by a rejected call'); break; }
    }
  }
  return problems;
}

function closeTo(got, want, what) {
  if (!got || got.length !== want.length) return [what + ': length ' + (got ? got.length : 'none') + ', want ' + want.length];
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= 1e-4 * scale)) return [what + '[' + i + '] = ' + got[i] + ', want ' + want[i]];
  }
  return [];
}

// ---- operations: the arrays they take, how to call them async, and the float64 reference (js backend) ----
const t = (data, shape) => ({ data, shape });
function convOp(dims, layout) {
  const last = layout === 'NHWC' || layout === 'NWC';
  const xs = dims === 2 ? (last ? [2, 7, 6, 3] : [2, 3, 7, 6]) : (last ? [2, 11, 3] : [2, 3, 11]);
  const ws = dims === 2 ? [4, 3, 3, 3] : [4, 3, 3];
  const outLen = dims === 2 ? 2 * 4 * 7 * 6 : 2 * 4 * 11;
  const fn = dims === 2 ? fc.conv2dAsync : fc.conv1dAsync, sync = dims === 2 ? fc.conv2d : fc.conv1d;
  const prod = (s) => s.reduce((a, b) => a * b, 1);
  return {
    name: (dims === 2 ? 'conv2dAsync ' : 'conv1dAsync ') + layout,
    args: { input: fill(prod(xs), 1), weight: fill(prod(ws), 2), bias: fill(4, 3), out: new Float32Array(outLen).fill(OUT_FILL) },
    outs: ['out'],
    run: (a) => fn(t(a.input, xs), t(a.weight, ws), { padding: 1, bias: a.bias, out: a.out, layout, backend }).then((y) => {
      const problems = y.data === a.out ? [] : ['the result is not the caller\'s out'];
      return { results: [y.data], problems };
    }),
    ref: (a) => [sync(t(a.input, xs), t(a.weight, ws), { padding: 1, bias: a.bias, layout, backend: 'js' }).data],
  };
}
function backwardOp(dims, layout) {
  const last = layout === 'NHWC';
  const xs = dims === 2 ? (last ? [2, 7, 6, 3] : [2, 3, 7, 6]) : [2, 3, 11];
  const ws = dims === 2 ? [4, 3, 3, 3] : [4, 3, 3];
  const gs = dims === 2 ? (last ? [2, 7, 6, 4] : [2, 4, 7, 6]) : [2, 4, 11];
  const fn = dims === 2 ? fc.conv2dBackwardAsync : fc.conv1dBackwardAsync, sync = dims === 2 ? fc.conv2dBackward : fc.conv1dBackward;
  const prod = (s) => s.reduce((a, b) => a * b, 1);
  const opts = (a, be) => ({ padding: 1, bias: a.bias, layout, backend: be, needs: ['input', 'weight', 'bias'] });
  const pick = (g) => [g.gradInput.data, g.gradWeight.data, g.gradBias];
  return {
    name: (dims === 2 ? 'conv2dBackwardAsync ' : 'conv1dBackwardAsync ') + layout,
    args: { input: fill(prod(xs), 4), weight: fill(prod(ws), 5), gradOutput: fill(prod(gs), 6), bias: fill(4, 7) },
    outs: [],
    run: (a) => fn(t(a.input, xs), t(a.weight, ws), t(a.gradOutput, gs), opts(a, backend)).then((g) => ({ results: pick(g), problems: [] })),
    ref: (a) => pick(sync(t(a.input, xs), t(a.weight, ws), t(a.gradOutput, gs), opts(a, 'js'))),
  };
}
function transposeOp(dims, layout) {
  const last = layout === 'NHWC';
  const xs = dims === 2 ? (last ? [2, 5, 4, 3] : [2, 3, 5, 4]) : [2, 3, 9];
  const ws = dims === 2 ? [3, 4, 3, 3] : [3, 4, 3];
  const o = dims === 2 ? { stride: 2 } : { padding: 1 }; // 2-D: one convolution per output phase; 1-D: a single one on the input itself
  const fn = dims === 2 ? fc.convTranspose2dAsync : fc.convTranspose1dAsync, sync = dims === 2 ? fc.convTranspose2d : fc.convTranspose1d;
  const prod = (s) => s.reduce((a, b) => a * b, 1);
  return {
    name: (dims === 2 ? 'convTranspose2dAsync ' : 'convTranspose1dAsync ') + layout,
    args: { input: fill(prod(xs), 8), weight: fill(prod(ws), 9), bias: fill(4, 10) },
    outs: [],
    run: (a) => fn(t(a.input, xs), t(a.weight, ws), { ...o, bias: a.bias, layout, backend }).then((y) => ({ results: [y.data], problems: [] })),
    ref: (a) => [sync(t(a.input, xs), t(a.weight, ws), { ...o, bias: a.bias, layout, backend: 'js' }).data],
  };
}
function layerOps(dims, layout) {
  const last = layout === 'NHWC' || layout === 'NWC';
  const xs = dims === 2 ? (last ? [2, 7, 6, 3] : [2, 3, 7, 6]) : (last ? [2, 11, 3] : [2, 3, 11]);
  const ys = dims === 2 ? (last ? [2, 7, 6, 4] : [2, 4, 7, 6]) : (last ? [2, 11, 4] : [2, 4, 11]);
  const prod = (s) => s.reduce((a, b) => a * b, 1);
  const make = (be) => new (dims === 2 ? fc.Conv2d : fc.Conv1d)({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, seed: 11, layout, backend: be });
  const name = (dims === 2 ? 'Conv2d ' : 'Conv1d ') + layout;
  return [{
    name: name + ' forwardAsync',
    args: { input: fill(prod(xs), 12), out: new Float32Array(prod(ys)).fill(OUT_FILL) },
    outs: ['out'],
    run: (a) => make(backend).forwardAsync(t(a.input, xs), a.out).then((y) => ({ results: [y.data], problems: y.data === a.out ? [] : ['the result is not the caller\'s out'] })),
    ref: (a) => [make('js').forward(t(a.input, xs)).data],
  }, {
    name: name + ' backwardAsync',
    args: { gradOutput: fill(prod(ys), 13) },
    outs: [],
    run: (a) => {
      const l = make(backend);
      l.forward(t(fill(prod(xs), 12), xs));
      return l.backwardAsync(t(a.gradOutput, ys)).then((g) => ({ results: [g.gradInput.data, g.gradWeight.data, g.gradBias], problems: [] }));
    },
    ref: (a) => {
      const l = make('js');
      l.forward(t(fill(prod(xs), 12), xs));
      const g = l.backward(t(a.gradOutput, ys));
      return [g.gradInput.data, g.gradWeight.data, g.gradBias];
    },
  }];
}

function opsOf(group) {
  if (group === 'forward') return [convOp(2, 'NCHW'), convOp(2, 'NHWC'), convOp(1, 'NCW'), convOp(1, 'NWC')];
  if (group === 'backward') return [backwardOp(2, 'NCHW'), backwardOp(2, 'NHWC'), backwardOp(1, 'NCW')];
  if (group === 'transpose') return [transposeOp(2, 'NCHW'), transposeOp(2, 'NHWC'), transposeOp(1, 'NCW')];
  if (group === 'layers') return [...layerOps(2, 'NCHW'), ...layerOps(2, 'NHWC'), ...layerOps(1, 'NCW')];
  throw new Error('unknown group ' + group);
}

const kind = (e) => e instanceof TypeError ? 'TypeError' : e instanceof RangeError ? 'RangeError' : 'Error ' + (e && e.constructor && e.constructor.name);

// One case: the op's arrays fresh, the argument under test on a resizable buffer, the call, then the
// change (at once, or after 'turns' event-loop turns), then the verdict's material.
async function runCase(op, arg, view, m, turns) {
  const a = {};
  for (const [k, v] of Object.entries(op.args)) a[k] = Float32Array.from(v);
  const want = op.ref(a);
  const h = resizable(op.args[arg], view);
  a[arg] = h.a;
  let settled = false, result, error;
  // The results as they were at settling: a later change may shrink the caller's out.
  const pending = op.run(a).then((r) => {
    settled = true;
    result = { problems: r.problems, results: r.results.map((x) => Float32Array.from(x)) };
  }, (e) => { settled = true; error = e; });
  let exp = expected(view, m);
  if (turns === 0) mutate(h, m);
  else {
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
    // A call that settled before the change must have succeeded; one still running must reject.
    if (settled) exp = 'ok';
    mutate(h, m);
  }
  const settledFirst = settled;
  await pending;
  const problems = [];
  let got = 'ok', message = '';
  if (error) { got = kind(error); message = String(error.message); }
  else {
    problems.push(...result.problems);
    result.results.forEach((r, i) => problems.push(...closeTo(r, want[i], 'result ' + i)));
  }
  problems.push(...memoryProblems(h, op.outs.includes(arg), got));
  const name = op.name + ' ' + arg + ' ' + view + ' ' + m + (turns ? ' after ' + turns + ' turns' + (settledFirst ? ' (settled first)' : '') : '');
  report({ case: name, arg, expect: exp, got, message, problems });
}

if (['forward', 'backward', 'transpose', 'layers'].includes(group)) {
  for (const op of opsOf(group)) {
    for (const arg of Object.keys(op.args)) {
      for (const view of ['tracking', 'fixed']) for (const m of MUTATIONS[view]) await runCase(op, arg, view, m, 0);
    }
  }
} else if (group === 'later') {
  const ops = [convOp(2, 'NCHW'), convOp(2, 'NHWC'), backwardOp(2, 'NCHW'), transposeOp(2, 'NCHW')];
  for (const op of ops) {
    for (const arg of op.outs.length ? ['input', 'out'] : ['input']) {
      for (const turns of [1, 2, 3, 5, 8, 13, 21]) await runCase(op, arg, 'tracking', 'shrink', turns);
    }
  }
} else if (group === 'raw') {
  const addon = createRequire(import.meta.url)(path.join(root, 'build', 'Release', 'fastconv.node'));
  const params = Int32Array.from(${JSON.stringify([...packParams({ N: 2, C: 3, H: 7, W: 6, K: 4, R: 3, S: 3, groups: 1, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, OH: 7, OW: 6, relu: false })])});
  const base = { input: fill(2 * 3 * 7 * 6, 1), weight: fill(4 * 27, 2), bias: fill(4, 3), out: new Float32Array(2 * 4 * 42).fill(OUT_FILL) };
  const conv = {
    name: 'addon.conv2dAsync', args: base, outs: ['out'],
    run: (a) => addon.conv2dAsync(params, 1, a.input, a.weight, a.bias, a.out).then(() => ({ results: [a.out], problems: [] })),
    ref: (a) => { const o = new Float32Array(a.out.length); addon.conv2d(params, 1, a.input, a.weight, a.bias, o); return [o]; },
  };
  const grad = {
    name: 'addon.gradWeightAsync', outs: ['out', 'gradBiasOut'],
    args: { input: fill(2 * 3 * 7 * 6, 4), gradOutput: fill(2 * 4 * 42, 5), out: new Float32Array(4 * 27).fill(OUT_FILL), gradBiasOut: new Float32Array(4).fill(OUT_FILL) },
    run: (a) => addon.gradWeightAsync(params, a.input, a.gradOutput, a.out, a.gradBiasOut, 0).then(() => ({ results: [a.out, a.gradBiasOut], problems: [] })),
    ref: (a) => {
      const o = new Float32Array(a.out.length), b = new Float32Array(4);
      addon.gradWeight(params, a.input, a.gradOutput, o, b, 0);
      return [o, b];
    },
  };
  for (const op of [conv, grad]) {
    for (const arg of Object.keys(op.args)) {
      for (const view of ['tracking', 'fixed']) for (const m of MUTATIONS[view]) await runCase(op, arg, view, m, 0);
    }
  }
} else if (group === 'gated') {
  const { createWasmBackend } = await imp('backends/wasm.js');
  const { loadWasmBytes } = await imp('backends/wasm-bytes.node.js');
  const { convReference } = await imp('backends/js.js');
  // gate[0]: 0 = workers wait inside their slice, 1 = they run; gate[1]: set by a worker once inside.
  const gate = new Int32Array(new SharedArrayBuffer(8));
  Atomics.store(gate, 0, 1);
  const spawn = (source) => {
    const marker = 'let code;';
    if (!source.includes(marker)) throw new Error('the wasm worker source has no "' + marker + '" to hook the gate into');
    const hooked = source.replace(marker, marker + " { const g = new Int32Array(require('worker_threads').workerData.gate); " +
      'Atomics.store(g, 1, 1); while (Atomics.load(g, 0) === 0) Atomics.wait(g, 0, 0, 20); }');
    const w = new Worker(hooked, { eval: true, execArgv: [], workerData: { gate: gate.buffer } });
    w.unref();
    return { postMessage: (msg) => w.postMessage(msg), terminate: () => { void w.terminate(); }, onDeath: (d) => { w.on('error', d); w.on('exit', d); } };
  };
  const mod = (v) => new WebAssembly.Module(loadWasmBytes(v));
  const be = createWasmBackend(mod('simd'), 'simd', { module: mod('simd-threads'), spawn, canBlock: true, threads: 2 });
  be.minFlopsPerThread = 0;
  await be.whenReady();
  if (be.threadsOff !== null) throw new Error('threads are off: ' + be.threadsOff);
  const p = { N: 2, C: 8, H: 12, W: 10, K: 8, R: 3, S: 3, groups: 1, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1,
    padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, OH: 12, OW: 10, relu: false };
  const base = { input: fill(2 * 8 * 120, 1), weight: fill(8 * 8 * 9, 2), bias: fill(8, 3), out: new Float32Array(2 * 8 * 120).fill(OUT_FILL) };
  let gatedRuns = 0;
  const op = {
    name: 'wasm conv2dAsync (worker held mid-slice)', args: base, outs: ['out'],
    run: async (a) => {
      Atomics.store(gate, 1, 0);
      Atomics.store(gate, 0, 0);
      const call = be.conv2dAsync(p, a.input, a.weight, a.bias, a.out, 'im2col');
      // The worker is inside its slice only after the call loaded the arrays and started the run.
      while (Atomics.load(gate, 1) === 0) await new Promise((r) => setTimeout(r, 1));
      gatedRuns++;
      await a.change();
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      await call;
      return { results: [a.out], problems: [] };
    },
    ref: (a) => [Float32Array.from(convReference(p, a.input, a.weight, a.bias))],
  };
  for (const arg of Object.keys(op.args)) {
    for (const view of ['tracking', 'fixed']) {
      for (const m of MUTATIONS[view]) {
        // The change happens inside run(), while the worker is held; runCase's own change is 'none'.
        const a = {};
        for (const [k, v] of Object.entries(op.args)) a[k] = Float32Array.from(v);
        const want = op.ref(a);
        const h = resizable(op.args[arg], view);
        a[arg] = h.a;
        a.change = () => mutate(h, m);
        let got = 'ok', message = '';
        const problems = [];
        try {
          const r = await op.run(a);
          problems.push(...closeTo(r.results[0], want[0], 'out'));
        } catch (e) { got = kind(e); message = String(e.message); }
        problems.push(...memoryProblems(h, arg === 'out', got));
        report({ case: op.name + ' ' + arg + ' ' + view + ' ' + m, arg, expect: expected(view, m), got, message, problems });
      }
    }
  }
  info({ gatedRuns });
  be.dispose();
} else if (group === 'pool') {
  const xs = [2, 3, 8, 7];
  const cases = [
    ['maxPool2dAsync', (x) => fc.maxPool2dAsync(t(x, xs), { kernelSize: 2 }), (x) => fc.maxPool2d(t(x, xs), { kernelSize: 2 }).data],
    ['avgPool2dAsync', (x) => fc.avgPool2dAsync(t(x, xs), { kernelSize: 3, stride: 2, padding: 1 }), (x) => fc.avgPool2d(t(x, xs), { kernelSize: 3, stride: 2, padding: 1 }).data],
    ['maxPool2dBackwardAsync', (x) => fc.maxPool2dBackwardAsync(t(fill(2 * 3 * 4 * 3, 5), [2, 3, 4, 3]), t(x, xs), { kernelSize: 2 }),
      (x) => fc.maxPool2dBackward(t(fill(2 * 3 * 4 * 3, 5), [2, 3, 4, 3]), t(x, xs), { kernelSize: 2 }).data],
    ['avgPool2dBackwardAsync', (x) => fc.avgPool2dBackwardAsync(t(x.subarray(0, 2 * 3 * 4 * 3), [2, 3, 4, 3]), { shape: xs }, { kernelSize: 2 }),
      (x) => fc.avgPool2dBackward(t(x.subarray(0, 2 * 3 * 4 * 3), [2, 3, 4, 3]), { shape: xs }, { kernelSize: 2 }).data],
  ];
  for (const [name, run, sync] of cases) {
    for (const m of ['shrink', 'shrink0', 'grow', 'structuredClone']) {
      const h = resizable(fill(2 * 3 * 8 * 7, 4), 'tracking');
      const want = sync(Float32Array.from(h.values));
      const pending = run(h.a);
      mutate(h, m);
      let got = 'ok', message = '';
      const problems = [];
      try {
        const y = await pending;
        problems.push(...closeTo(y.data, want, 'result'));
      } catch (e) { got = kind(e); message = String(e.message); }
      report({ case: name + ' ' + m, arg: 'input', expect: 'ok', got, message, problems });
    }
  }
} else {
  throw new Error('unknown group ' + group);
}
`;
