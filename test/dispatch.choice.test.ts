// The load-time backend choice (issue #16): the known order native > wasm-relaxed > wasm-simd >
// wasm-scalar > js decides once each candidate passes the float64 check; timing may overturn it only
// with interleaved samples and a clear margin, so noise or a loaded machine cannot flip it for a
// process's lifetime; a wrong backend is never selected. And setNumThreads / FASTCONV_THREADS follow
// one rule on every backend.

import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import type { Backend, BackendName } from '../src/backends/types.js';
import type { Candidate, SlotKey } from '../src/dispatch.js';
import { Dispatcher, overturns } from '../src/dispatch.js';
import { backendInfo, explain, setBackend, setNumThreads } from '../src/index.node.js';
import { Rng } from './random.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p: string) => pathToFileURL(path.join(root, 'dist', 'src', p)).href;

const spin = (us: number) => {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
};

interface FakeOptions {
  name?: BackendName;
  isa?: string;
  /** Mean cost of a call in microseconds (busy-waited, so a real clock measures it). */
  us?: number;
  /** Per-call cost spread: uniform 0.7-1.3x, and 2 % of calls stall 10x (a preempted time slice). */
  rng?: Rng;
  fault?: 'wrong' | 'silent' | 'throws';
}

/** A backend whose answers are the reference's (or wrong, as asked) and whose speed is whatever we say. */
function fake(o: FakeOptions = {}): Backend & { calls: number } {
  const answers = new WeakMap<Float32Array, Float64Array>();
  const run = (
    p: Parameters<Backend['conv2d']>[0],
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | null,
    out: Float32Array
  ) => {
    be.calls++;
    if (o.fault === 'throws') throw new Error('fake engine failure');
    let want = answers.get(x);
    if (!want) {
      want = convReference(p, x, w, b);
      answers.set(x, want);
    }
    if (o.fault !== 'silent') out.set(want);
    if (o.fault === 'wrong') out[7] += 0.05;
    const r = o.rng;
    spin((o.us ?? 0) * (r ? (r.chance(0.02) ? 10 : 0.7 + 0.6 * r.next()) : 1));
  };
  const be = {
    calls: 0,
    name: o.name ?? 'wasm',
    isa: o.isa ?? 'fake',
    threads: 1,
    algorithms: ['direct'] as const,
    supports: () => null,
    choose: () => ({ algorithm: 'direct' as const, reason: 'fake' }),
    conv2d: run,
    conv2dAsync: async (...a: Parameters<typeof run>) => run(...a),
  };
  return be;
}

const slot = (key: SlotKey, backend: Backend): Candidate => ({ key, backend });
const nativeFake = (o: FakeOptions) => fake({ name: 'native', isa: 'avx2', ...o });

describe('overturns(): the evidence timing needs against the known order', () => {
  it('needs the margin by median and in a strict majority of the pairs', () => {
    expect(overturns([2, 2, 2, 2, 2, 2, 2], [1, 1, 1, 1, 1, 1, 1], 1.5)).toMatchObject({ speedup: 2, wins: 7, overturned: true });
    // 1.4x everywhere: consistent, but not the margin.
    expect(overturns([1.4, 1.4, 1.4, 1.4, 1.4], [1, 1, 1, 1, 1], 1.5)).toMatchObject({ wins: 0, overturned: false });
    // A median 3x faster that rests on a minority of pairs: the incumbent's samples were slow while the
    // challenger's, in the same pairs, were slower still.
    const lifted = overturns([3, 3, 3, 3, 1, 1, 1], [4, 4, 4, 1, 1, 1, 1], 1.5);
    expect(lifted.speedup).toBe(3);
    expect(lifted.wins).toBe(1);
    expect(lifted.overturned).toBe(false);
    // Exactly half the pairs is not a majority.
    expect(overturns([2, 2, 1, 1], [1, 1, 1, 1], 1.5).overturned).toBe(false);
    expect(overturns([2, 2, 2, 1], [1, 1, 1, 1], 1.5).overturned).toBe(true);
  });

  it('never overturns on missing or broken samples', () => {
    expect(overturns([], [], 1.5).overturned).toBe(false);
    expect(overturns([2, 2, 2], [1, 1], 1.5).overturned).toBe(false);
    expect(overturns([2, 2, 2], [1, NaN, 1], 1.5).overturned).toBe(false);
    expect(overturns([2, 2, 2], [1, 0, 1], 1.5).overturned).toBe(false);
    expect(overturns([Infinity, 2, 2], [1, 1, 1], 1.5).overturned).toBe(false);
  });
});

