// The module's exports. Protocol, per call (src/backends/wasm.ts):
//   1. write the 19 Int32 params (PARAM_FIELDS order, native/interface.mjs) at paramsPtr();
//   2. prepare(algo, inLen, wLen, bLen, outLen, threads, store) -> 0 or an error code; lays out the
//      arena (shared workspace + one private area per thread) and grows memory (re-read memory.buffer);
//      `store` (0: none) is a layer's weight store from storeNew(): the transformed weights then live
//      in its entry for this call's key (weight_store.ts), made on the first call and reused after;
//   3. copy input/weight/bias to inputPtr()/weightPtr()/biasPtr(); the weights may be skipped when
//      weightsWanted() is 0 (the store entry holds their transform): then call skipWeights(1), and if
//      a run returns ERR_WEIGHTS (non-finite data falls back to im2col) copy them, skipWeights(0), rerun;
//   4. either run(algo), which computes every thread's slice in turn on this instance, or, with
//      workers over the same shared memory (threaded builds): beginRun(algo) here, runSlice(i) on
//      thread i for every i < threads (this instance is thread 0), then finishRun() here;
//   5. read the output at outputPtr().
// Between calls: storeNew/storeClear/storeDelete/storeBytes manage the stores (never during a run).
// beginRun() does the serial part (weight packing/transforms, the non-finite check) and writes the
// layout to LAYOUT in shared static memory, which runSlice() reads: worker instances have their own
// globals and never allocate. Each algorithm exports <algo>SharedFloats/PrivateFloats and a slice
// function that computes its share of the output from threads.ts's index and count.

import { arenaReset, arenaAlloc, arenaCapacity } from './arena';
import { PARAMS, PARAM_COUNT, OK, ERR_PARAM, ERR_MEMORY, ERR_ALGORITHM, ERR_NOT_PREPARED, ERR_WEIGHTS, K, loadParams, readParams } from './params';
import { MR } from './kernels/gemm_4x8';
import { MAX_THREADS, setThread, resetChunks } from './threads';
import { STATIC_BASE, STATIC_LAYOUT, STATIC_PREPARED, ensureStatics } from './statics';
import { gemmSharedFloats, gemmPackedFloats, gemmOffsetFloats, gemmPrivateFloats, gemmPrepareShared, gemmSlice } from './gemm';
import { directPrivateFloats, directSlice } from './direct';
import { winogradSharedFloats, winogradStoredFloats, winogradChosenTile, winogradTile, winogradPrivateFloats, winogradPrepareShared, winogradSlice,
         winogradFinish, winogradApplies, winogradWeightsKept, winogradTileNow } from './winograd';
import { appliesToLoaded } from './choose';
// Tests: the tile edge of the last Winograd call (2 or 4).
export { winogradTile } from './winograd';
// Which algorithms apply to the problem at PARAMS and which one to run, each with its reason.
export { supports, choose } from './choose';
export { reasonPtr, reasonLength } from './reason';
// Tests and benchmarks: the forcing knobs (native/interface.mjs KNOBS).
export { setKnob } from './knobs';
import { fftSharedFloats, fftSpectraFloats, fftTwiddleFloats, fftTileLength, fftPlaneRows, fftTwiddlesAt, fftPrivateFloats,
         fftPrepareShared, fftSlice, fftFinish, fftApplies } from './fft';
import { forgetTransformedWeights } from './weight_cache';
import { heapEnd, heapBase } from './store_heap';
import { isStore, setKey, findEntry, entryData, entryFilled, markFilled, storeNew as newStore, storeClear as clearStore,
         storeDelete as deleteStore, storeBytes as bytesOfStore } from './weight_store';
import { Cg, Kg, R, S, groups } from './params';

import { ALGO_DIRECT, ALGO_IM2COL, ALGO_WINOGRAD, ALGO_FFT } from './interface.generated';

const ALIGN: u64 = 64;
@inline function alignedBytes(floats: i64): u64 { return ((<u64>floats << 2) + ALIGN - 1) & ~(ALIGN - 1); }

/** Floats shared by the threads; `stored`: the transformed weights are in a store entry instead. */
function sharedFloats(algo: i32, stored: bool): i64 {
  switch (algo) {
    case ALGO_DIRECT: return 0;
    case ALGO_IM2COL: return stored ? gemmOffsetFloats() : gemmSharedFloats();
    case ALGO_WINOGRAD: return stored ? (winogradApplies() ? 0 : -1) : winogradSharedFloats();
    case ALGO_FFT: return stored ? (fftApplies() ? fftTwiddleFloats() : -1) : fftSharedFloats();
    default: return -1;
  }
}

/**
 * Sets the store key of `algo` (everything its transformed weights' layout depends on; the weights
 * themselves are the owner's business) and returns their floats; -1 for direct, which keeps none.
 */
