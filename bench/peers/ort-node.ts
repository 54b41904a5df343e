// onnxruntime-node (CPU execution provider, MLAS kernels) running a one-node Conv model.
import type { Impl, PeerFactory, Prepared } from '../impl.js';
import type { Layer, LayerData } from '../suite.js';
import { outputSize } from '../suite.js';
import { layerModel } from './onnx-model.js';

type Ort = typeof import('onnxruntime-node');

async function prepare(ort: Ort, threads: number, l: Layer, d: LayerData): Promise<Prepared> {
  const session = await ort.InferenceSession.create(layerModel(l, d), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // Idle pool threads would otherwise spin after each call and steal the vCPU from whichever
    // implementation the interleaved timer runs next (measured: a JS loop right after a 2-thread
    // call ran 2-20x slower with spinning on).
    extra: { session: { intra_op: { allow_spinning: threads > 1 ? '0' : '1' } } },
  });
  const x = new ort.Tensor('float32', d.x, l.inputShape);
  const out = new Float32Array(outputSize(l));
  // A pre-allocated output tensor, so the timed call does not allocate (as fastconv's `out`).
  const y = new ort.Tensor('float32', out, l.outputShape);
  const feeds = { x },
    fetches = { y };
  return {
    run: async () => {
      await session.run(feeds, fetches);
    },
    output: () => out,
    dispose: () => session.release(),
  };
}

export const ortNode: PeerFactory = {
  name: 'ort',
  arena: 'native',
  async create(threads) {
    let ort: Ort;
    try {
      ort = await import('onnxruntime-node');
    } catch (e) {
      return `onnxruntime-node not loadable: ${(e as Error).message.split('\n')[0]}`;
    }
    return threads.map(
      (t): Impl => ({
        id: `ort-node/${t}t`,
        family: 'peer',
        arena: 'native',
        threads: t,
        prepare: (l, d) => prepare(ort, t, l, d),
      })
    );
  },
};