describe('Dispatcher: the known order decides, timing overturns it only on strong evidence', () => {
  it('selects the first verified candidate in the known order and times nothing by default', () => {
    const cands = [
      slot('wasmScalar', fake({ us: 1 })),
      slot('js', fake({ name: 'js' })),
      slot('wasmSimd', fake({ us: 500 })),
      slot('native', nativeFake({ us: 2000 })),
    ];
    const info = new Dispatcher(cands).info();
    // The native fake is 2000x slower than wasm-scalar here: nothing was timed, so nothing could say so.
    expect(info.slot).toBe('native');
    expect(info.comparisons).toEqual([]);
    expect(info.probe.map((r) => r.key)).toEqual(['native', 'wasmSimd', 'wasmScalar', 'js']);
    for (const r of info.probe) {
      expect(r.ok).toBe(true);
      expect(r.medianMs).toBeUndefined();
    }
    expect(info.reason).toMatch(
      /^native \(avx2\): the first backend that passed the float64 check in the known order native > wasm-relaxed > wasm-simd > wasm-scalar > js; nothing timed/
    );
    expect(info.reason).toMatch(/'wasm' means wasm-simd/);

    const wasmOnly = new Dispatcher([
      slot('wasmSimd', fake()),
      slot('wasmScalar', fake()),
      slot('js', fake({ name: 'js' })),
    ]).info();
    expect([wasmOnly.selected, wasmOnly.slot, wasmOnly.wasmVariant]).toEqual(['wasm', 'wasmSimd', 'simd']);
    expect(wasmOnly.reason).toMatch(/^wasm-simd: the first backend/);
  });

  it('under noisy timings the known order wins every time, when the lower-ranked is equal or 1.25x faster', () => {
    const rng = new Rng(1601);
    for (let trial = 0; trial < 8; trial++) {
      for (const challengerUs of [40, 32]) {
        const d = new Dispatcher(
          [
            slot('native', nativeFake({ us: 40, rng })),
            slot('wasmSimd', fake({ us: challengerUs, rng })),
            slot('js', fake({ name: 'js' })),
          ],
          undefined,
          { timing: 'all' }
        );
        const info = d.info();
        const c = info.comparisons;
        expect(c, info.reason).toHaveLength(1);
        expect(c[0]).toMatchObject({ incumbent: 'native', challenger: 'wasmSimd', overturned: false });
        expect(c[0].incumbentMs).toHaveLength(7);
        expect(info.slot, `trial ${trial}, challenger ${challengerUs} us: ${info.reason}`).toBe('native');
        expect(info.reason).toMatch(/timed native against wasm-simd in 7 interleaved pairs: .* so native stays/);
        expect(info.probe.find((r) => r.key === 'native')!.medianMs).toBeGreaterThan(0);
      }
    }
  });

  it('a clearly faster lower-ranked candidate overturns the order only where timing is asked for', () => {
    const cands = () => [
      slot('native', nativeFake({ isa: 'scalar', us: 200 })),
      slot('wasmSimd', fake({ us: 40 })),
      slot('wasmScalar', fake({ us: 10 })),
      slot('js', fake({ name: 'js' })),
    ];
    // Default timing: native at its scalar ISA against the best SIMD wasm build is the pairing in doubt.
    const doubtful = new Dispatcher(cands()).info();
    expect(doubtful.comparisons.map((c) => [c.incumbent, c.challenger, c.overturned])).toEqual([['native', 'wasmSimd', true]]);
    expect(doubtful.comparisons[0].speedup).toBeGreaterThan(2);
    expect(doubtful.comparisons[0].wins).toBeGreaterThanOrEqual(4);
    expect(doubtful.slot).toBe('wasmSimd');
    expect(doubtful.reason).toMatch(
      /^wasm-simd: timed clearly faster than native \(scalar\), which the known order .* puts first/
    );
    expect(doubtful.reason).toMatch(/so wasm-simd overturns the known order/);
    const simd = doubtful.probe.find((r) => r.key === 'wasmSimd')!;
    expect(simd.medianMs).toBeGreaterThan(0);
    expect(simd.gflops).toBeGreaterThan(0);

    // A SIMD ISA is not in doubt: no timing, whatever the candidates would have measured.
    const avx2 = new Dispatcher([slot('native', nativeFake({ us: 200 })), slot('wasmSimd', fake({ us: 40 }))]).info();
    expect([avx2.slot, avx2.comparisons.length]).toEqual(['native', 0]);
    expect(new Dispatcher(cands(), undefined, { timing: 'none' }).info().slot).toBe('native');
    // 'all' goes on down the order from whichever won.
    const all = new Dispatcher(cands(), undefined, { timing: 'all' }).info();
    expect(all.comparisons.map((c) => `${c.incumbent}>${c.challenger}:${c.overturned}`)).toEqual([
      'native>wasmSimd:true',
      'wasmSimd>wasmScalar:true',
    ]);
    expect(all.slot).toBe('wasmScalar');

    // Native scalar 1.25x slower than wasm-simd: in doubt, timed, not enough.
    const close = new Dispatcher([
      slot('native', nativeFake({ isa: 'scalar', us: 50 })),
      slot('wasmSimd', fake({ us: 40 })),
    ]).info();
    expect(close.comparisons).toHaveLength(1);
    expect(close.comparisons[0].overturned).toBe(false);
    expect(close.slot).toBe('native');
    expect(close.reason).toMatch(/so native stays \(overturning needs 1.5x by median and in most pairs\)/);
  });

  it('never selects a wrong backend, however fast, and never times one', () => {
    const wrongNative = new Dispatcher(
      [slot('native', nativeFake({ fault: 'wrong' })), slot('wasmSimd', fake({ us: 5 })), slot('js', fake({ name: 'js' }))],
      undefined,
      { timing: 'all' }
    ).info();
    expect(wrongNative.slot).toBe('wasmSimd');
    expect(wrongNative.available.native).toBe(false);
    expect(wrongNative.errors.native).toMatch(/self-check failed: output 7 is/);
    expect(wrongNative.probe[0]).toMatchObject({ key: 'native', ok: false });
    expect(wrongNative.reason).toMatch(/native unavailable \(self-check failed/);

    // A wrong candidate below a slow one: not a challenger, not selectable per call either.
    const d = new Dispatcher(
      [
        slot('native', nativeFake({ isa: 'scalar', us: 300 })),
        slot('wasmSimd', fake({ fault: 'wrong' })),
        slot('wasmScalar', fake({ fault: 'silent' })),
        slot('js', fake({ name: 'js', fault: 'throws' })),
      ],
      undefined,
      { timing: 'all' }
    );
    const info = d.info();
    expect(info.slot).toBe('native');
    expect(info.comparisons).toEqual([]);
    expect(info.errors.wasmScalar).toMatch(/self-check failed: output 0 is NaN/); // wrote nothing: not the previous answer
    expect(info.errors.js).toBe('fake engine failure');
    expect(() => d.backendFor('wasm-simd')).toThrow(/not available: self-check failed/);
    expect(() => d.backendFor('wasm')).toThrow(/not available/);

    // Random line-ups: whatever is fast, slow or wrong, the selection is a verified candidate, and the
    // first verified one in the known order when nothing is in doubt.
    const rng = new Rng(16_07);
    const keys: SlotKey[] = ['native', 'wasmRelaxed', 'wasmSimd', 'wasmScalar', 'js'];
    for (let t = 0; t < 40; t++) {
      const faults = keys.map(() => rng.pick([undefined, undefined, 'wrong', 'silent', 'throws'] as const));
      const cs = keys
        .filter(() => rng.chance(0.8))
        .map((k) => {
          const f = faults[keys.indexOf(k)];
          return slot(
            k,
            fake({
              name: k === 'native' ? 'native' : k === 'js' ? 'js' : 'wasm',
              isa: rng.pick(['avx2', 'scalar']),
              us: rng.int(0, 20),
              fault: f,
            })
          );
        });
      const info = new Dispatcher(cs).info();
      const ok = info.probe.filter((r) => r.ok).map((r) => r.key);
      for (const r of info.probe) expect(r.ok, `line-up ${t}: ${r.key}`).toBe(faults[keys.indexOf(r.key)] === undefined);
      if (ok.length === 0) {
        expect(info.reason).toMatch(/^no backend passed/);
        continue;
      }
      expect(ok, `line-up ${t}: ${info.reason}`).toContain(info.slot);
      if (info.comparisons.length === 0) expect(info.slot).toBe(ok[0]);
      for (const c of info.comparisons) expect(ok).toContain(c.challenger);
    }
  });

  it('keeps the FASTCONV_BACKEND note across a re-probe', () => {
    const d = new Dispatcher([slot('wasmScalar', fake())], 'gpu');
    d.setCandidates([slot('wasmSimd', fake()), slot('wasmScalar', fake())]);
    expect(d.info().reason).toMatch(/wasm-simd: the first backend .*; ignored FASTCONV_BACKEND must be one of/);
    expect(d.info().slot).toBe('wasmSimd');
  });
});

const distBuilt = existsSync(path.join(root, 'dist', 'src', 'dispatch.js'));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'fastconv-choice-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runNode(script: string, env: NodeJS.ProcessEnv = {}, cwd = root): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('under load, fresh processes keep the order of the real backends', () => {
  // Real wasm builds (and the addon where it built) in a dispatcher that times every pairing, so the
  // margin rule, not the absence of timing, is what keeps wasm-scalar from overturning wasm-simd.
  const timedScript = `
    import { Dispatcher } from ${JSON.stringify(dist('dispatch.js'))};
    import { createWasmBackend } from ${JSON.stringify(dist('backends/wasm.js'))};
    import { loadWasmBytes } from ${JSON.stringify(dist('backends/wasm-bytes.node.js'))};
    import { createJsBackend } from ${JSON.stringify(dist('backends/js.js'))};
    import { loadNativeBackend } from ${JSON.stringify(dist('backends/native.js'))};
    const wasm = (v) => createWasmBackend(new WebAssembly.Module(loadWasmBytes(v)), v);
    const simd = wasm('simd'), scalar = wasm('scalar'), js = createJsBackend();
    const pick = (i) => i && { slot: i.slot, reason: i.reason, nativeOk: i.available.native,
      comparisons: i.comparisons.map((c) => [c.incumbent, c.challenger, c.overturned, c.speedup]) };
    const wasmOnly = new Dispatcher([{ key: 'wasmSimd', backend: simd }, { key: 'wasmScalar', backend: scalar }, { key: 'js', backend: js }],
                                    undefined, { timing: 'all' }).info();
    const n = loadNativeBackend();
    const withNative = 'backend' in n ? new Dispatcher([{ key: 'native', backend: n.backend }, { key: 'wasmSimd', backend: simd },
      { key: 'wasmScalar', backend: scalar }, { key: 'js', backend: js }], undefined, { timing: 'all' }).info() : null;
    console.log(JSON.stringify({ wasmOnly: pick(wasmOnly), withNative: pick(withNative) }));`;
  // The case: the package entry point where the addon is absent.
  const entryScript = `
    const m = await import('./dist/src/index.node.js');
    const i = m.backendInfo();
    console.log(JSON.stringify({ slot: i.slot, native: i.available.native, reason: i.reason }));`;

  it.runIf(distBuilt)('10 processes beside two busy loops: wasm-simd over wasm-scalar, native over both', () => {
    const noAddon = path.join(scratch, 'no-addon');
    for (const f of ['package.json', 'dist', path.join('assembly', 'build')])
      cpSync(path.join(root, f), path.join(noAddon, f), { recursive: true });
    const busy: ChildProcess[] = [];
    try {
      for (let i = 0; i < 2; i++) busy.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
      for (let run = 0; run < 10; run++) {
        const timed = JSON.parse(runNode(timedScript));
        expect(timed.wasmOnly.reason, 'dist/ is stale: run `npm run build:ts`').toMatch(/known order/);
        expect(timed.wasmOnly.slot, `run ${run}: ${timed.wasmOnly.reason}`).toBe('wasmSimd');
        expect(timed.wasmOnly.comparisons).toHaveLength(1);
        expect(timed.wasmOnly.comparisons[0].slice(0, 3)).toEqual(['wasmSimd', 'wasmScalar', false]);
        // An addon that fails the check (built from other sources than dist/, say) must lose to wasm-simd.
        if (timed.withNative?.nativeOk) {
          expect(timed.withNative.slot, `run ${run}: ${timed.withNative.reason}`).toBe('native');
          expect(timed.withNative.comparisons.map((c: unknown[]) => c[2])).toEqual([false, false]);
        } else if (timed.withNative) {
          expect(timed.withNative.slot, `run ${run}: ${timed.withNative.reason}`).toBe('wasmSimd');
        }
        const entry = JSON.parse(runNode(entryScript, { FASTCONV_BACKEND: '' }, noAddon));
        expect(entry.native).toBe(false);
        expect(entry.slot, `run ${run}: ${entry.reason}`).toBe('wasmSimd');
        expect(entry.reason).toMatch(/^wasm-simd: the first backend that passed the float64 check .* nothing timed/);
      }
    } finally {
      for (const b of busy) b.kill('SIGKILL');
    }
  });
});

