// onnxruntime-web (wasm execution provider, SIMD, its own pthreads), one worker per thread count.
import { Worker } from 'node:worker_threads';
import type { Impl, PeerFactory } from '../impl.js';

class WorkerClient {
  private seq = 0;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly worker: Worker;

  constructor(threads: number) {
    this.worker = new Worker(new URL('./ort-web-worker.js', import.meta.url), { workerData: { threads } });
    this.worker.unref();
    this.worker.on('message', (m: { seq: number; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.seq);
      this.pending.delete(m.seq);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.value);
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  call<T>(msg: object): Promise<T> {
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, seq });
    });
  }
}

export const ortWeb: PeerFactory = {
  name: 'ort-web',
  arena: 'wasm',
  async create(threads) {
    const clients = new Map<number, WorkerClient>();
    const impls: Impl[] = threads.map((t) => ({
      id: `ort-web/${t}t`,
      family: 'peer',
      arena: 'wasm',
      threads: t,
      async prepare(l, d) {
        let c = clients.get(t);
        if (!c) {
          c = new WorkerClient(t);
          clients.set(t, c);
        }
        const client = c;
        try {
          await client.call({ op: 'prepare', l, d });
        } catch (e) {
          return `onnxruntime-web failed: ${(e as Error).message.split('\n')[0]}`;
        }
        return {
          run: async () => {
            await client.call({ op: 'batch', reps: 1 });
          },
          batch: (reps: number) => client.call<number>({ op: 'batch', reps }),
          output: () => client.call<Float32Array>({ op: 'output' }),
          dispose: () => client.call({ op: 'dispose' }),
        };
      },
    }));
    return impls;
  },
};
