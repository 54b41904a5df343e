// `npm run bench`: fastconv against its peers on the layer suite. Wires the pieces together:
// flags (args.ts), layers (suite.ts), implementations (fastconv.ts, peers/), checks (reference.ts),
// the interleaved timer (timing.ts), and the outputs (report.ts, svg.ts, results/).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchArgs } from './args.js';
import { parseArgs, USAGE } from './args.js';
import { runBackward } from './backward.js';
import type { BennyRow } from './benny-pass.js';
import { bennyPass } from './benny-pass.js';
import { efficiencyLine, loadPeakProbe } from './efficiency.js';
import type { Arena, FastconvApi, KernelForcing } from './fastconv.js';
import { allThreads, autoChoice, fastconvImpls, forceKernel, isAvailable, kernelRuns, loadFastconv } from './fastconv.js';
import type { Impl, Prepared } from './impl.js';
import { DEFAULT_PEERS, peerByName } from './peers/index.js';
import { Progress } from './progress.js';
import { checkAgainst, compareOutputs, makeOracle, tolerance } from './reference.js';
import { bennyTable, layerBlock, summary } from './report.js';
import type { ImplResult, LayerResult, RunResult } from './results.js';
import { computeRatios } from './results.js';
import type { Layer, LayerData } from './suite.js';
import { channelsLastView, loadSuite, makeData, selectLayers, toChannelsFirst } from './suite.js';
import { barChart } from './svg.js';
import type { TimingOptions } from './timing.js';
import { timeInterleaved } from './timing.js';
import { mergeTorch } from './torch.js';

// The js reference is float64 and ~100x slower: outside --backend js only layers this small run on it.
const JS_MAX_FLOPS = 2e7;
const PEER_TOLERANCE = 1e-4;

// A batch is 20 ms of back-to-back calls: the steady state of a loop over one layer, which is also
// what the PyTorch numbers time. With 2 ms batches the first call of each batch finds the caches emptied
// by the other implementations' batches, and the figures mix in cold weights (L3 Winograd: 193 vs
// 275 GFLOP/s, its transformed filters being 9.4 MB); `--batch-ms 2` shows that picture.
function timingOptions(a: BenchArgs): TimingOptions {
  return a.quick
    ? {
        minRuns: 3,
        maxRuns: 5,
        budgetMs: (a.budgetS ?? 0.3) * 1000,
        minBatchMs: a.batchMs ?? 1,
        warmupMs: 0,
        warmupCalls: 1,
        pruneFactor: 10,
        coolMs: 4,
      }
    : {
        minRuns: 10,
        maxRuns: 200,
        budgetMs: (a.budgetS ?? 6) * 1000,
        minBatchMs: a.batchMs ?? 20,
        warmupMs: 100,
        warmupCalls: 3,
        pruneFactor: 10,
        coolMs: 4,
      };
}

interface Live {
  impl: Impl;
  result: ImplResult;
  prepared?: Prepared;
}

