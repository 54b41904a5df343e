// The child process of the hostile property layer: imports the built library (dist/), then runs the cases
// it receives on stdin (one JSON line each) one at a time and answers each with one line on stdout:
//   @@ {"id": n, "status": "pass" | "fail" | "skip", "what": ..., "detail": ..., ...}
// A case may crash or hang this process; the parent (hostile-runner.ts) notices, reports the case and
// starts a fresh child. Per case: materialize (hostile-materialize.ts), call, judge the outcome against
// every meaning the oracle allows (hostile-oracle.ts), check that no input changed and that switching
// getters were read once, then run a small canary convolution on the same backend (a case that corrupted
// the backend's state fails there, not in some later case).

import { createInterface } from 'node:readline';
import { convReference } from '../../src/backends/js.js';
import * as lib from '../../src/index.node.js';
import type { Api } from './hostile-materialize.js';
import { materialize } from './hostile-materialize.js';
import { ALL_NAMES, check, describe, verdict } from './hostile-oracle.js';
import type { BackendName, HostileCase, Outcome } from './hostile-types.js';
import { familyOf, takesBackend } from './hostile-types.js';

const say = (o: unknown) => process.stdout.write(`@@ ${JSON.stringify(o)}\n`);
// Anything the library logs would break the protocol: logs go to stderr (the parent keeps its tail).
console.log =
  console.info =
  console.debug =
    (...a: unknown[]) => {
      process.stderr.write(`${a.map(String).join(' ')}\n`);
    };

/** Errors nobody awaited (a library promise rejected with no handler, a throw in a callback): the case fails. */
const stray: string[] = [];
process.on('unhandledRejection', (e) => {
  stray.push(`unhandled rejection: ${e instanceof Error ? e.stack : String(e)}`);
});
process.on('uncaughtException', (e) => {
  stray.push(`uncaught exception: ${e instanceof Error ? e.stack : String(e)}`);
});

const available = lib.backendInfo().available as Record<string, boolean>;
const SLOT: Record<BackendName, string> = {
  native: 'native',
  'wasm-relaxed': 'wasmRelaxed',
  'wasm-simd': 'wasmSimd',
  'wasm-scalar': 'wasmScalar',
  js: 'js',
};

// The canary: a small padded, biased conv2d whose float64 answer is known.
const CX = { data: Float32Array.from({ length: 2 * 3 * 6 * 5 }, (_, i) => Math.sin(i)), shape: [2, 3, 6, 5] };
const CW = { data: Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.cos(i)), shape: [4, 3, 3, 3] };
const CB = Float32Array.from([0.5, -0.25, 1, 0]);
const CP = {
  N: 2,
  C: 3,
  H: 6,
  W: 5,
  K: 4,
  R: 3,
  S: 3,
  groups: 1,
  strideH: 1,
  strideW: 1,
  dilationH: 1,
  dilationW: 1,
  padTop: 1,
  padBottom: 1,
  padLeft: 1,
  padRight: 1,
  OH: 6,
  OW: 5,
  relu: false,
};
const CWANT = convReference(CP, CX.data, CW.data, CB);

function canary(backend: BackendName): string | null {
  try {
    const y = lib.conv2d(CX, CW, { padding: 1, bias: CB, backend }) as { data: Float32Array };
    for (let i = 0; i < CWANT.length; i++) {
      if (!(Math.abs(y.data[i] - CWANT[i]) <= 1e-4 * (1 + Math.abs(CWANT[i]))))
        return `canary conv2d on ${backend} after the case: [${i}] = ${y.data[i]}, want ${CWANT[i]}`;
    }
    return null;
  } catch (e) {
    return `canary conv2d on ${backend} after the case threw ${describe(e)}: ${(e as Error)?.message}`;
  }
}

const clip = (s: string, n = 1500) => (s.length > n ? `${s.slice(0, n)}... (${s.length} characters)` : s);
/** The call's time limit (the oracle's own time is not counted): a slower call fails as 'slow'. */
const CALL_MS = Number(process.env.FASTCONV_HOSTILE_CASE_MS) || 10_000;