function storeKey(algo: i32): i64 {
  switch (algo) {
    case ALGO_IM2COL:
      setKey(algo, 0, 0, Cg, Kg, groups, R, S);
      return gemmPackedFloats();
    case ALGO_WINOGRAD: {
      const floats = winogradStoredFloats();
      setKey(algo, winogradChosenTile(), 0, Cg, Kg, groups, R, S);
      return floats;
    }
    case ALGO_FFT:
      setKey(algo, fftTileLength(), fftPlaneRows(), Cg, Kg, groups, R, S);
      return fftSpectraFloats();
    default: return -1;
  }
}

function privateFloats(algo: i32): i64 {
  switch (algo) {
    case ALGO_DIRECT: return directPrivateFloats();
    case ALGO_IM2COL: return gemmPrivateFloats();
    case ALGO_WINOGRAD: return winogradPrivateFloats();
    default: return fftPrivateFloats();
  }
}

/** Bytes of workspace for `algo` run by `threads` threads (-1: the shape does not apply). */
function workspaceBytes(algo: i32, threads: i32, stored: bool): i64 {
  const shared = sharedFloats(algo, stored);
  if (shared < 0) return -1;
  return <i64>(alignedBytes(shared) + <u64>threads * alignedBytes(privateFloats(algo)));
}

// The layout of the current run, written by beginRun() and read by every thread's runSlice().
const LAYOUT: usize = STATIC_BASE + STATIC_LAYOUT;
const L_ALGO = 0, L_IN_LEN = 1, L_W_LEN = 2, L_B_LEN = 3, L_OUT_LEN = 4, L_INPUT = 5, L_WEIGHT = 6,
      L_BIAS = 7, L_OUTPUT = 8, L_SHARED = 9, L_PRIVATE = 10, L_PRIVATE_STRIDE = 11, L_THREADS = 12,
      L_TRANSFORMED = 13, // the transformed weights: a store entry's data, or in the shared workspace
      L_STORED = 14,      // 1 when they come from a store entry (Winograd's tile choice depends on it)
      L_TILE = 15;        // Winograd's tile edge, as the caller chose it
@inline function layout(field: i32): i32 { return load<i32>(LAYOUT + (<usize>field << 2)); }
@inline function setLayout(field: i32, value: i32): void { store<i32>(LAYOUT + (<usize>field << 2), value); }

const PREPARED: usize = STATIC_BASE + STATIC_PREPARED;
let preparedAlgo: i32 = -1;
let preparedThreads: i32 = 1;
let inLength = 0, wLength = 0, bLength = 0, outLength = 0;
let inputAt: usize = 0, weightAt: usize = 0, biasAt: usize = 0, outputAt: usize = 0;
let biasPadded: usize = 0, workspaceAt: usize = 0;
let runningAlgo: i32 = -1; // the algorithm beginRun() chose (im2col when Winograd/FFT fall back)
let entryAt: usize = 0;    // the store entry of the prepared call (0: none)
let weightsSkipped = false; // the caller did not copy the weights in (skipWeights)
let arenaBase: usize = 0;  // where the last call's arena started

/** Whether this module can take the problem at PARAMS at all: OK, or the error code of the limit it breaks. */
export function accepts(): i32 { return readParams(); }

/** Tests: the tile edge (2 or 4) a Winograd call of PARAMS would use now, with a weight store or without; 0 where it does not apply, -1 where PARAMS are not accepted. */
export function winogradTileFor(stored: i32): i32 {
  if (readParams() != OK) return -1;
  return winogradTileNow(stored != 0);
}

/** 0 if memory cannot grow to hold the static buffers. */
export function paramsPtr(): usize { return ensureStatics() ? PARAMS : 0; }
export function inputPtr(): usize { return inputAt; }
export function weightPtr(): usize { return weightAt; }
export function biasPtr(): usize { return biasAt; }
export function outputPtr(): usize { return outputAt; }
/** Bytes of linear memory held (the arena's high-water mark, rounded to pages). */
export function memoryBytes(): f64 { return <f64>arenaCapacity(); }
/** Most threads one call can be split across (1 in builds without threads). */
export function maxThreads(): i32 { return MAX_THREADS; }

function alloc(floats: i64): usize {
  return arenaAlloc(<u64>floats << 2);
}

