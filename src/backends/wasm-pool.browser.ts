// The browsers' worker spawner for the wasm pool: a classic Web Worker from a Blob URL (the source is
// a string, so no worker file has to be located or bundled). Needs a cross-origin isolated page.

import type { SpawnWorker } from './wasm-pool.js';

let url: string | undefined;

export const spawnWebWorker: SpawnWorker = (source) => {
  // One URL for every worker, kept for the page's lifetime: revoking it could race the worker's load.
  url ??= URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const w = new Worker(url);
  return {
    postMessage: (m) => w.postMessage(m),
    terminate: () => w.terminate(),
    onDeath: (died) => {
      w.addEventListener('error', died);
    },
  };
};
