// Hostile but well-typed inputs (complements errors.test.ts, which covers plain bad arguments): memory
// that is shared, frozen, offset, subclassed, proxied, detached or transferred mid-call; getters that
// throw or change their answer; sizes beyond the wasm memory; and the raw native addon fed hand-packed
// parameters, in a child process so that a crash fails a test instead of killing the runner.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { convReference } from '../src/backends/js.js';
import { packParams } from '../src/backends/types.js';
import type { BackendChoice, ConvOptions, Tensor } from '../src/index.node.js';
import { backendInfo, conv2d, conv2dAsync, explain } from '../src/index.node.js';
import { normalizeConv } from '../src/shape.js';
import { expectNative, nativeBackend, nativeOnly, restoreNativeIsa } from './paths.js';
import { Rng } from './random.js';

afterAll(restoreNativeIsa);

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonFile = path.join(root, 'build', 'Release', 'fastconv.node');

const rng = new Rng(4242);
const X_SHAPE = [2, 4, 9, 8],
  W_SHAPE = [6, 4, 3, 3],
  OPTS: ConvOptions = { padding: 1 };
const xData = rng.floats(2 * 4 * 9 * 8),
  wData = rng.floats(6 * 4 * 9),
  bData = rng.floats(6);
const { params: P } = normalizeConv(2, { data: xData, shape: X_SHAPE }, { data: wData, shape: W_SHAPE }, OPTS);
const WANT = convReference(P, xData, wData, bData);
const COUNT = WANT.length;

function backends(): BackendChoice[] {
  const a = backendInfo().available;
  return [
    ...(a.native || expectNative ? ['native' as const] : []),
    ...(a.wasmSimd ? ['wasm-simd' as const] : []),
    'wasm-scalar',
    'js',
  ];
}

function expectClose(got: ArrayLike<number>, label: string) {
  expect(got.length, label).toBe(COUNT);
  for (let i = 0; i < COUNT; i++) {
    if (!(Math.abs(got[i] - WANT[i]) <= 1e-5 * (1 + Math.abs(WANT[i]))))
      expect.fail(`${label}: [${i}] got ${got[i]} want ${WANT[i]}`);
  }
}

/** A Float32Array view of `values` in the middle of a larger buffer, guards around it. */
function offsetView(values: Float32Array, shared: boolean, before = 3, after = 2): Float32Array {
  const n = values.length + before + after;
  const backing = shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
  backing.fill(99);
  const v = backing.subarray(before, before + values.length);
  v.set(values);
  return v;
}

const guardsIntact = (v: Float32Array, before = 3, after = 2) => {
  const all = new Float32Array(v.buffer);
  const start = v.byteOffset / 4;
  return [...all.subarray(start - before, start), ...all.subarray(start + v.length, start + v.length + after)].every(
    (g) => g === 99
  );
};

