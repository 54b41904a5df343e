// Long-lived blocks for the layers' weight stores (weight_store.ts), placed between the static block
// and the arena. Every call lays the arena out afresh from heapEnd() up (arena.ts), so the heap may
// grow or shrink between calls without moving anything a call still uses; a call never allocates
// here once its arena is laid out. Memory never shrinks, but freed blocks are reused, and free blocks
// at the end give their bytes back to the arena: layers created and disposed leave the footprint flat.
//
// Blocks lie back to back from heapStart() to heapEnd(): a 64-byte header (size of the whole block in
// bytes, a multiple of 64; kind, FREE or the owner's tag; the rest is the owner's) and the data.
// A few blocks per layer: first fit over a linear walk is enough.

import { STATIC_END } from './statics';

export const HEADER: usize = 64;
export const FREE: u32 = 0;
const H_SIZE: usize = 0;
const H_KIND: usize = 4;
const PAGE_BYTES: u64 = 65536;
const MAX_BYTES: u64 = 65536 * PAGE_BYTES; // wasm32: every address stays below 2^32
// A free remainder smaller than this stays inside the allocated block.
const MIN_SPLIT: u64 = 4 * <u64>HEADER;

let end: usize = 0;

@inline function heapStart(): usize { return (STATIC_END + 63) & ~(<usize>63); }
export function heapBase(): usize { return heapStart(); }
@inline function sizeOf(block: usize): usize { return <usize>load<u32>(block + H_SIZE); }
@inline export function kindOf(block: usize): u32 { return load<u32>(block + H_KIND); }

/** First byte past the last block: where the arena starts. */
export function heapEnd(): usize { return end ? end : heapStart(); }

/** Whether `block` is the header of a live block of kind `kind` (handles from JS are checked here). */
export function isBlock(block: usize, kind: u32): bool {
  const last = heapEnd();
  for (let b = heapStart(); b < last; b += sizeOf(b)) {
    if (b == block) return kindOf(b) == kind;
    if (b > block) return false;
  }
  return false;
}

/** A block of kind `kind` (not FREE) with `dataBytes` of data after its header, the header's other bytes zero; 0 if memory cannot grow. */
export function heapAlloc(dataBytes: u64, kind: u32): usize {
  const need = (<u64>HEADER + dataBytes + 63) & ~(<u64>63);
  const last = heapEnd();
  for (let b = heapStart(); b < last; b += sizeOf(b)) {
    const size = <u64>sizeOf(b);
    if (kindOf(b) != FREE || size < need) continue;
    if (size - need >= MIN_SPLIT) {
      const rest = b + <usize>need;
      store<u32>(rest + H_SIZE, <u32>(size - need));
      store<u32>(rest + H_KIND, FREE);
      store<u32>(b + H_SIZE, <u32>need);
    }
    return claim(b, kind);
  }
  const top = <u64>last + need;
  if (top >= MAX_BYTES) return 0;
  const have = <u64>memory.size() * PAGE_BYTES;
  if (top > have && memory.grow(<i32>((top - have + PAGE_BYTES - 1) / PAGE_BYTES)) < 0) return 0;
  store<u32>(last + H_SIZE, <u32>need);
  end = <usize>top;
  return claim(last, kind);
}

function claim(block: usize, kind: u32): usize {
  memory.fill(block + H_KIND, 0, HEADER - H_KIND);
  store<u32>(block + H_KIND, kind);
  return block;
}

/** Frees a block from heapAlloc; merges free neighbours and hands a free tail back to the arena. */
export function heapFree(block: usize): void {
  store<u32>(block + H_KIND, FREE);
  const last = heapEnd();
  let tail: usize = 0; // the first block of the free run that reaches the end, if any
  for (let b = heapStart(); b < last; ) {
    let size = sizeOf(b);
    if (kindOf(b) == FREE) {
      while (b + size < last && kindOf(b + size) == FREE) size += sizeOf(b + size);
      store<u32>(b + H_SIZE, <u32>size);
      if (b + size == last) tail = b;
    }
    b += size;
  }
  if (tail) end = tail;
}
