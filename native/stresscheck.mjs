// Robustness of the addon surface: hostile arguments must throw TypeError/RangeError naming the
// argument (never crash), and concurrent sync/async calls with thread-count changes must give the
// same numbers as a quiet sequential call.   node native/stresscheck.mjs
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PARAM_FIELDS } from './interface.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const addonFile = path.join(here, '..', 'build', 'Release', 'fastconv.node');
const addon = createRequire(import.meta.url)(addonFile);
let failures = 0;
const fail = (msg) => {
  failures++;
  console.log(`FAIL ${msg}`);
};

// A valid problem: 1x4x10x10 input, 6 3x3 filters, padding 1.
const packed = (fields) => Int32Array.from(PARAM_FIELDS, (f) => fields[f.name] ?? 0);
const P = [
  ...packed({
    N: 1,
    C: 4,
    H: 10,
    W: 10,
    K: 6,
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
    OH: 10,
    OW: 10,
  }),
];
const mk = () => ({
  params: Int32Array.from(P),
  algo: 1,
  input: new Float32Array(400).fill(1),
  weight: new Float32Array(216).fill(1),
  bias: new Float32Array(6),
  out: new Float32Array(600),
});

function expectThrow(label, mutate, cls, word) {
  const a = mk();
  mutate(a);
  try {
    addon.conv2d(a.params, a.algo, a.input, a.weight, a.bias, a.out);
    fail(`${label}: no error`);
  } catch (e) {
    if (!(e instanceof cls)) fail(`${label}: ${e.constructor.name} instead of ${cls.name}: ${e.message}`);
    else if (!e.message.includes(word)) fail(`${label}: message does not name '${word}': ${e.message}`);
  }
}
const setP = (i, v) => (a) => {
  a.params[i] = v;
};
expectThrow(
  'params not Int32Array',
  (a) => {
    a.params = Float32Array.from(P);
  },
  TypeError,
  'params'
);
expectThrow(
  'params short',
  (a) => {
    a.params = a.params.subarray(0, 18);
  },
  RangeError,
  'params'
);
expectThrow('N = 0', setP(0, 0), RangeError, 'params.N');
expectThrow('C negative', setP(1, -4), RangeError, 'params.C');
expectThrow('stride 0', setP(8, 0), RangeError, 'params.strideH');
expectThrow('pad negative', setP(13, -1), RangeError, 'params.padBottom');
expectThrow('groups not dividing C', setP(7, 3), RangeError, 'params.groups');
expectThrow('OH wrong', setP(16, 11), RangeError, 'params.OH');
expectThrow('relu 2', setP(18, 2), RangeError, 'params.relu');
expectThrow(
  'kernel larger than input',
  (a) => {
    a.params[5] = 30;
  },
  RangeError,
  'larger than the padded input'
);
expectThrow(
  'huge sizes overflow',
  (a) => {
    a.params.set([65536, 65536, 65536, 65536], 0);
    a.params.set([65536, 65536], 16);
  },
  RangeError,
  'input'
);
expectThrow(
  'huge output',
  (a) => {
    a.params.set([2147483647, 1, 1, 1, 2147483647, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0]);
  },
  RangeError,
  'output'
);
expectThrow(
  'algo string',
  (a) => {
    a.algo = 'im2col';
  },
  TypeError,
  'algo'
);
expectThrow(
  'algo 1.5',
  (a) => {
    a.algo = 1.5;
  },
  RangeError,
  'algo'
);
expectThrow(
  'algo 99',
  (a) => {
    a.algo = 99;
  },
  Error,
  'algo'
);
expectThrow(
  'winograd at stride 2',
  (a) => {
    a.algo = 2;
    a.params.set([2, 2], 8);
    a.params.set([5, 5], 16);
    a.out = new Float32Array(150);
  },
  Error,
  'winograd needs'
);
expectThrow(
  'input Float64Array',
  (a) => {
    a.input = new Float64Array(400);
  },
  TypeError,
  'input'
);
expectThrow(
  'input plain array',
  (a) => {
    a.input = Array(400).fill(0);
  },
  TypeError,
  'input'
);
expectThrow(
  'weight null',
  (a) => {
    a.weight = null;
  },
  TypeError,
  'weight'
);
expectThrow(
  'bias wrong length',
  (a) => {
    a.bias = new Float32Array(5);
  },
  RangeError,
  'bias'
);
expectThrow(
  'bias Int32Array',
  (a) => {
    a.bias = new Int32Array(6);
  },
  TypeError,
  'bias'
);
expectThrow(
  'input short',
  (a) => {
    a.input = new Float32Array(399);
  },
  RangeError,
  'input'
);
expectThrow(
  'out long',
  (a) => {
    a.out = new Float32Array(601);
  },
  RangeError,
  'out'
);
expectThrow(
  'out aliases input',
  (a) => {
    const buf = new Float32Array(1000);
    a.input = buf.subarray(0, 400);
    a.out = buf.subarray(300, 900);
  },
  RangeError,
  'out'
);
expectThrow(
  'out aliases bias',
  (a) => {
    const buf = new Float32Array(606);
    a.bias = buf.subarray(0, 6);
    a.out = buf.subarray(3, 603);
  },
  RangeError,
  'out'
);
expectThrow(
  'out overlaps input in one SharedArrayBuffer',
  (a) => {
    const sab = new SharedArrayBuffer(4000);
    a.input = new Float32Array(sab, 0, 400);
    a.out = new Float32Array(sab, 1596, 600);
  },
  RangeError,
  'out'
);
{
  // SharedArrayBuffer-backed arrays are accepted like any other.
  const a = mk(),
    sab = new SharedArrayBuffer(4000);
  a.input = new Float32Array(sab, 0, 400).fill(1);
  a.out = new Float32Array(sab, 1600, 600);
  addon.conv2d(a.params, 1, a.input, a.weight, a.bias, a.out);
  if (a.out[11] !== 36) fail(`SharedArrayBuffer: got ${a.out[11]}, expected 36`);
}
expectThrow(
  'detached input',
  (a) => {
    structuredClone(a.input.buffer, { transfer: [a.input.buffer] });
  },
  TypeError,
  'detached'
);
expectThrow(
  'missing args',
  (a) => {
    a.out = undefined;
  },
  TypeError,
  'out'
);
for (const [fn, arg, cls] of [
  ['setIsa', 'sse9', RangeError],
  ['setIsa', 3, TypeError],
  ['setNumThreads', 0, RangeError],
  ['setNumThreads', 2.5, RangeError],
  ['setNumThreads', '2', TypeError],
]) {
  try {
    addon[fn](arg);
    fail(`${fn}(${arg}): no error`);
  } catch (e) {
    if (!(e instanceof cls)) fail(`${fn}(${arg}): ${e.constructor.name}`);
  }
}
// Async: validation errors reject (never throw synchronously); a good call resolves.
{
  const a = mk();
  const p = addon.conv2dAsync(a.params, a.algo, new Float64Array(400), a.weight, a.bias, a.out);
  await p.then(
    () => fail('async bad input resolved'),
    (e) => {
      if (!(e instanceof TypeError)) fail(`async: ${e}`);
    }
  );
}

