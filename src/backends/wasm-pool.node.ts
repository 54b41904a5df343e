// Node's worker spawner for the wasm pool: worker_threads, from source (eval), unref'd so that idle
// workers never keep the process alive.

import { Worker } from 'node:worker_threads';
import type { SpawnWorker } from './wasm-pool.js';

// Workers inherit the parent's execArgv; under `node --input-type=module -e` that made the worker's
// CommonJS source an ES module, which failed to load.
const workerExecArgv = (): string[] => {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') i++;
    else if (!argv[i].startsWith('--input-type=')) out.push(argv[i]);
  }
  return out;
};

export const spawnNodeWorker: SpawnWorker = (source) => {
  const w = new Worker(source, { eval: true, execArgv: workerExecArgv() });
  w.unref();
  // The 'error' event must be handled, or Node treats it as an uncaught exception.
  const deaths: (() => void)[] = [];
  const died = () => {
    for (const d of deaths) d();
  };
  w.on('error', died);
  w.on('exit', died);
  return {
    postMessage: (m) => w.postMessage(m),
    terminate: () => {
      void w.terminate();
    },
    onDeath: (d) => {
      deaths.push(d);
    },
  };
};
