// Which slice of a convolution this instance computes, and its private scratch.
//
// In the threaded builds (ASC_FEATURE_THREADS) every worker instantiates the module over one shared
// memory: globals are per instance, but static buffers sit at the same address for all of them.
// Kernels therefore never write a static buffer directly: each thread gets its own scratch block
// (statics.ts), chosen by its index. Single-threaded builds have one block.

import { STATIC_BASE, STATIC_SCRATCH, STATIC_CHUNKS, SCRATCH_BYTES } from './statics';
export { MAX_THREADS } from './threads_max';

const SCRATCH: usize = STATIC_BASE + STATIC_SCRATCH;

// Offsets of the kernels' scratch inside a block (each 64-byte aligned).
export const SCRATCH_TILE: usize = 0;    // gemm.ts: one 4x8 edge tile, 128 bytes
export const SCRATCH_ROWS: usize = 128;  // winograd.ts: 16 vectors of row transforms, 256 bytes
export const SCRATCH_EDGE: usize = 384;  // winograd.ts: one interleaved output row, 32 bytes
export const SCRATCH_TAIL: usize = 448;  // depthwise.ts: two rows of one 8-pixel block, 64 bytes
export const SCRATCH_GW: usize = 512;    // winograd.ts: G g of 4 filters, 4x3 vectors, 192 bytes
export const SCRATCH_FILTERS: usize = 704; // winograd.ts: byte offsets of 4 filters, 16 bytes

export let threadIndex: i32 = 0;
export let threadCount: i32 = 1;
let scratchBase: usize = 0;

/** Selects this instance's slice (index < count <= MAX_THREADS, checked by the caller). */
export function setThread(index: i32, count: i32): void {
  threadIndex = index;
  threadCount = count;
  scratchBase = SCRATCH + <usize>index * SCRATCH_BYTES;
}

/** Address of this thread's scratch at `offset` (one of the SCRATCH_* above). */
@inline export function scratch(offset: usize): usize {
  return (scratchBase ? scratchBase : SCRATCH) + offset;
}

// Dynamic slices: threads claim chunks of work (tile-row blocks, output-row bands) from one shared
// counter until none are left, so a thread the OS deschedules for a while (other processes on the
// same cores) leaves its share to the others instead of holding up the whole call.
const CHUNKS: usize = STATIC_BASE + STATIC_CHUNKS;

/** Before a run's threads start (one thread). */
export function resetChunks(): void {
  store<i32>(CHUNKS, 0);
}

/** The next unclaimed chunk index (grows past the last chunk once all are claimed). */
export function claimChunk(): i32 {
  if (ASC_FEATURE_THREADS) return atomic.add<i32>(CHUNKS, 1);
  const c = load<i32>(CHUNKS);
  store<i32>(CHUNKS, c + 1);
  return c;
}