// Concurrency: many async calls, sync calls and thread-count changes interleaved.
// N 2, C 32, 40x40, K 48, 3x3 kernel, groups/stride/dilation 1, padding 1, output 40x40, relu.
const bpFields = {
  N: 2,
  C: 32,
  H: 40,
  W: 40,
  K: 48,
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
  OH: 40,
  OW: 40,
  relu: 1,
};
// In the addon's field order (native/interface.mjs), so a new field cannot shift this vector.
const bp = packed(bpFields);
const x = Float32Array.from({ length: 2 * 32 * 1600 }, (_, i) => Math.sin(i));
const w = Float32Array.from({ length: 48 * 32 * 9 }, (_, i) => Math.cos(i));
const b = Float32Array.from({ length: 48 }, (_, i) => i / 48 - 0.5);
const ref = new Float32Array(2 * 48 * 1600);
addon.conv2d(bp, 1, x, w, b, ref);
const same = (o) => o.every((v, i) => Math.abs(v - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])));
const outs = [];
const pending = [];
for (let i = 0; i < 24; i++) {
  const o = new Float32Array(ref.length);
  outs.push(o);
  pending.push(addon.conv2dAsync(bp, i % 2, x, w, b, o));
  if (i % 5 === 0) addon.setNumThreads(1 + (i % 3));
  if (i % 3 === 0) {
    const s = new Float32Array(ref.length);
    addon.conv2d(bp, 1, x, w, b, s);
    if (!same(s)) fail('sync during async differs');
  }
}
let ticks = 0;
const t0 = performance.now();
const timer = setInterval(() => {
  ticks++;
}, 1);
await Promise.all(pending);
clearInterval(timer);
const waited = performance.now() - t0;
outs.forEach((o, i) => {
  if (!same(o)) fail(`async call ${i} differs`);
});
console.log(`concurrency: 24 async + 8 sync calls; a 1 ms timer ticked ${ticks} times in the ${waited.toFixed(1)} ms of waiting`);
addon.setNumThreads(2);

// The addon loads and computes inside worker threads too, concurrently with the main thread.
const workerSrc = `
  const { parentPort, workerData } = require('node:worker_threads');
  const a = require(workerData.file);
  const o = new Float32Array(workerData.n);
  a.conv2dAsync(workerData.p, 1, workerData.x, workerData.w, workerData.b, o).then(() => parentPort.postMessage(o));`;
const results = await Promise.all(
  [0, 1, 2].map(
    () =>
      new Promise((resolve, reject) => {
        const wk = new Worker(workerSrc, { eval: true, workerData: { file: addonFile, n: ref.length, p: bp, x, w, b } });
        wk.once('message', resolve);
        wk.once('error', reject);
      })
  )
);
results.forEach((o, i) => {
  if (!same(o)) fail(`worker ${i} differs`);
});
console.log('workers: 3 worker_threads computed the same result');
console.log(failures === 0 ? 'stresscheck: OK' : `stresscheck: ${failures} FAILURES`);
process.exit(failures ? 1 : 0);
