// The layer suite (bench/layers.json) timed through fastconv's public API. Plain JS with no imports,
// so the demo page and Node run literally the same loop: their figures differ only by the engine.
// Steady state: the output buffer is reused (`out`), the first 250 ms of calls per layer are untimed
// (engines tier wasm up from a baseline compiler in the background: with 60 ms the page's first layer
// measured 14-17 % below Node's), and tiny layers are timed in batches long enough for the timer's
// resolution (browsers coarsen performance.now()).

const now = () => performance.now();

/** Deterministic floats in [-1, 1): every environment times the same data. */
function floats(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

/** A layers.json entry as conv arguments, with its FLOP count (2 * MACs). */
export function layerCall(layer) {
  const dims = layer.op === 'conv1d' ? 1 : 2;
  const [N, C, ...spatial] = layer.input;
  const K = layer.out_channels,
    kernel = layer.kernel,
    g = layer.groups;
  const out = spatial.map(
    (n, i) => Math.floor((n + 2 * layer.padding - layer.dilation * (kernel[i] - 1) - 1) / layer.stride) + 1
  );
  const count = (shape) => shape.reduce((a, b) => a * b, 1);
  const wShape = [K, C / g, ...kernel];
  return {
    dims,
    input: { data: floats(count(layer.input), 1), shape: layer.input },
    weight: { data: floats(count(wShape), 2), shape: wShape },
    options: {
      bias: floats(K, 3),
      stride: layer.stride,
      padding: layer.padding,
      dilation: layer.dilation,
      groups: g,
      out: new Float32Array(N * K * count(out)),
    },
    flops: 2 * N * K * count(out) * (C / g) * count(kernel),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

/**
 * Times every layer: `runs` timed batches each (median), after `warmupMs` of untimed calls.
 * `api` is fastconv's module; `backend` goes into each call's options. `onLayer` sees each result as
 * it arrives; `pause` lets a page repaint between layers.
 */
export async function runSuite(
  api,
  layers,
  { backend = 'wasm', runs = 5, warmupMs = 250, minBatchMs = 20, onLayer, pause } = {}
) {
  const results = [];
  for (const layer of layers) {
    const call = layerCall(layer);
    const conv = call.dims === 2 ? api.conv2d : api.conv1d;
    const options = { ...call.options, backend };
    const once = () => conv(call.input, call.weight, options);
    const t0 = now();
    let warm = 0;
    do {
      once();
      warm++;
    } while (warm < 2 || now() - t0 < warmupMs);
    const perCall = (now() - t0) / warm;
    const reps = Math.max(1, Math.ceil(minBatchMs / Math.max(perCall, 1e-3)));
    const times = [];
    for (let r = 0; r < runs; r++) {
      const t = now();
      for (let i = 0; i < reps; i++) once();
      times.push((now() - t) / reps);
    }
    const ms = median(times);
    const how = api.explain ? api.explain(call.input, call.weight, options) : undefined;
    const result = {
      id: layer.id,
      name: layer.name,
      ms,
      gflops: call.flops / (ms * 1e6),
      runs,
      reps,
      algorithm: how?.algorithm,
      isa: how?.isa,
      threads: how?.threads,
    };
    results.push(result);
    onLayer?.(result);
    if (pause) await pause();
  }
  return results;
}

/** Geometric mean of GFLOP/s, the suite's one-number summary. */
export function geomean(results) {
  return Math.exp(results.reduce((a, r) => a + Math.log(r.gflops), 0) / results.length);
}
