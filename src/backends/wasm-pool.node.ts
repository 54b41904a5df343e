// Node's worker spawner for the wasm pool: worker_threads, from source (eval), unref'd so that idle
// workers never keep the process alive.

import { Worker } from 'node:worker_threads';
import type { SpawnWorker } from './wasm-pool.js';

export const spawnNodeWorker: SpawnWorker = (source) => {
  const w = new Worker(source, { eval: true });
  w.unref();
  // A worker that dies reports through its control slot or never finishes a slice; the 'error'
  // event must still be handled, or Node treats it as an uncaught exception.
  w.on('error', () => {});
  return { postMessage: (m) => w.postMessage(m), terminate: () => { void w.terminate(); } };
};