describe('setNumThreads and FASTCONV_THREADS: one rule on every backend', () => {
  const t = (shape: number[]) => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
  // ~925 MFLOP: enough work for wasm to split it 64 ways.
  const big = [t([1, 64, 112, 112]), t([64, 64, 3, 3]), { padding: 1 }] as const;
  const wasmThreads = () => explain(big[0], big[1], { ...big[2], backend: 'wasm-simd' }).threads;
  const all = Math.min(256, os.availableParallelism());

  it('accepts integers in [1, 256] and rejects the rest, naming n, without changing anything', () => {
    const before = backendInfo().threads;
    for (const v of [0, -1, 257, 300, 1.5, NaN, Infinity]) {
      expect(() => setNumThreads(v), String(v)).toThrow(RangeError);
      expect(() => setNumThreads(v)).toThrow(`n must be an integer in [1, 256], got ${v}`);
    }
    for (const v of ['4', undefined, null, 4n, {}]) {
      expect(() => setNumThreads(v as never), String(v)).toThrow(TypeError);
      expect(() => setNumThreads(v as never)).toThrow(/^n must be an integer in \[1, 256\], got /);
    }
    expect(backendInfo().threads).toBe(before);
  });

  it("above the wasm pool's 64, native runs n and wasm 64, and backendInfo says which is in effect", () => {
    try {
      setNumThreads(65);
      expect(wasmThreads()).toBe(64);
      if (backendInfo().available.native) {
        expect(backendInfo().threads).toBe(65);
        expect(explain(big[0], big[1], { ...big[2], backend: 'native' }).threads).toBe(65);
      }
      setBackend('wasm');
      try {
        expect(backendInfo().threads).toBe(64);
      } finally {
        setBackend('auto');
      }
      setNumThreads(1);
      expect(wasmThreads()).toBe(1);
      if (backendInfo().available.native) expect(backendInfo().threads).toBe(1);
    } finally {
      setNumThreads(os.availableParallelism());
    }
  });

  const envScript = `
    const m = await import('./dist/src/index.node.js');
    const t = (shape) => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
    const x = t([1, 64, 112, 112]), w = t([64, 64, 3, 3]);
    const i = m.backendInfo();
    console.log(JSON.stringify({ native: i.available.native ? m.explain(x, w, { padding: 1, backend: 'native' }).threads : null,
      wasm: m.explain(x, w, { padding: 1, backend: 'wasm-simd' }).threads, reason: i.reason }));`;

  it.runIf(distBuilt)('FASTCONV_THREADS: a valid count reaches both engines; anything else is ignored with a note', () => {
    const read = (v: string) => JSON.parse(runNode(envScript, { FASTCONV_THREADS: v }));
    const one = read('1');
    expect(one.reason, 'dist/ is stale: run `npm run build:ts`').toMatch(/known order/);
    expect(one.reason).not.toMatch(/FASTCONV_THREADS/);
    expect([one.native ?? 1, one.wasm]).toEqual([1, 1]);
    expect(read('').reason).not.toMatch(/FASTCONV_THREADS/);
    // '+1' and ' 0x1' would parse in C++ (strtol) or JS (Number): the rule is a decimal integer, for both.
    for (const v of ['abc', '0', '257', '2.5', '+1', '0x1', '1e1', '-2']) {
      const r = read(v);
      expect(r.reason).toContain(
        `ignored FASTCONV_THREADS=${JSON.stringify(v)} (expected an integer in [1, 256]): threads default to all ${all} cores`
      );
      expect(r.wasm, v).toBe(Math.min(64, all));
      if (r.native !== null) expect(r.native, v).toBe(all);
    }
  });
});
