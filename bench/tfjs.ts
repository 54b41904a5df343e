// `npm run build:ts && node dist/bench/tfjs.js`: whole tf.layers models, random weights, batch 1 at
// 224², `predict` latency on the TF.js backends 'fastconv' (fastconv/tfjs, at 1 thread and all threads),
// 'wasm' (tfjs-backend-wasm: one thread in Node) and 'cpu' (tfjs-backend-cpu), in one process, with the
// ratios and each backend's per-op time shares (tf.profile). Outputs are checked against cpu's. Besides
// wall time it reports the process's CPU time per predict: on a shared machine under load, the wall time
// of a 1-thread predict includes other processes' time slices, its CPU time does not.
//
// Flags: --models mobilenetv2,resnet50  --runs N (timed predicts per backend; cpu gets at most 2)  --json
//        --ops (every op's ms per predict and call count, per backend)  --backends fastconv,wasm,cpu

import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Tf = typeof import('@tensorflow/tfjs');

interface ModelSpec {
  name: string;
  build: (tf: Tf) => import('@tensorflow/tfjs').LayersModel;
}

/** MobileNetV2 (1.0, 224): inverted residual blocks with BatchNorm and ReLU6, random weights. */
function mobilenetV2(tf: Tf) {
  const L = tf.layers;
  let seed = 1;
  const init = () => tf.initializers.heNormal({ seed: seed++ });
  const convBn = (x: import('@tensorflow/tfjs').SymbolicTensor, filters: number, k: number, stride: number, act: boolean) => {
    let y = L.conv2d({
      filters,
      kernelSize: k,
      strides: stride,
      padding: 'same',
      useBias: false,
      kernelInitializer: init(),
    }).apply(x) as import('@tensorflow/tfjs').SymbolicTensor;
    y = L.batchNormalization().apply(y) as import('@tensorflow/tfjs').SymbolicTensor;
    return act ? (L.reLU({ maxValue: 6 }).apply(y) as import('@tensorflow/tfjs').SymbolicTensor) : y;
  };
  const input = tf.input({ shape: [224, 224, 3] });
  let x = convBn(input, 32, 3, 2, true);
  let channels = 32;
  const blocks: [number, number, number, number][] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  for (const [t, c, n, s] of blocks) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      let y = t === 1 ? x : convBn(x, channels * t, 1, 1, true);
      y = L.depthwiseConv2d({
        kernelSize: 3,
        strides: stride,
        padding: 'same',
        useBias: false,
        depthwiseInitializer: init(),
      }).apply(y) as import('@tensorflow/tfjs').SymbolicTensor;
      y = L.batchNormalization().apply(y) as import('@tensorflow/tfjs').SymbolicTensor;
      y = L.reLU({ maxValue: 6 }).apply(y) as import('@tensorflow/tfjs').SymbolicTensor;
      y = convBn(y, c, 1, 1, false);
      x = stride === 1 && channels === c ? (L.add().apply([x, y]) as import('@tensorflow/tfjs').SymbolicTensor) : y;
      channels = c;
    }
  }
  x = convBn(x, 1280, 1, 1, true);
  x = L.globalAveragePooling2d({}).apply(x) as import('@tensorflow/tfjs').SymbolicTensor;
  // Logits, not softmax: random weights saturate a softmax, which would hide differences in the check.
  const out = L.dense({ units: 1000, kernelInitializer: init() }).apply(x) as import('@tensorflow/tfjs').SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** ResNet-50 (224): bottleneck blocks [3, 4, 6, 3] with BatchNorm and ReLU, random weights. */
function resnet50(tf: Tf) {
  const L = tf.layers;
  type S = import('@tensorflow/tfjs').SymbolicTensor;
  let seed = 100;
  const init = () => tf.initializers.heNormal({ seed: seed++ });
  const convBn = (x: S, filters: number, k: number, stride: number, act: boolean) => {
    let y = L.conv2d({
      filters,
      kernelSize: k,
      strides: stride,
      padding: 'same',
      useBias: false,
      kernelInitializer: init(),
    }).apply(x) as S;
    y = L.batchNormalization().apply(y) as S;
    return act ? (L.activation({ activation: 'relu' }).apply(y) as S) : y;
  };
  const input = tf.input({ shape: [224, 224, 3] });
  let x = convBn(input, 64, 7, 2, true);
  x = L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as S;
  const stages: [number, number, number][] = [
    [64, 3, 1],
    [128, 4, 2],
    [256, 6, 2],
    [512, 3, 2],
  ];
  for (const [width, n, s] of stages) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      let y = convBn(x, width, 1, 1, true);
      y = convBn(y, width, 3, stride, true);
      y = convBn(y, width * 4, 1, 1, false);
      const shortcut = i === 0 ? convBn(x, width * 4, 1, stride, false) : x;
      x = L.activation({ activation: 'relu' }).apply(L.add().apply([shortcut, y]) as S) as S;
    }
  }
  x = L.globalAveragePooling2d({}).apply(x) as S;
  const out = L.dense({ units: 1000, kernelInitializer: init() }).apply(x) as S;
  return tf.model({ inputs: input, outputs: out });
}