const mentions = (message: string, names: string[]) =>
  names.some((n) => new RegExp(`(^|[^A-Za-z])${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).test(message));

/**
 * The oracle's self-check: changes one output value (or, for an empty result, the shape) by a margin no
 * tolerance allows, so that a case whose real result passed must now fail.
 */
function perturb(result: unknown): boolean {
  const bump = (t: unknown): boolean => {
    if (t === null || typeof t !== 'object') return false;
    const r = t as Record<string, unknown>;
    if (r.data instanceof Float32Array && r.data.length > 0) {
      r.data[r.data.length - 1] += 1 + Math.abs(r.data[r.data.length - 1]);
      return true;
    }
    if (r.data instanceof Float32Array && Array.isArray(r.shape)) {
      r.shape = [...r.shape, 1];
      return true;
    }
    return false;
  };
  if (Array.isArray(result)) {
    result.push(1);
    return true;
  }
  if (result === null || typeof result !== 'object') return false;
  const r = result as Record<string, unknown>;
  if (Array.isArray(r.outputShape)) {
    r.outputShape = [...r.outputShape, 1];
    return true;
  }
  for (const k of ['y', 'output', 'gradWeight', 'gradInput']) if (bump(r[k])) return true;
  if (r.gradBias instanceof Float32Array && r.gradBias.length) {
    r.gradBias[0] += 1 + Math.abs(r.gradBias[0]);
    return true;
  }
  return bump(r);
}

/** Whether the case, moved to the js backend with the algorithm left to it, returns the right result. */
async function jsAnswer(c: HostileCase): Promise<boolean> {
  const moved: HostileCase = { ...c, backend: 'js', algorithm: 'auto' };
  try {
    const m = materialize(moved, lib as unknown as Api);
    const result = await m.run();
    return m.sems.some((s) => {
      const v = verdict(familyOf(c.op), c.geom.dims, s);
      return v.kind === 'valid' && check(v.exp, result, moved) === null;
    });
  } catch {
    return false;
  }
}

async function runCase(c: HostileCase, selfCheck = false): Promise<Outcome> {
  const t0 = performance.now();
  const f = familyOf(c.op);
  const base = { ms: 0, peakRss: 0, callMs: 0 };
  const done = (o: Omit<Outcome, 'ms' | 'peakRss'>): Outcome => ({
    ...base,
    ...o,
    ms: performance.now() - t0,
    peakRss: process.resourceUsage().maxRSS * 1024,
  });
  if (takesBackend(f) && !available[SLOT[c.backend]])
    return done({ status: 'skip', what: 'skip', detail: `backend ${c.backend} not available here` });
  let m: ReturnType<typeof materialize>;
  try {
    m = materialize(c, lib as unknown as Api);
  } catch (e) {
    return done({ status: 'fail', what: 'harness', detail: `materialize threw: ${(e as Error)?.stack ?? String(e)}` });
  }
  const verdicts = m.sems.map((s) => verdict(f, c.geom.dims, s));
  const valid = verdicts.flatMap((v) => (v.kind === 'valid' ? [v] : []));
  stray.length = 0;
  let result: unknown,
    err: unknown,
    threw = false;
  const tCall = performance.now();
  try {
    result = await m.run();
  } catch (e) {
    threw = true;
    err = e;
  }
  base.callMs = performance.now() - tCall;
  if (selfCheck && !threw && !perturb(result)) return done({ status: 'skip', what: 'skip', detail: 'nothing to perturb' });
  // Let callbacks the call left behind (worker messages, copy-backs) run before judging.
  await new Promise((r) => setImmediate(r));

  const failures: [string, string][] = [];
  const fail = (what: string, detail: string) => failures.push([what, clip(detail, 4000)]);
  if (base.callMs > CALL_MS)
    fail('slow', `the call took ${(base.callMs / 1000).toFixed(1)} s, over the ${CALL_MS / 1000} s limit`);
  let what = threw ? 'error' : 'result';
  if (f !== 'layer') {
    for (const r of m.reads)
      if (r.count() > 1) fail('read-twice', `${r.label} (a switching getter) was read ${r.count()} times in one call`);
  }
  const message = threw && err instanceof Error ? err.message : '';
  // Messages are quoted, not carried whole: one that formats a 2^24-entry array is 184 MB.
  const errText = threw ? clip(`${describe(err)}: ${err instanceof Error ? err.message : String(err)}`) : undefined;
  if (m.userErrors.length) {
    what = 'user-error';
    if (!threw) fail('swallowed-user-error', `a getter threw, but the call ${valid.length ? 'returned a result' : 'returned'}`);
    else if (
      !m.userErrors.includes(err as Error) &&
      !(c.mutations.length > m.userErrors.length && (err instanceof TypeError || err instanceof RangeError))
    ) {
      fail('replaced-user-error', `a getter threw its own error; the call threw ${errText} instead`);
    }
  } else if (threw) {
    const clean = (err instanceof TypeError || err instanceof RangeError) && message.length > 0;
    if (!clean) fail('bad-error', `threw ${errText} (want a TypeError or RangeError with a message)`);
    else if (valid.length === 0) {
      const names = [...m.names, ...verdicts.flatMap((v) => (v.kind === 'invalid' ? v.names : []))];
      // A forced algorithm that cannot run the shape may be what fails first (a layer's forward, before its backward).
      if (c.algorithm !== 'auto' && err instanceof RangeError) names.push('algorithm');
      if (!mentions(message, names))
        fail(
          'unnamed-error',
          `${errText} names none of ${[...new Set(names)].join(', ')} (${verdicts[0].kind === 'invalid' ? verdicts[0].why : ''})`
        );
    } else {
      if (!mentions(message, ALL_NAMES)) fail('unnamed-error', `${errText} names no argument`);
      const extreme = valid.find((v) => v.extreme)?.extreme ?? null;
      const algoRefused = err instanceof RangeError && c.algorithm !== 'auto' && /algorithm/.test(message);
      if (extreme && !(err instanceof RangeError) && m.ambiguous.length === 0)
        fail('extreme-not-rangeerror', `valid but extreme (${extreme}); threw ${errText}`);
      else if (!extreme && !algoRefused && m.ambiguous.length === 0) fail('rejected-valid', `a valid call threw ${errText}`);
      else if (extreme && !algoRefused && m.ambiguous.length === 0 && takesBackend(f) && c.backend !== 'js') {
        // A backend's own limits are no reason to refuse: the dispatcher moves such calls to one that can
        // take them, so the same call on js must not compute what this one refused.
        const js = await jsAnswer(c);
        if (js)
          fail(
            'inconsistent-backends',
            `${c.backend} threw ${errText} (${extreme}), but the same call on js returns the reference's answer`
          );
      }
    }
  } else if (valid.length === 0) {
    const v = verdicts[0];
    fail('accepted-invalid', `returned a result for an invalid call (${v.kind === 'invalid' ? v.why : ''}): ${describe(result)}`);
  } else {
    const problems = valid.map((v) => {
      try {
        return check(v.exp, result, c);
      } catch (e) {
        return `check threw: ${(e as Error)?.stack}`;
      }
    });
    if (problems.every((p) => p !== null)) fail('wrong-result', problems[0]!);
    else if (m.outGuard) {
      const v = valid[problems.indexOf(null)];
      const count =
        'outShape' in v.exp
          ? v.exp.outShape.reduce((a, b) => a * b, 1)
          : v.exp.kind === 'layer'
            ? v.exp.conv.outShape.reduce((a, b) => a * b, 1)
            : 0;
      const g = m.outGuard(count);
      if (g) fail('wrote-outside-out', g);
    }
  }
  for (const u of m.unchanged) {
    const d = u();
    if (d) fail('modified-input', d);
  }
  for (const s of stray) fail('unhandled', s);
  const canaryOn: BackendName = takesBackend(f) ? c.backend : available.native ? 'native' : 'js';
  const cn = canary(canaryOn);
  if (cn) fail('corrupted-state', cn);
  const ran =
    result && typeof result === 'object' && 'algorithm' in result
      ? String((result as { algorithm: unknown }).algorithm)
      : undefined;
  if (failures.length) {
    return done({
      status: 'fail',
      what: failures[0][0],
      detail: failures.map(([w, d]) => `${w}: ${d}`).join('\n'),
      error: errText,
      ran,
    });
  }
  const note = m.ambiguous.length ? ` (allowed either way: ${m.ambiguous.join('; ')})` : '';
  return done({
    status: 'pass',
    what,
    detail: (threw ? errText! : 'result matches the float64 reference') + note,
    error: errText,
    ran,
  });
}

say({ ready: true, available, pid: process.pid });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { id, c, selfCheck } = JSON.parse(line) as { id: number; c: HostileCase; selfCheck?: boolean };
  let o: Outcome;
  try {
    o = await runCase(c, selfCheck);
  } catch (e) {
    o = {
      status: 'fail',
      what: 'harness',
      detail: `the child's case runner threw: ${(e as Error)?.stack ?? String(e)}`,
      ms: 0,
      peakRss: 0,
    };
  }
  say({ id, ...o });
}
