// The module's exports. Protocol, per call (src/backends/wasm.ts):
//   1. write the 19 Int32 params (PARAM_FIELDS order) at paramsPtr();
//   2. prepare(algo, inLen, wLen, bLen, outLen) -> 0 or an error code; lays out the arena and grows
//      memory (so re-read memory.buffer afterwards);
//   3. copy input/weight/bias to inputPtr()/weightPtr()/biasPtr();
//   4. run(algo) -> 0 or an error code; read the output at outputPtr().
// Adding an algorithm (winograd.ts, fft.ts): one case in workspaceFloats() and one in execute().

import { arenaReset, arenaAlloc, arenaCapacity } from './arena';
import { PARAMS, PARAM_COUNT, OK, ERR_MEMORY, ERR_ALGORITHM, ERR_NOT_PREPARED, K, loadParams } from './params';
import { MR } from './kernels/gemm_4x8';
import { convIm2col, gemmWorkspaceFloats } from './gemm';
import { convDirect, directWorkspaceFloats } from './direct';
import { convWinograd, winogradWorkspaceFloats } from './winograd';
import { convFFT, fftWorkspaceFloats } from './fft';
import { forgetTransformedWeights } from './weight_cache';

// ALGORITHM_CODE in src/backends/types.ts.
const ALGO_DIRECT = 0;
const ALGO_IM2COL = 1;
const ALGO_WINOGRAD = 2;
const ALGO_FFT = 3;

function workspaceFloats(algo: i32): i64 {
  switch (algo) {
    case ALGO_DIRECT: return directWorkspaceFloats();
    case ALGO_IM2COL: return gemmWorkspaceFloats();
    case ALGO_WINOGRAD: return winogradWorkspaceFloats();
    case ALGO_FFT: return fftWorkspaceFloats();
    default: return -1;
  }
}

function execute(algo: i32, input: usize, weight: usize, bias: usize, out: usize, workspace: usize): void {
  switch (algo) {
    case ALGO_DIRECT: convDirect(input, weight, bias, out, workspace); break;
    case ALGO_IM2COL: convIm2col(input, weight, bias, out, workspace); break;
    case ALGO_WINOGRAD: convWinograd(input, weight, bias, out, workspace); break;
    case ALGO_FFT: convFFT(input, weight, bias, out, workspace); break;
  }
}

const PREPARED: usize = memory.data(PARAM_COUNT * 4, 16);
let preparedAlgo: i32 = -1;
let inLength = 0, wLength = 0, bLength = 0, outLength = 0;
let inputAt: usize = 0, weightAt: usize = 0, biasAt: usize = 0, outputAt: usize = 0;
let biasPadded: usize = 0, workspaceAt: usize = 0;

export function paramsPtr(): usize { return PARAMS; }
export function inputPtr(): usize { return inputAt; }
export function weightPtr(): usize { return weightAt; }
export function biasPtr(): usize { return biasAt; }
export function outputPtr(): usize { return outputAt; }
/** Bytes of linear memory held (the arena's high-water mark, rounded to pages). */
export function memoryBytes(): f64 { return <f64>arenaCapacity(); }

function alloc(floats: i64): usize {
  return arenaAlloc(<u64>floats << 2);
}

export function prepare(algo: i32, inLen: i32, wLen: i32, bLen: i32, outLen: i32): i32 {
  preparedAlgo = -1;
  const err = loadParams(inLen, wLen, bLen, outLen);
  if (err != OK) return err;
  const ws = workspaceFloats(algo);
  if (ws < 0) return ERR_ALGORITHM;
  // Cached transformed weights live in the workspace: valid only while the layout repeats exactly.
  if (algo != preparedLast || !unchangedSincePrepare()) forgetTransformedWeights();
  preparedLast = algo;
  arenaReset();
  inputAt = alloc(inLen);
  weightAt = alloc(wLen);
  biasAt = alloc(bLen > 0 ? bLen : 1);
  outputAt = alloc(outLen);
  // K + MR: edge tiles of the GEMM read (and discard) up to MR-1 bias values past K.
  biasPadded = alloc(<i64>K + MR);
  workspaceAt = alloc(ws > 0 ? ws : 1);
  if (inputAt == 0 || weightAt == 0 || biasAt == 0 || outputAt == 0 || biasPadded == 0 || workspaceAt == 0) {
    return ERR_MEMORY;
  }
  memory.copy(PREPARED, PARAMS, PARAM_COUNT * 4);
  inLength = inLen; wLength = wLen; bLength = bLen; outLength = outLen;
  preparedAlgo = algo;
  return OK;
}

let preparedLast: i32 = -1;

function unchangedSincePrepare(): bool {
  for (let i: usize = 0; i < <usize>PARAM_COUNT; i++) {
    if (load<i32>(PARAMS + (i << 2)) != load<i32>(PREPARED + (i << 2))) return false;
  }
  return true;
}

export function run(algo: i32): i32 {
  if (preparedAlgo < 0 || algo != preparedAlgo || !unchangedSincePrepare()) return ERR_NOT_PREPARED;
  const err = loadParams(inLength, wLength, bLength, outLength);
  if (err != OK) return err;
  memory.fill(biasPadded, 0, (<usize>K + MR) << 2);
  if (bLength > 0) memory.copy(biasPadded, biasAt, <usize>K << 2);
  execute(algo, inputAt, weightAt, biasPadded, outputAt, workspaceAt);
  return OK;
}
