// onnxruntime-web fixes its thread count when its wasm instance starts, so each thread count lives
// in its own worker_thread. The worker times its own batches: message latency stays out of the figure.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { Layer, LayerData } from '../suite.js';
import { layerModel } from './onnx-model.js';

type OrtWeb = typeof import('onnxruntime-web');
type Req = { op: 'prepare'; l: Layer; d: LayerData } | { op: 'batch'; reps: number } | { op: 'output' } | { op: 'dispose' };

if (!parentPort) throw new Error('ort-web-worker.ts runs as a worker thread (bench/peers/ort-web.ts starts it)');
const port = parentPort;
const { threads } = workerData as { threads: number };

async function load(): Promise<OrtWeb> {
  const ort = await import('onnxruntime-web');
  const require = createRequire(import.meta.url);
  // Node resolves the package's node build; its .wasm files sit next to it in dist/.
  ort.env.wasm.wasmPaths = join(dirname(require.resolve('onnxruntime-web')), '/');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  return ort;
}

let session: import('onnxruntime-web').InferenceSession | null = null;
let feeds: Record<string, import('onnxruntime-web').Tensor> = {};
let last: Float32Array | null = null;

async function handle(ort: OrtWeb, m: Req): Promise<unknown> {
  switch (m.op) {
    case 'prepare': {
      await session?.release();
      session = await ort.InferenceSession.create(layerModel(m.l, m.d), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
      feeds = { x: new ort.Tensor('float32', m.d.x, m.l.inputShape) };
      return null;
    }
    case 'batch': {
      // The wasm EP cannot write into a caller's buffer; each call returns a fresh output tensor.
      const s = session;
      if (!s) throw new Error('batch before prepare');
      const t0 = performance.now();
      for (let i = 0; i < m.reps; i++) last = (await s.run(feeds)).y.data as Float32Array;
      return performance.now() - t0;
    }
    case 'output':
      return last;
    case 'dispose':
      await session?.release();
      session = null;
      return null;
  }
}

const ready = load();
port.on('message', async (m: Req & { seq: number }) => {
  try {
    const ort = await ready;
    port.postMessage({ seq: m.seq, value: await handle(ort, m) });
  } catch (e) {
    port.postMessage({ seq: m.seq, error: (e as Error).message ?? String(e) });
  }
});
