// Mutable static buffers, placed just above __heap_base rather than in memory.data. In the threaded
// builds every worker instantiates the module over the one shared memory, and instantiation re-applies
// the module's data segments (zeros for memory.data): a worker starting while another instance runs a
// call would wipe that call's params, layout or scratch. Nothing above __heap_base is in a segment.
// The arena (arena.ts) starts after this block.

import { MAX_THREADS } from './threads_max';

export const STATIC_PARAMS: usize = 0;      // 19 packed params written by JS (params.ts)
export const STATIC_PREPARED: usize = 128;  // copy of the params prepare() saw (index.ts)
export const STATIC_LAYOUT: usize = 256;    // the current run's layout for every thread (index.ts)
export const STATIC_CHUNKS: usize = 320;    // the next unclaimed chunk of the current run (threads.ts)
export const STATIC_REASON: usize = 384;    // the sentence of the last supports()/choose() (reason.ts)
export const REASON_BYTES: usize = 512;
export const STATIC_SCRATCH: usize = 896;   // per-thread scratch blocks (threads.ts)
export const SCRATCH_BYTES: usize = 1024;
const STATIC_BYTES: usize = STATIC_SCRATCH + SCRATCH_BYTES * <usize>MAX_THREADS;

export const STATIC_BASE: usize = (__heap_base + 63) & ~(<usize>63);
/** First byte past the static block: where the arena starts. */
export const STATIC_END: usize = STATIC_BASE + STATIC_BYTES;

/** Grows memory to hold the static block; false if it cannot. */
export function ensureStatics(): bool {
  const have = <usize>memory.size() << 16;
  if (STATIC_END <= have) return true;
  return memory.grow(<i32>((STATIC_END - have + 65535) >> 16)) >= 0;
}