describe('hostile inputs that must work', () => {
  for (const backend of backends()) {
    describe(backend, () => {
      it('SharedArrayBuffer-backed input, weight, bias and out, at offsets (sync and async)', async () => {
        for (const async of [false, true]) {
          const x = offsetView(xData, true),
            w = offsetView(wData, true),
            b = offsetView(bData, true);
          const out = offsetView(new Float32Array(COUNT), true);
          const o: ConvOptions = { ...OPTS, bias: b, out, backend };
          const args = [{ data: x, shape: X_SHAPE }, { data: w, shape: W_SHAPE }, o] as const;
          const y = async ? await conv2dAsync(...args) : conv2d(...args);
          expect(y.data.buffer).toBe(out.buffer);
          expectClose(y.data, `${backend} shared ${async ? 'async' : 'sync'}`);
          for (const v of [x, w, b, out]) expect(guardsIntact(v)).toBe(true);
          expect([...x]).toEqual([...xData]);
        }
      });

      it('deeply frozen tensors, shapes and options', () => {
        const o = Object.freeze({ ...OPTS, bias: bData, backend, stride: Object.freeze([1, 1]) });
        const x = Object.freeze({ data: xData, shape: Object.freeze(X_SHAPE.slice()) });
        const w = Object.freeze({ data: wData, shape: Object.freeze(W_SHAPE.slice()) });
        expectClose(conv2d(x as Tensor, w as Tensor, o as ConvOptions).data, `${backend} frozen`);
      });

      it('shapes given as typed arrays (Int32Array, Float64Array, Uint16Array)', () => {
        const x = { data: xData, shape: Int32Array.from(X_SHAPE) };
        const w = { data: wData, shape: Float64Array.from(W_SHAPE) };
        expectClose(
          conv2d(x as unknown as Tensor, w as unknown as Tensor, { ...OPTS, bias: bData, backend }).data,
          `${backend} typed shapes`
        );
        const w16 = { data: wData, shape: Uint16Array.from(W_SHAPE) };
        expectClose(
          conv2d(x as unknown as Tensor, w16 as unknown as Tensor, { ...OPTS, bias: bData, backend }).data,
          `${backend} u16 shape`
        );
      });

      it('Proxy-wrapped tensors and options', () => {
        const x = new Proxy({ data: xData, shape: X_SHAPE }, {});
        const w = new Proxy({ data: wData, shape: W_SHAPE }, {});
        const o = new Proxy({ ...OPTS, bias: bData, backend }, {});
        expectClose(conv2d(x, w, o).data, `${backend} proxies`);
      });

      it('a Float32Array subclass (data, bias, out)', () => {
        class Tagged extends Float32Array {
          tag = 'mine';
        }
        const x = Tagged.from(xData),
          w = Tagged.from(wData),
          b = Tagged.from(bData),
          out = new Tagged(COUNT);
        const y = conv2d({ data: x, shape: X_SHAPE }, { data: w, shape: W_SHAPE }, { ...OPTS, bias: b, out, backend });
        expectClose(out, `${backend} subclass`);
        expect(y.data.buffer).toBe(out.buffer);
      });

      it('a Proxy around the Float32Array itself: correct result or a TypeError naming the argument', () => {
        const x = new Proxy(xData, {}) as Float32Array;
        let y: Tensor | undefined, err: unknown;
        try {
          y = conv2d({ data: x, shape: X_SHAPE }, { data: wData, shape: W_SHAPE }, { ...OPTS, bias: bData, backend });
        } catch (e) {
          err = e;
        }
        // Today: V8's own "Method get TypedArray.prototype.length called on incompatible receiver" from
        // shape.ts (instanceof passes a Proxy, the length getter does not). Clear enough, but it does not
        // name the argument; ArrayBuffer.isView(data) in checkFloat32Array would.
        if (err) expect(err).toBeInstanceOf(TypeError);
        else expectClose(y!.data, `${backend} proxied array`);
      });

      it('getters that throw: the error surfaces (async: as a rejection), nothing crashes', async () => {
        const boom = () => {
          throw new Error('boom from a getter');
        };
        const badShape = {
          data: xData,
          get shape(): number[] {
            return boom();
          },
        };
        const badData = {
          get data(): Float32Array {
            return boom();
          },
          shape: X_SHAPE,
        };
        const badOpt = {
          get padding(): number {
            return boom();
          },
          backend,
        };
        const w = { data: wData, shape: W_SHAPE };
        expect(() => conv2d(badShape, w, { backend })).toThrow(/boom/);
        expect(() => conv2d(badData, w, { backend })).toThrow(/boom/);
        expect(() => conv2d({ data: xData, shape: X_SHAPE }, w, badOpt as ConvOptions)).toThrow(/boom/);
        await expect(conv2dAsync(badShape, w, { backend })).rejects.toThrow(/boom/);
        const shapeProxy = new Proxy(X_SHAPE.slice(), {
          get(t, k) {
            if (k === '2') boom();
            return Reflect.get(t, k);
          },
        });
        expect(() => conv2d({ data: xData, shape: shapeProxy }, w, { backend })).toThrow(/boom/);
      });
    });
  }
});

