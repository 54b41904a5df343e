// A bump allocator over linear memory. Each call lays its buffers out from the start again, so once
// memory has grown to the largest call seen, no call allocates or grows anything: the footprint is
// the high-water mark. No free(): the arena is reset as a whole. It starts past the weight stores'
// heap (store_heap.ts), which only changes between calls.

import { heapEnd } from './store_heap';

const ALIGN: usize = 64; // a cache line, so SIMD loads of packed panels never split lines
const PAGE_BYTES: u64 = 65536;
const MAX_PAGES: u64 = 65536; // wasm32: 4 GiB

let top: usize = 0;

@inline function alignUp(x: u64): u64 {
  return (x + <u64>ALIGN - 1) & ~(<u64>ALIGN - 1);
}

export function arenaReset(): void {
  top = <usize>alignUp(<u64>heapEnd());
}

/** `bytes` fresh bytes, 64-byte aligned, growing memory if needed; 0 if memory cannot grow. */
export function arenaAlloc(bytes: u64): usize {
  if (top == 0) arenaReset();
  const start = alignUp(<u64>top);
  const end = alignUp(start + bytes);
  if (end >= MAX_PAGES * PAGE_BYTES) return 0; // keep every address below 2^32
  const have = <u64>memory.size() * PAGE_BYTES;
  if (end > have) {
    const pages = (end - have + PAGE_BYTES - 1) / PAGE_BYTES;
    if (memory.grow(<i32>pages) < 0) return 0;
  }
  top = <usize>end;
  return <usize>start;
}

/** Bytes of linear memory currently reserved (the arena's high-water mark lives below this). */
export function arenaCapacity(): u64 {
  return <u64>memory.size() * PAGE_BYTES;
}
