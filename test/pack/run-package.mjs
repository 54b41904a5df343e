// Runs an installed (or staged) fastconv package the way a user's process would and checks what it
// computes: imports the entry, reports backendInfo(), then runs a set of convolutions on the selected
// backend with every algorithm (forced, 1 and 2 threads, sync and async) and compares each output
// element with the package's float64 reference (backend 'js') on the same inputs:
//   |got - want| <= tol[algo] * S + normwise[algo] * max S of the output plane,
// S = the same convolution of |x|, |w|, |b| (the scale of the sum's rounding error).
// Plain JavaScript so that it runs in a consumer without devDependencies, and under qemu with another
// architecture's node.
//
//   node run-package.mjs <entry: a file path or 'fastconv'> '<tolerances JSON>'
// Prints one JSON object: { info, warnings, cases: [{ name, algorithm, threads, async, ok, checked,
// worst, error? }] }.
import { pathToFileURL } from 'node:url';

const [entry, tolJson] = process.argv.slice(2);
const { tol, normwise } = JSON.parse(
  tolJson ?? '{"tol":{"direct":1e-5,"im2col":1e-5,"winograd":1e-4,"fft":1e-4},"normwise":{"fft":1e-6}}'
);
const warnings = [];
process.on('warning', (w) => warnings.push(`${w.name}${w.code ? ` [${w.code}]` : ''}: ${w.message}`));

const fc = await import(entry.startsWith('/') ? pathToFileURL(entry).href : entry);
// process.emitWarning delivers on a later tick: let it arrive before the warnings are read.
await new Promise((r) => setImmediate(r));
const info = fc.backendInfo();

const fill = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 0.731) * (1 + (i % 7) / 3));
const prod = (s) => s.reduce((a, b) => a * b, 1);
const abs = (a) => a.map(Math.abs);

// Shapes where each algorithm applies: 3x3 (Winograd), 1x1 and strided (im2col), depthwise (direct),
// a large kernel (FFT), dilation, groups, conv1d, and edges that leave partial SIMD vectors.
const CASES = [
  { name: '3x3 pad 1', x: [2, 8, 13, 11], w: [16, 8, 3, 3], o: { padding: 1 } },
  { name: '1x1', x: [1, 24, 7, 9], w: [20, 24, 1, 1], o: {} },
  { name: '3x3 stride 2 groups 2', x: [1, 8, 15, 15], w: [12, 4, 3, 3], o: { stride: 2, padding: 1, groups: 2 } },
  { name: 'depthwise 3x3', x: [1, 10, 12, 12], w: [10, 1, 3, 3], o: { padding: 1, groups: 10 } },
  { name: '7x7 kernel', x: [1, 3, 30, 28], w: [5, 3, 7, 7], o: { padding: 3 } },
  { name: '3x3 dilation 2', x: [1, 6, 14, 14], w: [7, 6, 3, 3], o: { dilation: 2, padding: 2 } },
  { name: 'conv1d k5', x: [2, 6, 40], w: [9, 6, 5], o: { padding: 2 }, d1: true },
];
const ALGOS = ['direct', 'im2col', 'winograd', 'fft'];

function check(got, want, scale, planeSize, algorithm) {
  const t = tol[algorithm] ?? 1e-4,
    nw = normwise[algorithm] ?? 0;
  let worst = 0,
    bad = 0;
  for (let base = 0; base < want.length; base += planeSize) {
    let planeMax = 0;
    for (let i = base; i < base + planeSize; i++) planeMax = Math.max(planeMax, scale[i]);
    for (let i = base; i < base + planeSize; i++) {
      const bound = t * scale[i] + nw * planeMax;
      const err = Math.abs(got[i] - want[i]);
      if (!(err <= bound)) bad++;
      if (bound > 0) worst = Math.max(worst, err / bound);
    }
  }
  return { ok: bad === 0 && got.length === want.length, checked: want.length, bad, worst };
}

const cases = [];
const backend = info.selected;
for (const c of CASES) {
  const x = { data: fill(prod(c.x), 1), shape: c.x },
    w = { data: fill(prod(c.w), 2), shape: c.w };
  const bias = fill(c.w[0], 3);
  const conv = c.d1 ? fc.conv1d : fc.conv2d,
    convAsync = c.d1 ? fc.conv1dAsync : fc.conv2dAsync;
  const want = conv(x, w, { ...c.o, bias, backend: 'js' }).data;
  const scale = conv(
    { data: abs(x.data), shape: c.x },
    { data: abs(w.data), shape: c.w },
    { ...c.o, bias: abs(bias), backend: 'js' }
  );
  const planeSize = prod(scale.shape.slice(2));
  for (const threads of [1, 2]) {
    if (fc.setNumThreads) fc.setNumThreads(threads);
    for (const algorithm of [...ALGOS, 'auto']) {
      for (const isAsync of threads === 1 && algorithm === 'auto' ? [false, true] : [false]) {
        const opts = { ...c.o, bias, backend, algorithm };
        const row = { name: c.name, algorithm, threads, async: isAsync };
        try {
          const used = algorithm === 'auto' ? fc.explain(x, w, opts).algorithm : algorithm;
          const y = isAsync ? await convAsync(x, w, opts) : conv(x, w, opts);
          cases.push({ ...row, used, ...check(y.data, want, scale.data, planeSize, used) });
        } catch (e) {
          // An algorithm that does not apply to the shape says so with a RangeError; anything else fails.
          cases.push({
            ...row,
            ok: e instanceof RangeError,
            unsupported: e instanceof RangeError,
            error: String(e.message).split('\n')[0],
          });
        }
      }
    }
  }
}
if (fc.disposeWasmThreads) fc.disposeWasmThreads();
console.log(
  JSON.stringify({
    info: {
      selected: info.selected,
      isa: info.isa,
      nativeAddon: info.nativeAddon,
      errors: info.errors,
      available: info.available,
    },
    warnings,
    cases,
  })
);