// Found by this suite and fixed: each test below failed before its fix.
describe('hostile inputs that must fail cleanly', () => {
  // src/shape.ts validates with the intrinsic TypedArray length getter, not `data.length`, which a
  // subclass can override (the wasm backend then convolved stale memory, js read undefined).
  it('a Float32Array subclass that lies about its length is rejected or computed correctly, never read out of bounds', () => {
    // `length` is an accessor on the prototype: a subclass can report any number.
    class Liar extends Float32Array {
      override get length() {
        return xData.length;
      }
    }
    const short = Liar.from(xData.subarray(0, 10));
    for (const backend of backends()) {
      let err: unknown, y: Tensor | undefined;
      try {
        y = conv2d({ data: short, shape: X_SHAPE }, { data: wData, shape: W_SHAPE }, { ...OPTS, bias: bData, backend });
      } catch (e) {
        err = e;
      }
      expect(y, `${backend} accepted a 10-element input as ${xData.length}`).toBeUndefined();
      expect(err, backend).toBeInstanceOf(RangeError);
    }
  });

  // normalizeConv returns the arrays it validated and src/conv.ts uses only those: a getter read twice
  // could otherwise hand the backend a different (short) array.
  it('a data getter that changes its answer after validation: rejected or computed on what was validated', () => {
    for (const backend of backends()) {
      let reads = 0;
      const sneaky = {
        get data() {
          return reads++ === 0 ? xData : new Float32Array(5);
        },
        shape: X_SHAPE,
      };
      let err: unknown, y: Tensor | undefined;
      try {
        y = conv2d(sneaky, { data: wData, shape: W_SHAPE }, { ...OPTS, bias: bData, backend });
      } catch (e) {
        err = e;
      }
      if (err) expect(err, backend).toBeInstanceOf(RangeError);
      else expectClose(y!.data, `${backend} time-of-check/time-of-use`);
    }
  });

  it('wasm: a problem beyond the wasm memory is routed to a backend that can run it (no trap, no OOM)', () => {
    // 1x1 input and kernel, padding 2^23 on each side: 16 * (2^24 + 1) outputs, just past the wasm
    // backend's 2^28-element limit. The module says so (accepts()) before anything is copied in, and
    // the call runs elsewhere (robustness.test.ts runs such routed calls; this one would be 1 GiB).
    const x = { data: new Float32Array([1]), shape: [1, 1, 1, 1] };
    const w = { data: new Float32Array(16).fill(1), shape: [16, 1, 1, 1] };
    for (const backend of ['wasm-simd', 'wasm-scalar'] as const) {
      if (backend === 'wasm-simd' && !backendInfo().available.wasmSimd) continue;
      const e = explain(x, w, { padding: [0, 0, 2 ** 23, 2 ** 23], backend });
      expect(e.backend, backend).toBe('js');
      expect(e.reason).toMatch(/^the wasm backend cannot take this call \(a tensor would exceed 2\^28 elements/);
    }
    // The backend still works afterwards.
    expectClose(
      conv2d({ data: xData, shape: X_SHAPE }, { data: wData, shape: W_SHAPE }, { ...OPTS, bias: bData, backend: 'wasm-scalar' })
        .data,
      'wasm after'
    );
  });

  it('an input detached before the call is rejected by every backend', async () => {
    for (const backend of backends()) {
      const x = xData.slice();
      structuredClone(x.buffer, { transfer: [x.buffer] });
      expect(() => conv2d({ data: x, shape: X_SHAPE }, { data: wData, shape: W_SHAPE }, { ...OPTS, backend }), backend).toThrow(
        RangeError
      );
      await expect(
        conv2dAsync({ data: x, shape: X_SHAPE }, { data: wData, shape: W_SHAPE }, { ...OPTS, backend })
      ).rejects.toThrow(RangeError);
    }
  });
});

describe.skipIf(!expectNative)(nativeOnly('the raw native addon'), () => {
  const call = (p: Int32Array, x: unknown, w: unknown, b: unknown, o: unknown, algo = 1) =>
    (rawAddon() as { conv2d: (...a: unknown[]) => void }).conv2d(p, algo, x, w, b, o);

  it('works on SharedArrayBuffer, offset views, subclasses; rejects proxies, detached and lying arrays', () => {
    nativeBackend(); // the addon src/backends/native.ts loaded, or this run's reason it did not
    const out = offsetView(new Float32Array(COUNT), true);
    call(packParams(P), offsetView(xData, true), offsetView(wData, false), bData, out);
    expectClose(out, 'raw shared');
    class Sub extends Float32Array {}
    const out2 = new Sub(COUNT);
    call(packParams(P), Sub.from(xData), wData, null, out2);
    expect(Number.isFinite(out2[0])).toBe(true);
    expect(() => call(packParams(P), new Proxy(xData, {}), wData, bData, new Float32Array(COUNT))).toThrow(TypeError);
    class Liar extends Float32Array {
      override get length() {
        return xData.length;
      }
    }
    expect(() => call(packParams(P), Liar.from(xData.subarray(0, 10)), wData, bData, new Float32Array(COUNT))).toThrow(
      RangeError
    );
    const gone = xData.slice();
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    expect(() => call(packParams(P), gone, wData, bData, new Float32Array(COUNT))).toThrow(TypeError);
  });

  it('survives a batch of hand-packed bad parameter vectors in a child process', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', RAW_BATCH, addonFile], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const report = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    expect(r.signal, `child killed by ${r.signal}; stderr:\n${r.stderr}`).toBeNull();
    expect(r.status, `child exit ${r.status}\n${r.stdout}\n${r.stderr}`).toBe(0);
    const { tried, threw, ran, bad } = JSON.parse(report);
    expect(bad, JSON.stringify(bad)).toEqual([]);
    expect(tried).toBeGreaterThanOrEqual(1500);
    expect(threw).toBeGreaterThan(tried / 2);
    expect(ran + threw).toBe(tried);
  });

  // native/addon.cc: the Napi::References keep the typed-array objects alive but not their memory; a
  // buffer transferred away whose new owner is collected was freed while Execute() used it (SIGSEGV,
  // heap-use-after-free under ASan). Async calls now run on native copies; OnOK copies the result into
  // `out` unless a buffer was detached, in which case the promise rejects.
  it('an async call whose buffers are transferred away and collected mid-call rejects, and the process lives', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', TRANSFER_MID_CALL, addonFile], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.signal, `child killed by ${r.signal}; stderr:\n${r.stderr}`).toBeNull();
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/rejected: .*detached/);
    expect(r.stdout).toMatch(/after: ok/);
  });
});

