// A layer's store of transformed weights (Winograd U, FFT spectra, packed GEMM A): one STORE block in
// the store heap (store_heap.ts), the handle JS holds, and up to MAX_ENTRIES ENTRY blocks linked from
// it, each holding one transform under the key of everything its layout depends on (algorithm, tile,
// channels, groups, kernel: index.ts makes the key). A layer whose input shape or algorithm changes
// gets another entry; the least recently used goes beyond MAX_ENTRIES.
//
// The store never looks at the weights: its owner (src/layers.ts through src/backends/wasm.ts) clears
// it whenever they may have changed. Only the instance that owns the memory allocates or frees;
// worker instances read an entry's data through the run's layout.

import { HEADER, heapAlloc, heapFree, isBlock } from './store_heap';

const KIND_STORE: u32 = 1;
const KIND_ENTRY: u32 = 2;
const KEY_WORDS = 8;
const MAX_ENTRIES = 4;

// Store header fields (bytes 8..63 of the block's header are the owner's).
const S_FIRST: usize = 8;   // first entry block, 0 if none
const S_CLOCK: usize = 12;  // use counter, for least-recently-used eviction
// Entry header fields.
const E_NEXT: usize = 8;
const E_FILLED: usize = 12; // 1 once beginRun has written the transform
const E_USED: usize = 16;   // the store's clock at the last use
const E_BYTES: usize = 20;  // data bytes
const E_KEY: usize = 24;    // KEY_WORDS i32, up to byte 56

// The key of the call being prepared, in globals: static memory would be a data segment, which a
// worker instantiating over the shared memory re-applies (statics.ts).
let k0 = 0, k1 = 0, k2 = 0, k3 = 0, k4 = 0, k5 = 0, k6 = 0, k7 = 0;

/** Sets the key findEntry looks for. */
export function setKey(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32): void {
  k0 = a; k1 = b; k2 = c; k3 = d; k4 = e; k5 = f; k6 = g; k7 = h;
}

function keyWord(i: i32): i32 {
  switch (i) {
    case 0: return k0; case 1: return k1; case 2: return k2; case 3: return k3;
    case 4: return k4; case 5: return k5; case 6: return k6; default: return k7;
  }
}

/** A new, empty store; 0 if memory cannot grow. */
export function storeNew(): usize { return heapAlloc(0, KIND_STORE); }

export function isStore(s: usize): bool { return s != 0 && isBlock(s, KIND_STORE); }

/** Frees every entry; the store stays usable. */
export function storeClear(s: usize): void {
  let e = <usize>load<u32>(s + S_FIRST);
  store<u32>(s + S_FIRST, 0);
  while (e) {
    const next = <usize>load<u32>(e + E_NEXT);
    heapFree(e);
    e = next;
  }
}

export function storeDelete(s: usize): void {
  storeClear(s);
  heapFree(s);
}

/** Data bytes of every entry. */
export function storeBytes(s: usize): f64 {
  let total: f64 = 0;
  for (let e = <usize>load<u32>(s + S_FIRST); e; e = <usize>load<u32>(e + E_NEXT)) total += <f64>load<u32>(e + E_BYTES);
  return total;
}

function keyMatches(e: usize): bool {
  for (let i = 0; i < KEY_WORDS; i++) if (load<i32>(e + E_KEY + (<usize>i << 2)) != keyWord(i)) return false;
  return true;
}

/** The entry of store `s` for the current key with `bytes` of data (made empty if new); 0 if memory cannot grow. */
export function findEntry(s: usize, bytes: u64): usize {
  const clock = load<u32>(s + S_CLOCK) + 1;
  store<u32>(s + S_CLOCK, clock);
  let count = 0;
  let oldest: usize = 0, beforeOldest: usize = 0, before: usize = 0;
  for (let e = <usize>load<u32>(s + S_FIRST); e; e = <usize>load<u32>(e + E_NEXT)) {
    if (keyMatches(e) && <u64>load<u32>(e + E_BYTES) == bytes) {
      store<u32>(e + E_USED, clock);
      return e;
    }
    if (!oldest || load<u32>(e + E_USED) < load<u32>(oldest + E_USED)) { oldest = e; beforeOldest = before; }
    before = e;
    count++;
  }
  if (count >= MAX_ENTRIES) {
    const next = load<u32>(oldest + E_NEXT);
    if (beforeOldest) store<u32>(beforeOldest + E_NEXT, next);
    else store<u32>(s + S_FIRST, next);
    heapFree(oldest);
  }
  if (bytes >= (<u64>1 << 32)) return 0;
  const e = heapAlloc(bytes, KIND_ENTRY);
  if (!e) return 0;
  store<u32>(e + E_NEXT, load<u32>(s + S_FIRST));
  store<u32>(e + E_USED, clock);
  store<u32>(e + E_BYTES, <u32>bytes);
  for (let i = 0; i < KEY_WORDS; i++) store<i32>(e + E_KEY + (<usize>i << 2), keyWord(i));
  store<u32>(s + S_FIRST, <u32>e);
  return e;
}

@inline export function entryData(e: usize): usize { return e + HEADER; }
@inline export function entryFilled(e: usize): bool { return load<u32>(e + E_FILLED) != 0; }
@inline export function markFilled(e: usize): void { store<u32>(e + E_FILLED, 1); }
