// The convolution being run, unpacked from the Int32Array the JS side writes (field order:
// native/interface.mjs), and re-validated here: the module must return an error code,
// never trap or touch memory outside its buffers, whatever the caller sends.

import { STATIC_BASE, STATIC_PARAMS } from './statics';
import { PARAM_N, PARAM_C, PARAM_H, PARAM_W, PARAM_K, PARAM_R, PARAM_S, PARAM_groups, PARAM_strideH, PARAM_strideW,
         PARAM_dilationH, PARAM_dilationW, PARAM_padTop, PARAM_padBottom, PARAM_padLeft, PARAM_padRight, PARAM_OH, PARAM_OW,
         PARAM_relu, PARAM_relu6, OK, ERR_PARAM, ERR_GROUPS, ERR_OUTPUT_SHAPE, ERR_LENGTH, ERR_INDEX, ERR_TOO_LARGE } from './interface.generated';
// The field order and the status codes come from native/interface.mjs (generated at build time).
export { PARAM_COUNT, OK, ERR_PARAM, ERR_GROUPS, ERR_OUTPUT_SHAPE, ERR_LENGTH, ERR_MEMORY, ERR_ALGORITHM, ERR_NOT_PREPARED,
         ERR_WEIGHTS, ERR_INDEX, ERR_TOO_LARGE } from './interface.generated';

export const PARAMS: usize = STATIC_BASE + STATIC_PARAMS;

export let N: i32 = 0;
export let C: i32 = 0;
export let H: i32 = 0;
export let W: i32 = 0;
export let K: i32 = 0;
export let R: i32 = 0;
export let S: i32 = 0;
export let groups: i32 = 0;
export let strideH: i32 = 0;
export let strideW: i32 = 0;
export let dilationH: i32 = 0;
export let dilationW: i32 = 0;
export let padTop: i32 = 0;
export let padBottom: i32 = 0;
export let padLeft: i32 = 0;
export let padRight: i32 = 0;
export let OH: i32 = 0;
export let OW: i32 = 0;
export let relu: bool = false;
// With relu: clamp at 6 too (ReLU6).
export let relu6: bool = false;

// Derived per group: channels in/out and the GEMM depth C/groups*R*S.
export let Cg: i32 = 0;
export let Kg: i32 = 0;

// Element counts; every one stays below MAX_ELEMENTS so that byte offsets fit in 32 bits.
export let inputCount: i32 = 0;
export let weightCount: i32 = 0;
export let outputCount: i32 = 0;

// 2^28 floats = 1 GiB per tensor: well inside wasm32's 4 GiB and keeps all products in i64 exact.
const MAX_ELEMENTS: i64 = 1 << 28;

@inline function param(i: i32): i32 {
  return load<i32>(PARAMS + (<usize>i << 2));
}

function product(a: i64, b: i64): i64 {
  const p = a * b;
  return p > MAX_ELEMENTS ? MAX_ELEMENTS + 1 : p;
}

function outputExtent(size: i32, padA: i32, padB: i32, kernel: i32, dilation: i32, stride: i32): i64 {
  const padded = <i64>size + <i64>padA + <i64>padB;
  const span = <i64>dilation * <i64>(kernel - 1) + 1;
  if (padded < span) return 0;
  return (padded - span) / <i64>stride + 1;
}

/** Reads and checks PARAMS against the buffer lengths the caller holds (bias 0 = no bias). */
export function loadParams(inLen: i32, wLen: i32, bLen: i32, outLen: i32): i32 {
  const err = readParams();
  if (err != OK) return err;
  if (<i64>inLen != <i64>inputCount || <i64>wLen != <i64>weightCount || <i64>outLen != <i64>outputCount) return ERR_LENGTH;
  if (bLen != 0 && bLen != K) return ERR_LENGTH;
  return OK;
}