/** The addon module itself (the same instance src/backends/native.ts loaded: require caches it). */
function rawAddon(): unknown {
  return createRequire(import.meta.url)(addonFile);
}

/**
 * Child script: ~2,000 raw conv2d calls with parameter vectors mutated from a valid one (0, -1, ±1,
 * INT32_MAX, INT32_MIN, 2^24 + 1 in each field, then random multi-field mutations), buffers sized from
 * the valid problem or from the claimed one when it is small, every algorithm code and some bad ones.
 * Each call must throw TypeError/RangeError/Error(algorithm) or return; prints one JSON line.
 */
const RAW_BATCH = `
import { createRequire } from 'node:module';
const addon = createRequire(import.meta.url)(process.argv[1]);
const base = ${JSON.stringify([...packParams({ N: 2, C: 4, H: 9, W: 8, K: 6, R: 3, S: 3, groups: 1, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, OH: 9, OW: 8, relu: false })])};
const size = (p) => {
  const [N, C, H, W, K, R, S, g, , , , , , , , , OH, OW] = p;
  return [N * C * H * W, K * Math.trunc(C / g) * R * S, K, N * K * OH * OW];
};
const SPECIAL = [0, -1, 1, 2, 2147483647, -2147483648, (1 << 24) + 1, 3, 65536];
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
let tried = 0, threw = 0, ran = 0; const bad = [];
function one(p, algo, sizeFrom) {
  const s = size(sizeFrom).map((n) => (n >= 0 && n <= 1e6 ? n : 16));
  const args = [Int32Array.from(p), algo, new Float32Array(s[0]).fill(0.5), new Float32Array(s[1]).fill(0.25),
    rnd() < 0.5 ? null : new Float32Array(s[2]), new Float32Array(s[3])];
  tried++;
  try { addon.conv2d(...args); ran++; }
  catch (e) {
    threw++;
    const ok = e instanceof TypeError || e instanceof RangeError || (e instanceof Error && /algorithm|algo/.test(e.message));
    if (!ok || !e.message) bad.push(String(e && e.stack || e).slice(0, 200));
  }
  // explain()'s question on the same parameters: a thread count the pool has, or a clean error.
  try {
    const t = addon.threadsFor(args[0], algo);
    if (!(t === 1 || t === addon.getNumThreads())) bad.push('threadsFor gave ' + t);
  } catch (e) {
    if (!(e instanceof TypeError || e instanceof RangeError) || !e.message) bad.push('threadsFor: ' + String(e && e.stack || e).slice(0, 200));
  }
}
for (let f = 0; f < base.length; f++) for (const v of SPECIAL) for (const algo of [0, 1, 2, 3]) {
  const p = base.slice(); p[f] = v;
  one(p, algo, rnd() < 0.5 ? base : p);
}
for (let i = 0; i < 1500; i++) {
  const p = base.slice();
  const k = 1 + Math.floor(rnd() * 3);
  for (let j = 0; j < k; j++) {
    const f = Math.floor(rnd() * p.length);
    p[f] = rnd() < 0.5 ? SPECIAL[Math.floor(rnd() * SPECIAL.length)] : Math.floor(rnd() * 12) - 2;
  }
  const algo = rnd() < 0.9 ? Math.floor(rnd() * 4) : [4, -1, 1.5, NaN, 1e9, '1'][Math.floor(rnd() * 6)];
  one(p, algo, rnd() < 0.3 ? base : p);
}
// Wrong argument types and counts.
for (const args of [[], [Int32Array.from(base)], [Float32Array.from(base), 1], [Int32Array.from(base).subarray(1), 1],
  [new Int32Array(new SharedArrayBuffer(4 * base.length)), 1, new Float32Array(1), new Float32Array(1), null, new Float32Array(1)]]) {
  tried++;
  try { addon.conv2d(...args); ran++; } catch (e) { threw++; if (!(e instanceof TypeError || e instanceof RangeError)) bad.push(String(e)); }
}
// Bad weight-store handles: anything but a handle from packedWeights() is a TypeError naming the argument.
const [ni, nw, , no] = size(base);
const good = [Int32Array.from(base), 1, new Float32Array(ni), new Float32Array(nw), null, new Float32Array(no)];
for (const h of [{}, 1, 'x', new Float32Array(1), [addon.packedWeights()], Symbol('h')]) {
  for (const call of [() => addon.conv2d(...good, h), () => addon.releasePacked(h), () => addon.packedBytes(h)]) {
    tried++;
    try { call(); ran++; bad.push('accepted a bad store handle'); }
    catch (e) { threw++; if (!(e instanceof TypeError) || !/packed/.test(e.message)) bad.push(String(e)); }
  }
}
console.log(JSON.stringify({ tried, threw, ran, bad: bad.slice(0, 10) }));
`;