async function measureLayer(
  l: Layer,
  d: LayerData,
  impls: Impl[],
  a: BenchArgs,
  progress: Progress,
  step: number,
  say: (msg: string) => void
): Promise<ImplResult[]> {
  const oracle = makeOracle(l, d);
  const live: Live[] = [];
  let reference: { id: string; out: Float32Array } | null = null;
  for (const impl of impls) {
    progress.update(step, 0, `${l.id} ${l.name}`, `preparing ${impl.id}`);
    const result: ImplResult = {
      id: impl.id,
      family: impl.family,
      arena: impl.arena,
      threads: impl.threads,
      algorithm: impl.algorithm,
      status: 'ok',
    };
    live.push({ impl, result });
    // A channels-last row calls fastconv in NHWC; peers get NCHW (TF.js transposes to its own NHWC).
    const nhwc = l.layout === 'NHWC' && impl.family === 'fastconv';
    const view = nhwc ? channelsLastView(l, d) : { l, d };
    let p: Prepared | string;
    try {
      p = await impl.prepare(view.l, view.d);
    } catch (e) {
      p = `error: ${(e as Error).message.split('\n')[0]}`;
    }
    if (typeof p === 'string') {
      result.status = p.startsWith('error: ') ? 'error' : 'n/a';
      result.reason = p.replace(/^error: /, '');
      continue;
    }
    live[live.length - 1].prepared = p;
    try {
      await p.run();
      const got = await p.output();
      const out = nhwc ? toChannelsFirst(got, l.N, l.K, l.OH * l.OW) : got;
      result.check = checkAgainst(oracle, out);
      const tol = impl.family === 'peer' ? PEER_TOLERANCE : tolerance(impl.algorithm);
      const bad = (c: { maxRel: number; nonFinite: number }) => c.nonFinite > 0 || !(c.maxRel <= tol);
      if (bad(result.check)) {
        result.status = 'mismatch';
        say(
          `!! MISMATCH ${l.id} ${impl.id}: max |got-ref| = ${result.check.maxAbs.toExponential(2)}, ` +
            `${result.check.maxRel.toExponential(2)} x S (tolerance ${tol}), ${result.check.nonFinite} non-finite`
        );
      }
      if (impl.family === 'fastconv' && result.status === 'ok' && !reference) reference = { id: impl.id, out: out.slice() };
      if (impl.family === 'peer' && reference) {
        result.vsFastconv = { ...compareOutputs(oracle, out, reference.out), reference: reference.id };
        if (bad(result.vsFastconv)) {
          result.status = 'mismatch';
          say(
            `!! MISMATCH ${l.id} ${impl.id} vs ${reference.id}: max |Δ| = ${result.vsFastconv.maxAbs.toExponential(2)}, ` +
              `${result.vsFastconv.maxRel.toExponential(2)} x S`
          );
        }
      }
    } catch (e) {
      result.status = 'error';
      result.reason = (e as Error).message.split('\n')[0];
      live[live.length - 1].prepared = undefined;
    }
  }
  const timed = live.filter((x): x is Live & { prepared: Prepared } => x.prepared !== undefined);
  // fastconv's algorithms compete only with each other (same thread count) for pruning; peers are always timed.
  const groups = timed.map((x) => (x.impl.family === 'fastconv' ? `${x.impl.arena}/${x.impl.threads}` : null));
  const timings = await timeInterleaved(
    timed.map((x) => x.prepared),
    groups,
    timingOptions(a),
    (round, f) => progress.update(step, f, `${l.id} ${l.name}`, `round ${round}, ${timed.length} implementations`)
  );
  timed.forEach((x, i) => {
    x.result.timing = timings[i];
    x.result.gflops = l.flops / (timings[i].medianMs * 1e6);
  });
  for (const x of live) {
    try {
      await x.prepared?.dispose?.();
    } catch {
      /* a failing dispose does not spoil the numbers */
    }
  }
  return live.map((x) => x.result);
}

function resultsDir(a: BenchArgs): string {
  return a.out ?? fileURLToPath(new URL('../../bench/results/', import.meta.url));
}