/** Reads PARAMS and checks every limit of this module that does not depend on buffers (OK or an error code). */
export function readParams(): i32 {
  N = param(PARAM_N); C = param(PARAM_C); H = param(PARAM_H); W = param(PARAM_W);
  K = param(PARAM_K); R = param(PARAM_R); S = param(PARAM_S); groups = param(PARAM_groups);
  strideH = param(PARAM_strideH); strideW = param(PARAM_strideW); dilationH = param(PARAM_dilationH); dilationW = param(PARAM_dilationW);
  padTop = param(PARAM_padTop); padBottom = param(PARAM_padBottom); padLeft = param(PARAM_padLeft); padRight = param(PARAM_padRight);
  OH = param(PARAM_OH); OW = param(PARAM_OW);
  const reluFlag = param(PARAM_relu);
  const relu6Flag = param(PARAM_relu6);

  if (N < 1 || C < 1 || H < 1 || W < 1 || K < 1 || R < 1 || S < 1 || groups < 1) return ERR_PARAM;
  if (strideH < 1 || strideW < 1 || dilationH < 1 || dilationW < 1) return ERR_PARAM;
  if (padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0) return ERR_PARAM;
  if (reluFlag != 0 && reluFlag != 1) return ERR_PARAM;
  if (relu6Flag != 0 && (relu6Flag != 1 || reluFlag != 1)) return ERR_PARAM;
  relu = reluFlag == 1;
  relu6 = relu6Flag == 1;
  if (C % groups != 0 || K % groups != 0) return ERR_GROUPS;
  Cg = C / groups;
  Kg = K / groups;

  const oh = outputExtent(H, padTop, padBottom, R, dilationH, strideH);
  const ow = outputExtent(W, padLeft, padRight, S, dilationW, strideW);
  if (oh < 1 || ow < 1 || oh != <i64>OH || ow != <i64>OW) return ERR_OUTPUT_SHAPE;
  // Every index a kernel forms, oh*stride - pad + r*dilation, and the padded extents stay in i32.
  const maxIndex: i64 = 2147483647;
  if (<i64>H + <i64>padTop + <i64>padBottom > maxIndex || <i64>W + <i64>padLeft + <i64>padRight > maxIndex ||
      <i64>(OH - 1) * <i64>strideH + <i64>(R - 1) * <i64>dilationH >= maxIndex ||
      <i64>(OW - 1) * <i64>strideW + <i64>(S - 1) * <i64>dilationW >= maxIndex) return ERR_INDEX;

  const inC = product(product(product(N, C), H), W);
  const wC = product(product(product(K, Cg), R), S);
  const outC = product(product(product(N, K), OH), OW);
  if (inC > MAX_ELEMENTS || wC > MAX_ELEMENTS || outC > MAX_ELEMENTS) return ERR_TOO_LARGE;
  inputCount = <i32>inC;
  weightCount = <i32>wC;
  outputCount = <i32>outC;
  return OK;
}

// Dilated Winograd runs each output phase as an undilated sub-convolution (winograd.ts): these swap
// the spatial geometry for the sub-problem's and back. Only the fields below change.
let savedH = 0, savedW = 0, savedOH = 0, savedOW = 0, savedDH = 0, savedDW = 0;
let savedPads: i32 = 0, savedPadB = 0, savedPadL = 0, savedPadR = 0, savedIn = 0, savedOut = 0;

export function saveGeometry(): void {
  savedH = H; savedW = W; savedOH = OH; savedOW = OW; savedDH = dilationH; savedDW = dilationW;
  savedPads = padTop; savedPadB = padBottom; savedPadL = padLeft; savedPadR = padRight;
  savedIn = inputCount; savedOut = outputCount;
}

/** An undilated, unpadded h x w input giving oh x ow outputs (same N, C, K, kernel, groups). */
export function setUndilatedGeometry(h: i32, w: i32, oh: i32, ow: i32): void {
  H = h; W = w; OH = oh; OW = ow; dilationH = 1; dilationW = 1;
  padTop = 0; padBottom = 0; padLeft = 0; padRight = 0;
  inputCount = N * C * h * w; outputCount = N * K * oh * ow;
}

export function restoreGeometry(): void {
  H = savedH; W = savedW; OH = savedOH; OW = savedOW; dilationH = savedDH; dilationW = savedDW;
  padTop = savedPads; padBottom = savedPadB; padLeft = savedPadL; padRight = savedPadR;
  inputCount = savedIn; outputCount = savedOut;
}