export function prepare(algo: i32, inLen: i32, wLen: i32, bLen: i32, outLen: i32, threads: i32, store: usize): i32 {
  preparedAlgo = -1;
  entryAt = 0;
  weightsSkipped = false;
  if (threads < 1 || threads > MAX_THREADS) return ERR_PARAM;
  if (store != 0 && !isStore(store)) return ERR_PARAM;
  const err = loadParams(inLen, wLen, bLen, outLen);
  if (err != OK) return err;
  // The reason for a refusal is then at reasonPtr(), as after supports().
  if (!appliesToLoaded(algo) || sharedFloats(algo, false) < 0) return ERR_ALGORITHM;
  // The entry first: it may grow the store heap, which moves the arena up. Without memory for it the
  // call runs as if it had no store.
  winogradWeightsKept(store != 0);
  if (store != 0) {
    const floats = storeKey(algo);
    if (floats >= 0) entryAt = findEntry(store, <u64>floats << 2);
  }
  winogradWeightsKept(entryAt != 0);
  let ws = workspaceBytes(algo, threads, entryAt != 0);
  // Winograd and FFT run im2col on non-finite data, over the same workspace (without a store).
  if (algo == ALGO_WINOGRAD || algo == ALGO_FFT) ws = max(ws, workspaceBytes(ALGO_IM2COL, threads, false));
  // Cached transformed weights live in the workspace: valid only while the layout repeats exactly.
  // The shared part comes first, so the thread count does not move it. A call with a store writes
  // its own layout over that place, and a moved arena base moves it.
  if (algo != preparedLast || !unchangedSincePrepare() || entryAt != 0 || heapEnd() != arenaBase) forgetTransformedWeights();
  preparedLast = algo;
  arenaBase = heapEnd();
  arenaReset();
  inputAt = alloc(inLen);
  weightAt = alloc(wLen);
  biasAt = alloc(bLen > 0 ? bLen : 1);
  outputAt = alloc(outLen);
  // K + MR: edge tiles of the GEMM read (and discard) up to MR-1 bias values past K.
  biasPadded = alloc(<i64>K + MR);
  workspaceAt = arenaAlloc(ws > 0 ? <u64>ws : 4);
  if (inputAt == 0 || weightAt == 0 || biasAt == 0 || outputAt == 0 || biasPadded == 0 || workspaceAt == 0) {
    return ERR_MEMORY;
  }
  memory.copy(PREPARED, PARAMS, PARAM_COUNT * 4);
  inLength = inLen; wLength = wLen; bLength = bLen; outLength = outLen;
  preparedAlgo = algo;
  preparedThreads = threads;
  return OK;
}

let preparedLast: i32 = -1;

/** 0 when the prepared call reads no weights: its store entry holds their transform. */
export function weightsWanted(): i32 {
  return preparedAlgo >= 0 && entryAt != 0 && entryFilled(entryAt) ? 0 : 1;
}

/** 1: the caller left the weights out (weightsWanted() said so); 0: they are in after all. */
export function skipWeights(skip: i32): void { weightsSkipped = skip != 0; }

function unchangedSincePrepare(): bool {
  for (let i: usize = 0; i < <usize>PARAM_COUNT; i++) {
    if (load<i32>(PARAMS + (i << 2)) != load<i32>(PREPARED + (i << 2))) return false;
  }
  return true;
}

/** The serial part before the slices: bias, weight packing/transforms, the layout for runSlice(). */
export function beginRun(algo: i32): i32 {
  runningAlgo = -1;
  if (preparedAlgo < 0 || algo != preparedAlgo || !unchangedSincePrepare()) return ERR_NOT_PREPARED;
  const err = loadParams(inLength, wLength, bLength, outLength);
  if (err != OK) return err;
  memory.fill(biasPadded, 0, (<usize>K + MR) << 2);
  if (bLength > 0) memory.copy(biasPadded, biasAt, <usize>K << 2);
  let running = algo;
  const stored = entryAt != 0;
  winogradWeightsKept(stored);
  const fill = !stored || !entryFilled(entryAt);
  if (weightsSkipped && fill) return ERR_WEIGHTS;
  // The transformed weights: in the store entry, or at the start of the shared workspace.
  let transformed = stored ? entryData(entryAt) : workspaceAt;
  // What the call makes for itself: GEMM tap offsets, FFT twiddles.
  let aux = stored ? workspaceAt : 0;
  const firstPrivate = workspaceAt + <usize>alignedBytes(sharedFloats(algo, stored));
  if (algo == ALGO_WINOGRAD && !winogradPrepareShared(inputAt, weightAt, workspaceAt, stored ? transformed : 0, fill)) running = ALGO_IM2COL;
  if (algo == ALGO_FFT) {
    if (!stored) aux = fftTwiddlesAt(workspaceAt);
    if (!fftPrepareShared(inputAt, weightAt, transformed, aux, firstPrivate, stored, fill)) running = ALGO_IM2COL;
  }
  if (running != algo) {
    // Non-finite data: im2col over the workspace, the store untouched (not filled by this call).
    if (weightsSkipped) return ERR_WEIGHTS;
    transformed = workspaceAt;
    aux = workspaceAt + (<usize>gemmPackedFloats() << 2);
    gemmPrepareShared(weightAt, transformed, aux, false);
  } else if (running == ALGO_IM2COL) {
    if (!stored) aux = workspaceAt + (<usize>gemmPackedFloats() << 2);
    gemmPrepareShared(weightAt, transformed, aux, !fill);
  }
  if (stored && running == algo && algo != ALGO_DIRECT) markFilled(entryAt);
  setLayout(L_ALGO, running);
  setLayout(L_IN_LEN, inLength); setLayout(L_W_LEN, wLength); setLayout(L_B_LEN, bLength); setLayout(L_OUT_LEN, outLength);
  setLayout(L_INPUT, <i32>inputAt); setLayout(L_WEIGHT, <i32>weightAt); setLayout(L_BIAS, <i32>biasPadded);
  setLayout(L_OUTPUT, <i32>outputAt); setLayout(L_SHARED, <i32>aux); setLayout(L_TRANSFORMED, <i32>transformed);
  setLayout(L_STORED, stored ? 1 : 0);
  setLayout(L_TILE, running == ALGO_WINOGRAD ? winogradTile() : 0);
  setLayout(L_PRIVATE, <i32>(workspaceAt + <usize>alignedBytes(sharedFloats(running, stored && running == algo))));
  setLayout(L_PRIVATE_STRIDE, <i32>alignedBytes(privateFloats(running)));
  setLayout(L_THREADS, preparedThreads);
  resetChunks();
  runningAlgo = running;
  return OK;
}