export const MODELS: Record<string, ModelSpec> = {
  mobilenetv2: { name: 'MobileNetV2 224² batch 1', build: mobilenetV2 },
  resnet50: { name: 'ResNet-50 224² batch 1', build: resnet50 },
};

interface Row {
  /** 'fastconv eager' for the run without deferred outputs. */
  backend: string;
  threads: number;
  medianMs: number;
  runs: number;
  maxRelDiff: number | null;
  topOps: [string, number][];
  /**
   * The process's CPU time (user + system, every thread) per predict, median: at 1 thread, the latency the
   * predict would have on an idle core (wall time on a loaded machine also counts the other processes' slices).
   */
  cpuMs: number;
  /** Per op: kernel ms (median over the profiled predicts) and calls. */
  ops: [string, number, number][];
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0,
    diff = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

export async function tfjsMain(argv: string[]): Promise<number> {
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const models = (flag('--models') ?? 'mobilenetv2,resnet50').split(',').map((m) => m.trim().toLowerCase());
  for (const m of models)
    if (!MODELS[m])
      throw new RangeError(`--models: unknown model ${JSON.stringify(m)} (known: ${Object.keys(MODELS).join(', ')})`);
  const runs = Number(flag('--runs') ?? 5);
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be an integer >= 1, got ${flag('--runs')}`);
  const json = argv.includes('--json');
  const showOps = argv.includes('--ops');
  const only = flag('--backends')
    ?.split(',')
    .map((b) => b.trim());
  const say = (s: string) => {
    if (!json) process.stdout.write(`${s}\n`);
  };

  const tf: Tf = await import('@tensorflow/tfjs');
  const fastconvTfjs = await import('../src/tfjs/index.node.js');
  const fastconv = await import('../src/index.node.js');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));

  const all = Math.min(availableParallelism(), 256);
  const info = fastconv.backendInfo();
  say(
    `fastconv/tfjs bench: ${cpus()[0]?.model.trim()}, ${all} threads, node ${process.versions.node}; fastconv engine ${info.selected} (${info.isa}); ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`
  );
  // 'eager': fastconv without deferred convolution outputs (FastconvBackend.deferConvolutions off), which
  // shows the gain of folding the batch norms and the ReLUs into the convolutions, and a per-op profile
  // where every op is charged its own time: with deferral a pending convolution runs inside the op that
  // first reads its output (mostly the next convolution).
  const configs: { backend: string; threads: number; eager?: boolean }[] = [
    { backend: fastconvTfjs.BACKEND_NAME, threads: 1 },
    { backend: fastconvTfjs.BACKEND_NAME, threads: 1, eager: true },
    ...(all > 1 ? [{ backend: fastconvTfjs.BACKEND_NAME, threads: all }] : []),
    { backend: 'wasm', threads: 1 },
    { backend: 'cpu', threads: 1 },
  ].filter((c) => !only || only.includes(c.backend));
  const report: Record<string, Row[]> = {};
  for (const key of models) {
    const spec = MODELS[key];
    await tf.setBackend('cpu');
    // tfjs-backend-cpu's first write in Node prints advice to install tfjs-node.
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    const model = spec.build(tf);
    const input = tf.randomUniform([1, 224, 224, 3], -1, 1, 'float32', 5);
    let reference: Float32Array | null = null;
    const rows: Row[] = [];
    // cpu first: its output is what the others are checked against.
    for (const c of [...configs].sort((a, b) => (a.backend === 'cpu' ? -1 : b.backend === 'cpu' ? 1 : 0))) {
      if (!(await tf.setBackend(c.backend))) {
        say(`${spec.name}: backend ${c.backend} did not initialize`);
        continue;
      }
      if (c.backend === fastconvTfjs.BACKEND_NAME) {
        fastconv.setNumThreads(c.threads);
        (tf.backend() as InstanceType<typeof fastconvTfjs.FastconvBackend>).deferConvolutions = !c.eager;
      }
      const predict = () => tf.tidy(() => (model.predict(input) as import('@tensorflow/tfjs').Tensor).dataSync() as Float32Array);
      const first = predict(); // moves the weights here, packs fastconv's filters, warms caches
      if (c.backend === 'cpu') reference = first.slice();
      const n = c.backend === 'cpu' ? Math.min(runs, 2) : runs;
      const times: number[] = [],
        cpuTimes: number[] = [];
      for (let i = 0; i < n; i++) {
        const c0 = process.cpuUsage(),
          t0 = performance.now();
        predict();
        times.push(performance.now() - t0);
        const c1 = process.cpuUsage(c0);
        cpuTimes.push((c1.user + c1.system) / 1000);
      }
      // Per op, the median over a few profiled predicts: one predict's op times move with the machine's load.
      const profiles = c.backend === 'cpu' ? 1 : Math.min(n, 3);
      const perRun = new Map<string, number[]>(),
        calls = new Map<string, number>();
      for (let run = 0; run < profiles; run++) {
        const profile = await tf.profile(() => {
          predict();
        });
        const msThisRun = new Map<string, number>(),
          callsThisRun = new Map<string, number>();
        // Op scopes (name__op) wrap the kernels they run: count kernels only.
        for (const k of profile.kernels) {
          if (k.name.endsWith('__op')) continue;
          msThisRun.set(k.name, (msThisRun.get(k.name) ?? 0) + (k.kernelTimeMs as number));
          callsThisRun.set(k.name, (callsThisRun.get(k.name) ?? 0) + 1);
        }
        for (const [op, ms] of msThisRun) perRun.set(op, [...(perRun.get(op) ?? []), ms]);
        for (const [op, k] of callsThisRun) calls.set(op, k);
      }
      const byOp = new Map([...perRun].map(([op, list]): [string, number] => [op, median(list)]));
      const total = [...byOp.values()].reduce((a, b) => a + b, 0);
      const topOps = [...byOp.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([op, ms]): [string, number] => [op, ms / total]);
      const ops = [...byOp.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([op, ms]): [string, number, number] => [op, ms, calls.get(op) ?? 0]);
      rows.push({
        backend: c.eager ? `${c.backend} eager` : c.backend,
        threads: c.threads,
        medianMs: median(times),
        cpuMs: median(cpuTimes),
        runs: n,
        maxRelDiff: reference && c.backend !== 'cpu' ? maxRelDiff(first, reference) : null,
        topOps,
        ops,
      });
    }
    fastconv.setNumThreads(all);
    if (await tf.setBackend(fastconvTfjs.BACKEND_NAME))
      (tf.backend() as InstanceType<typeof fastconvTfjs.FastconvBackend>).deferConvolutions = true;
    model.dispose();
    input.dispose();
    report[key] = rows;
    const cpuRow = rows.find((r) => r.backend === 'cpu'),
      wasmRow = rows.find((r) => r.backend === 'wasm');
    const ratio = (base: number | undefined, v: number, digits: number) => (base ? (base / v).toFixed(digits) : '-');
    say(
      `\n${spec.name} (load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} after it)`
    );
    say(
      '| backend | threads | predict ms (median) | x wasm | x cpu | CPU ms per predict | x wasm, x cpu by CPU time | max rel diff vs cpu | top ops (share of kernel time) |'
    );
    say('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const ops = r.topOps.map(([op, s]) => `${op} ${(s * 100).toFixed(0)}%`).join(', ');
      say(
        `| ${r.backend} | ${r.threads} | ${r.medianMs.toFixed(1)} (${r.runs} runs) | ${ratio(wasmRow?.medianMs, r.medianMs, 2)} | ` +
          `${ratio(cpuRow?.medianMs, r.medianMs, 1)} | ${r.cpuMs.toFixed(1)} | ${ratio(wasmRow?.cpuMs, r.cpuMs, 2)}, ${ratio(cpuRow?.cpuMs, r.cpuMs, 1)} | ` +
          `${r.maxRelDiff === null ? '-' : r.maxRelDiff.toExponential(1)} | ${ops} |`
      );
    }
    if (showOps) {
      for (const r of rows) {
        say(
          `\n${spec.name}, ${r.backend} at ${r.threads} thread(s), per predict: op, kernel ms (median of the profiled predicts), calls`
        );
        for (const [op, ms, calls] of r.ops) say(`  ${op.padEnd(32)} ${ms.toFixed(2).padStart(9)} ${String(calls).padStart(5)}`);
      }
    }
  }
  if (json)
    process.stdout.write(
      `${JSON.stringify({ machine: { cpu: cpus()[0]?.model.trim(), threads: all, node: process.versions.node, fastconv: info.selected, isa: info.isa }, report }, null, 1)}\n`
    );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  tfjsMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`bench --tfjs: ${e instanceof RangeError ? e.message : (e.stack ?? e)}\n`);
      process.exit(2);
    }
  );
}