function writeResults(run: RunResult, a: BenchArgs, say: (m: string) => void): void {
  const dir = resultsDir(a);
  mkdirSync(dir, { recursive: true });
  // Partial or non-default runs get their own names so they never overwrite the day's full run.
  const partial = a.quick || a.layers !== null || a.threads !== null || a.kernel !== null || a.isa !== null;
  const tag =
    (run.arena === 'native' ? '' : `-${run.arena}`) +
    (a.threads ? `-${a.threads}t` : '') +
    (a.kernel ? `-${a.kernel}${a.tile ?? ''}` : '') +
    (a.isa ? `-${a.isa}` : '') +
    (a.quick ? '-quick' : '') +
    (a.layers ? '-partial' : '');
  const base = join(dir, `${run.date}${tag}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(run, null, 1)}\n`);
  const svg = barChart(run);
  writeFileSync(`${base}.svg`, svg);
  if (!partial) writeFileSync(join(dir, run.arena === 'native' ? 'latest.svg' : `latest-${run.arena}.svg`), svg);
  say(`results: ${base}.json, ${base}.svg${partial ? '' : ' (and latest)'}`);
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  if (a.backward) {
    const api = await loadFastconv();
    if (typeof api === 'string') {
      console.error(api);
      return 1;
    }
    return runBackward(a, api, a.torch, (f) => JSON.parse(readFileSync(f, 'utf8')));
  }
  const started = performance.now();
  const chosen = selectLayers(loadSuite(), a.layers);
  for (const name of a.peers ?? []) peerByName(name); // a typo fails before anything loads
  const progress = new Progress(0, true);
  const say = (m: string) => progress.log(m);
  const print = (s: string) => {
    if (!a.json) {
      progress.clear();
      process.stdout.write(`${s}\n`);
    }
  };

  // Other processes on a 2-vCPU VM moved the figures by 2x or more (bench/results/README.md): say so up front.
  const loadStart = loadavg()[0];
  if (loadStart > allThreads() / 2)
    say(`warning: load average ${loadStart.toFixed(1)} on ${allThreads()} CPUs; other processes will skew these numbers`);

  const loaded = await loadFastconv();
  const api: FastconvApi | null = typeof loaded === 'string' ? null : loaded;
  if (!api) say(`fastconv: ${loaded}; timing the peers only`);
  const arena: Arena = a.backend ?? (api && !isAvailable(api, 'native') ? 'wasm' : 'native');
  if (api && !isAvailable(api, arena))
    say(
      `fastconv: the ${arena} backend is not available here (${api.backendInfo().errors?.[arena] ?? api.backendInfo().reason})`
    );
  // --kernel/--tile/--isa: one kernel family at one ISA (and tile), no peers unless asked for, no benny.
  let forcing: KernelForcing | null = null;
  if (a.kernel !== null || a.isa !== null) {
    if (!api || !isAvailable(api, arena))
      throw new RangeError(`--kernel/--isa time fastconv's ${arena} backend, which is not available here`);
    forcing = await forceKernel(api, arena, a.kernel, a.tile, a.isa);
    say(`fastconv: ${forcing.note}`);
  }
  const data = new Map(chosen.map((l) => [l.id, makeData(l)]));
  // What fastconv alone is called with (the benny pass, the 'auto' column): channels-last rows in NHWC.
  const fastconvView = new Map(chosen.map((l) => [l.id, channelsLastView(l, data.get(l.id) as LayerData)]));
  const fastconvLayers = (ls: Layer[]): Layer[] => ls.map((l) => fastconvView.get(l.id)?.l ?? l);
  const fastconvData = new Map([...fastconvView].map(([id, v]) => [id, v.d]));
  const dataOf = (l: Layer): LayerData => {
    const d = data.get(l.id);
    if (!d) throw new Error(`no data prepared for ${l.id}`);
    return d;
  };
  // --kernel without --layers: the layers the family runs on here (the others would be n/a rows only).
  const layers =
    forcing?.algorithm && a.layers === null && api ? chosen.filter((l) => kernelRuns(api, arena, forcing, l, dataOf(l))) : chosen;
  if (layers.length === 0) throw new RangeError(`--kernel ${a.kernel}: no layer of bench/layers.json runs it on ${forcing?.isa}`);
  const runBenny = a.benny && forcing?.family == null;
  const threads = [...new Set(a.threads ? [a.threads] : [1, allThreads()])];
  const peakProbe = arena === 'native' ? await loadPeakProbe() : null;
  const peakStart = peakProbe?.(300);

  const impls: Impl[] = [];
  if (api && isAvailable(api, arena)) {
    impls.push(
      ...fastconvImpls(
        api,
        arena,
        threads,
        a.api,
        forcing ? { algorithms: forcing.algorithm ? [forcing.algorithm] : undefined, applies: forcing.applies } : {}
      )
    );
  }
  for (const name of a.peers ?? (forcing?.family ? [] : DEFAULT_PEERS[arena])) {
    const made = await peerByName(name).create(threads);
    if (typeof made === 'string') say(`peer ${name}: ${made}`);
    else impls.push(...made);
  }

  if (a.torch) mergeTorch(a.torch, [], threads); // a bad file fails now, not after minutes of timing
  let torchRows = 0;

  // Issue 2's pass: every available fastconv backend (js only on tiny layers unless asked for).
  const bennyArenas = (l: Layer): Arena[] => {
    if (!api) return [];
    const wanted: Arena[] = a.backend ? [a.backend] : ['native', 'wasm', 'js'];
    return wanted.filter((b) => isAvailable(api, b) && (b !== 'js' || a.backend === 'js' || l.flops <= JS_MAX_FLOPS));
  };
  const step = { done: 0 };
  progress.total = layers.length * (runBenny && api ? 2 : 1);

  let benny: BennyRow[] = [];
  const bennyStarted = performance.now();
  if (runBenny && api) {
    const rows = await bennyPass(api, fastconvLayers(layers), fastconvData, bennyArenas, a.quick, progress, step);
    if (typeof rows === 'string') {
      say(rows);
      step.done += layers.length;
    } else {
      benny = rows;
      print(bennyTable(benny));
    }
  }
  const bennyS = (performance.now() - bennyStarted) / 1000;

  const results: LayerResult[] = [];
  for (const l of layers) {
    const d = dataOf(l);
    const layerImpls = impls.filter((i) => i.arena !== 'js' || a.backend === 'js' || l.flops <= JS_MAX_FLOPS);
    const implResults = await measureLayer(l, d, layerImpls, a, progress, step.done, say);
    const lr: LayerResult = {
      id: l.id,
      name: l.name,
      op: l.op,
      flops: l.flops,
      inputShape: l.inputShape,
      weightShape: l.weightShape,
      outputShape: l.outputShape,
      stride: l.stride,
      padding: l.padding,
      dilation: l.dilation,
      groups: l.groups,
      auto: api && isAvailable(api, arena) ? autoChoice(api, arena, fastconvLayers([l])[0], fastconvData.get(l.id) ?? d) : null,
      impls: implResults,
    };
    if (a.torch) torchRows += mergeTorch(a.torch, [lr], threads);
    results.push(lr);
    step.done++;
    print(layerBlock(lr));
  }
  progress.done();

  const peakEnd = peakProbe?.(300);
  if (a.torch) say(`--torch: merged ${torchRows} PyTorch rows from ${a.torch}`);
  const mismatches = results.flatMap((l) => l.impls.filter((r) => r.status === 'mismatch').map((r) => `${l.id} ${r.id}`));
  const cpuList = cpus();
  const run: RunResult = {
    date: new Date().toISOString().slice(0, 10),
    durationS: (performance.now() - started) / 1000,
    bennyS,
    machine: {
      cpus: allThreads(),
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      node: process.versions.node,
      platform: `${process.platform}-${process.arch}`,
      loadAverage: { start: loadStart, end: loadavg()[0] },
      ...(peakStart && peakEnd ? { fmaPeak: { isa: peakStart.isa, start: peakStart.gflops, end: peakEnd.gflops } } : {}),
    },
    arena,
    threads,
    ...(forcing
      ? {
          kernel: {
            family: forcing.family,
            algorithm: forcing.algorithm,
            tile: forcing.tile,
            isa: forcing.isa,
            note: forcing.note,
          },
        }
      : {}),
    fastconv: api ? { loaded: true, info: api.backendInfo() } : { loaded: false, error: loaded as string },
    args: { ...a },
    benny,
    layers: results,
    ratios: computeRatios(results, arena),
    mismatches,
  };
  print(summary(run) + efficiencyLine(run));
  if (mismatches.length)
    say(
      `!! ${mismatches.length} implementation(s) disagree with the float64 reference or with fastconv: ${mismatches.join(', ')}`
    );
  writeResults(run, a, a.json ? () => undefined : say);
  if (a.json) process.stdout.write(`${JSON.stringify(run, null, 1)}\n`);
  else say(`bench took ${run.durationS.toFixed(0)} s`);
  return mismatches.length ? 1 : 0;
}

// Run when executed directly (node dist/bench/run.js); cli.ts imports main() instead.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`bench: ${e instanceof RangeError ? e.message : (e.stack ?? e)}\n`);
      process.exit(2);
    }
  );
}