/** Thread `index`'s share of the run beginRun() laid out; any instance over the same memory may call it. */
export function runSlice(index: i32): i32 {
  const threads = layout(L_THREADS);
  if (index < 0 || index >= threads || threads > MAX_THREADS) return ERR_PARAM;
  const err = loadParams(layout(L_IN_LEN), layout(L_W_LEN), layout(L_B_LEN), layout(L_OUT_LEN));
  if (err != OK) return err;
  setThread(index, threads);
  const input = <usize><u32>layout(L_INPUT), weight = <usize><u32>layout(L_WEIGHT);
  const bias = <usize><u32>layout(L_BIAS), out = <usize><u32>layout(L_OUTPUT);
  const aux = <usize><u32>layout(L_SHARED), transformed = <usize><u32>layout(L_TRANSFORMED);
  winogradWeightsKept(layout(L_STORED) != 0);
  const own = <usize><u32>layout(L_PRIVATE) + <usize>index * <usize><u32>layout(L_PRIVATE_STRIDE);
  switch (layout(L_ALGO)) {
    case ALGO_DIRECT: directSlice(input, weight, bias, out, own); break;
    case ALGO_IM2COL: gemmSlice(input, bias, out, transformed, aux, own); break;
    case ALGO_WINOGRAD: winogradSlice(input, bias, out, transformed, own, layout(L_TILE)); break;
    case ALGO_FFT: fftSlice(input, bias, out, transformed, aux, own); break;
  }
  setThread(0, 1);
  return OK;
}

/** The serial part after every slice is done. */
export function finishRun(): i32 {
  if (runningAlgo < 0) return ERR_NOT_PREPARED;
  const err = loadParams(inLength, wLength, bLength, outLength);
  if (err != OK) return err;
  if (runningAlgo == ALGO_WINOGRAD) winogradFinish(biasPadded, outputAt);
  if (runningAlgo == ALGO_FFT) fftFinish(biasPadded, outputAt);
  runningAlgo = -1;
  return OK;
}

/** beginRun, every thread's slice in turn on this instance, finishRun. */
export function run(algo: i32): i32 {
  let err = beginRun(algo);
  if (err != OK) return err;
  for (let i = 0; i < preparedThreads; i++) {
    err = runSlice(i);
    if (err != OK) return err;
  }
  return finishRun();
}

// Weight stores (weight_store.ts), between calls only. Handles come from JS: checked, never trusted.

/** A new empty store's handle; 0 if memory cannot grow. */
export function storeNew(): usize { return newStore(); }

/** Frees the store's entries (it stays usable); ERR_PARAM for a bad handle. */
export function storeClear(store: usize): i32 {
  if (!isStore(store)) return ERR_PARAM;
  clearStore(store);
  return OK;
}

/** Frees the store and its entries; ERR_PARAM for a bad handle. */
export function storeDelete(store: usize): i32 {
  if (!isStore(store)) return ERR_PARAM;
  deleteStore(store);
  return OK;
}

/** Bytes of transformed weights the store holds (-1: bad handle). */
export function storeBytes(store: usize): f64 { return isStore(store) ? bytesOfStore(store) : -1; }

/** Bytes of the store heap (every store's blocks and the free ones between them). */
export function storeHeapBytes(): f64 { return <f64>(heapEnd() - heapBase()); }
