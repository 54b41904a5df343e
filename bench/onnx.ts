// Whole-network timing: fastconv's ONNX runner against onnxruntime-node on the same .onnx files, batch 1,
// at each thread count, interleaved rounds, median ms, with a check of fastconv's output against ORT's.
//
//   /usr/bin/python3 test/onnx/export_full.py /tmp/fastconv-onnx-models resnet18 mobilenet_v2   # once
//   npx tsc -p tsconfig.json && node dist/bench/onnx.js --dir /tmp/fastconv-onnx-models [--threads 1,2]
//        [--rounds 15] [--models resnet18,mobilenet_v2] [--backend auto|native|wasm] [--breakdown]
//
// Every file in --dir (or the --models list) is timed; NAME.in.f32 beside NAME.onnx is the input (else a
// fixed pseudo-random one). --breakdown prints fastconv's time per op kind from model.explain().

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setNumThreads } from '../src/index.node.js';
import type { LoadOptions, OnnxModel } from '../src/onnx/index.node.js';
import { loadOnnx } from '../src/onnx/index.node.js';

type Ort = typeof import('onnxruntime-node');

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b),
    m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return a.length === b.length ? d / (m || 1) : Infinity;
}

function inputFor(dir: string, name: string, shape: number[]): Float32Array {
  const f = join(dir, `${name}.in.f32`),
    n = shape.reduce((a, b) => a * b, 1);
  if (existsSync(f)) {
    const b = readFileSync(f);
    if (b.byteLength === 4 * n) return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
}

async function main(): Promise<void> {
  const dir = arg('dir', '/tmp/fastconv-onnx-models');
  const threads = arg('threads', '1,2').split(',').map(Number);
  const rounds = Number(arg('rounds', '15'));
  const backend = arg('backend', 'auto') as LoadOptions['backend'];
  const breakdown = process.argv.includes('--breakdown');
  const models = arg('models', '')
    ? arg('models', '').split(',')
    : readdirSync(dir)
        .filter((f) => f.endsWith('.onnx'))
        .map((f) => f.slice(0, -5))
        .sort();
  let ort: Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    throw new Error(`onnxruntime-node does not load: ${(e as Error).message}`);
  }

  console.log(`batch 1, median ms of ${rounds} interleaved rounds; fastconv backend ${backend}; ${new Date().toISOString()}`);
  console.log('| model | threads | onnxruntime-node | fastconv | x ort | max rel. diff |');
  console.log('|---|---|---|---|---|---|');
  for (const name of models) {
    const bytes = new Uint8Array(readFileSync(join(dir, `${name}.onnx`)));
    const model: OnnxModel = await loadOnnx(bytes, { backend });
    const info = model.inputs[0],
      shape = info.shape.map((d) => (typeof d === 'number' ? d : 1));
    const x = inputFor(dir, name, shape);
    const feeds = { [info.name]: { data: x, shape } };
    for (const t of threads) {
      setNumThreads(t);
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        intraOpNumThreads: t,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        // As bench/peers/ort-node.ts: idle spinning threads would steal the vCPU from the next round's fastconv.
        extra: { session: { intra_op: { allow_spinning: t > 1 ? '0' : '1' } } },
      });
      const ortFeeds = { [info.name]: new ort.Tensor('float32', x, shape) };
      const outName = model.outputs[0].name;
      let ortOut: Float32Array = new Float32Array(0),
        mine: Float32Array = new Float32Array(0);
      const runOrt = async () => {
        const r = await session.run(ortFeeds);
        ortOut = r[outName].data as Float32Array;
      };
      const runMine = () => {
        mine = model.runSync(feeds)[outName].data;
      };
      for (let i = 0; i < 3; i++) {
        await runOrt();
        runMine();
      }
      const tOrt: number[] = [],
        tMine: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 ? [0, 1] : [1, 0];
        for (const which of order) {
          const t0 = performance.now();
          if (which === 0) await runOrt();
          else runMine();
          (which === 0 ? tOrt : tMine).push(performance.now() - t0);
          await new Promise((res) => setTimeout(res, 5));
        }
      }
      const a = median(tOrt),
        b = median(tMine);
      console.log(
        `| ${name} | ${t} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(a / b).toFixed(2)} | ${relErr(mine, ortOut).toExponential(1)} |`
      );
      if (breakdown) {
        const by = new Map<string, number>();
        let total = 0;
        for (const s of model.explain()) {
          by.set(s.op, (by.get(s.op) ?? 0) + s.ms);
          total += s.ms;
        }
        const rows = [...by]
          .sort((p, q) => q[1] - p[1])
          .map(([k, ms]) => `${k} ${ms.toFixed(2)} ms (${((100 * ms) / total).toFixed(0)} %)`);
        console.log(`    fastconv last run by op: ${rows.join(', ')}`);
      }
      await session.release();
    }
    model.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