/**
 * Child script: a slow async call (the generic direct loop on a dense shape, one thread) whose input and
 * output buffers are transferred to new owners that are dropped and garbage-collected while the worker
 * thread still runs; the freed memory is then reused. The promise must reject, and the process must
 * stay healthy: a following call works.
 */
const TRANSFER_MID_CALL = `
import { createRequire } from 'node:module';
const addon = createRequire(import.meta.url)(process.argv[1]);
addon.setNumThreads(1);
const p = Int32Array.from(${JSON.stringify([...packParams({ N: 2, C: 48, H: 48, W: 48, K: 48, R: 3, S: 3, groups: 1, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, OH: 48, OW: 48, relu: false })])});
const x = new Float32Array(2 * 48 * 48 * 48).fill(1), w = new Float32Array(48 * 48 * 9).fill(1);
const out = new Float32Array(2 * 48 * 48 * 48);
const pending = addon.conv2dAsync(p, 0, x, w, null, out);
structuredClone(out.buffer, { transfer: [out.buffer] });
structuredClone(x.buffer, { transfer: [x.buffer] });
globalThis.gc();
const junk = [];
for (let i = 0; i < 64; i++) junk.push(new Float32Array(out.length + (i % 3)).fill(7));
try { await pending; console.log('resolved (wrong)'); } catch (e) { console.log('rejected: ' + e.message); }
if (junk.some((j) => j.some((v) => v !== 7))) { console.log('freed memory was written after the call'); process.exit(2); }
const y = new Float32Array(2 * 48 * 48 * 48);
addon.conv2d(p, 1, new Float32Array(2 * 48 * 48 * 48).fill(1), w, null, y);
console.log(y[48 * 48 + 49] === 48 * 9 ? 'after: ok' : 'after: wrong ' + y[48 * 48 + 49]);
`;
