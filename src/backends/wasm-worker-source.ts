// The source of a wasm worker, as a string: the same text runs in a Node worker_threads Worker
// (eval) and in a browser Web Worker (from a Blob URL), so neither needs a separate file that
// bundlers or the Node/vitest loaders would have to locate next to the compiled module.
//
// The worker receives { module, memory, control, index }, instantiates the threaded build over the
// shared memory, reports READY (or FAILED) in its control slot, then loops: wait for the run word to
// change, compute slice `index` if the run includes it, count down PENDING, record a failure in ERROR.
// See wasm-pool.ts for the control block.

export const WORKER_SOURCE = `
'use strict';
const RUN = 0, PENDING = 1, ERROR = 2, STOP = 3, SLOTS = 8, THREAD_BITS = 7;
function start(data) {
  const ctl = new Int32Array(data.control);
  const slot = SLOTS + data.index;
  let exports;
  try {
    exports = new WebAssembly.Instance(data.module, { env: { memory: data.memory } }).exports;
  } catch (e) {
    Atomics.store(ctl, slot, -1);
    Atomics.notify(ctl, slot);
    return;
  }
  // Read before announcing READY: a run started after READY must look like a change, or it is missed.
  let seen = Atomics.load(ctl, RUN);
  Atomics.store(ctl, slot, 1);
  Atomics.notify(ctl, slot);
  for (;;) {
    // Bounded, like the caller's waits: a lost wake-up delays a run by 100 ms instead of stalling it.
    if (Atomics.wait(ctl, RUN, seen, 100) === 'timed-out' && Atomics.load(ctl, RUN) === seen) continue;
    seen = Atomics.load(ctl, RUN);
    if (Atomics.load(ctl, STOP) !== 0) return;
    const threads = seen & ((1 << THREAD_BITS) - 1);
    if (data.index >= threads) continue;
    let code;
    try { code = exports.runSlice(data.index); } catch (e) { code = -1; }
    if (code !== 0) Atomics.store(ctl, ERROR, code === undefined ? -1 : code);
    if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
  }
}
if (typeof require === 'function') {
  // Without the node: prefix, so browser bundles never contain a 'node:*' specifier.
  require('worker_threads').parentPort.once('message', start);
} else {
  self.onmessage = (e) => { self.onmessage = null; start(e.data); };
}
`;
