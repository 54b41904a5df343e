// Winograd F(2x2,3x3) (Lavin & Gray 2015) for 3x3, stride 1, dilation 1: each 2x2 output tile is
// A^T [ sum_c (G g G^T) .* (B^T d B) ] A, so a tile costs 16 multiplies per channel pair instead of 36.
// The sum over channels of each of the 16 transformed positions (tuples) is a GEMM,
// M[t][k][tile] = U[t][k][c] x V[t][c][tile], run by the 4x8 microkernel on packed operands.
//
// Tiles are numbered row-major over the tile grid, each row padded to a multiple of 4 tiles so the
// SIMD transforms take 4 horizontally adjacent tiles per vector. Work goes in blocks of whole tile
// rows (about BLOCK_TILES tiles): transform the block's inputs (V, in 8-tile strips, the kernel's
// packed-B layout), 16 GEMMs, then the output transform with bias and ReLU fused.
//
// F(4x4,3x3) (winograd4.ts: 6x6 patches, 36 tuples, 2.25x fewer products per output) replaces it
// where it stays accurate and does less work (chooseTile); the tiling, blocking, GEMMs and threads
// are the same code with a tile edge of 4. Measured, 1 thread, U cached, GFLOP/s F(4x4) vs F(2x2):
// L6 (56x56, 256 ch) 86 vs 63, L5 63 vs 45, 28x28x128 74 vs 51, L2 (64 ch) 56 vs 55, L3 69 vs 52.
//
// conv1d (and any 1x3 kernel) runs F(2,3) or F(4,3): tiles of 1x2 or 1x4 outputs, 4 or 6 tuples, the
// same 1-D transforms as the rows of the 2-D ones.
// Long rows are cut into segments of at most BLOCK_TILES tiles (tileRows): a single conv1d splits
// into blocks and threads like an image, and its V and M stay block-sized (measured 5-11% faster
// on one thread, conv1d 64-256 channels, W 512-16000).
//
// Non-finite inputs or weights run as im2col: the transforms would spread one NaN/Inf over a tile.
// Outputs whose taps all fall in the padding are rewritten to the exact bias afterwards (their
// S = |bias| leaves no room for the tile's rounding noise).

import { MR, NR, gemm4x8, PackedB } from './kernels/gemm_4x8';
import { scratch, claimChunk, threadIndex, threadCount, SCRATCH_ROWS, SCRATCH_EDGE, SCRATCH_GW, SCRATCH_FILTERS } from './threads';
import { copyFloats, zeroFloats } from './memops';
import { copyIntoPlanes } from './pad';
import { allFinite } from './finite';
import { lanes, add, sub, mul, splat, relu as reluOf, min6 } from './vec';
import { inputF4, weightF4, weightRowF4, outputF4, col0, col1, col2, col3, storeFirst } from './winograd4';
import { fixPaddingOnly } from './padding_only';
import { knob } from './knobs';
import { KNOB_WINOGRAD_TILE } from './interface.generated';
import { gatherPhase, scatterPhase } from './winograd_phases';
import { cachedWeightsMatch, rememberTransformedWeights, forgetTransformedWeights } from './weight_cache';
import { saveGeometry, setUndilatedGeometry, restoreGeometry } from './params';
import { N, C, H, W, K, Kg, Cg, R, S, groups, OH, OW, strideH, strideW, dilationH, dilationW,
         padTop, padLeft, relu, relu6, inputCount, weightCount } from './params';

// Output tile edge: 2 (F(2x2,3x3), F(2,3)) or 4 (F(4x4,3x3), F(4,3)). Set from the caller's params
// at every entry point (the dilation phases change the geometry but keep the tile U was made for);
// the slices read it from the shared area, where winogradPrepareShared wrote it.
let tile: i32 = 2;
// Tuples of the transformed domain: (tile + 2)^2 for 3x3, tile + 2 for 1x3.
function tuples(): i32 { return R == 1 ? tile + 2 : (tile + 2) * (tile + 2); }
// Tiles per block: V and M of a block stay in L2 (measured, see README).
const BLOCK_TILES = 64;
const ZERO_BIAS: usize = memory.data(MR * 4, 16);
/** The tile edge of the last Winograd call prepared on this instance (tests). */
export function winogradTile(): i32 { return tile; }

// Zeros read past one edge by the taps (3 per output) of `outs` outputs at phase + d*i, i >= 0,
// of an axis of `size` values with `pad` zeros before it (undilated: d = 1, phase = 0).
function zerosBefore(outs: i32, pad: i32, d: i32, phase: i32): i32 { return min(outs + 2, max(0, (pad - phase + d - 1) / d)); }
function zerosAfter(outs: i32, size: i32, pad: i32, d: i32, phase: i32): i32 { return max(0, outs + 2 - (size + pad - phase + d - 1) / d); }

/**
 * F(4) keeps the 1e-4 * S budget where fewer than 2 zeros are read past each edge, on every dilation
 * phase (the native driver has the same rule, f4_accurate). With wider padding an output sees few taps, its S is small next to the tile's data and
 * F(4)'s larger transform factors break the 1e-4 * S budget.
 */
function f4Accurate(): bool {
  const dh = R == 1 ? 1 : dilationH;
  for (let b = 0; b < dilationW; b++) {
    const ow = phaseOut(OW, b, dilationW);
    if (ow >= 1 && (zerosBefore(ow, padLeft, dilationW, b) >= 2 || zerosAfter(ow, W, padLeft, dilationW, b) >= 2)) return false;
  }
  if (R == 1) return true;
  for (let a = 0; a < dh; a++) {
    const oh = phaseOut(OH, a, dh);
    if (oh >= 1 && (zerosBefore(oh, padTop, dh, a) >= 2 || zerosAfter(oh, H, padTop, dh, a) >= 2)) return false;
  }
  return true;
}

/** Tiles of edge m over every image and dilation phase: rows of tiles padded to 4 tiles (the SIMD transforms). */
function tileCount(m: i32): i64 {
  const dh = R == 1 ? 1 : dilationH;
  let tiles: i64 = 0;
  for (let a = 0; a < dh; a++) {
    const oh = phaseOut(OH, a, dh);
    for (let b = 0; b < dilationW; b++) {
      const ow = phaseOut(OW, b, dilationW);
      if (oh < 1 || ow < 1) continue;
      tiles += <i64>(R == 1 ? oh : (oh + m - 1) / m) * <i64>((((ow + m - 1) / m) + 3) & ~3);
    }
  }
  return <i64>N * tiles;
}

/**
 * F(4) where it is accurate (f4Accurate) and does less work. Work per tile, in units of one
 * tuple-GEMM product (a multiply-add of the 4x8 microkernel):
 * - tuples x paddedK x Cg products (F(4x4): 2.25x fewer tiles, but rows of tiles padded to 4 tiles);
 * - the weight transform, which runs on every call where layers alternate (one cached U per
 *   workspace): about WEIGHT_WORK products' time per U element, spread here as WEIGHT_WORK extra
 *   tiles (measured in `npm run bench`, L3 cold, both tile sizes). So small images with many channels
 *   (L3, 14x14x256) keep F(2x2): F(4x4) is 1.3x faster there with U cached, 6% slower cold;
 * - the input and output transforms, transformWork(m) per tile and channel (Cg in, Kg out). They
 *   dominate with few channels: fitted to an interleaved sweep (simd build, 1 thread, U cached,
 *   medians; C = K in 16..256, images 14..112, padding 1) where F(4x4) / F(2x2) time was, e.g.,
 *   56x56: C=16 1.46, 32 1.19, 48 1.08, 64 0.97, 96 0.90, 128 0.81, 256 0.76; 28x28: C=16 0.98,
 *   32 0.88, 64 0.78, 256 0.68 (tile grids: 56x56 pads F(4x4)'s rows of 14 tiles to 16, 28x28 pads
 *   both). Products alone predict 0.64 at 56x56 and 0.56 at 28x28 for every C and picked the slower
 *   tile in 11 of 49 shapes (3.2% slower than the best on average); with these terms in 7 (1.3%),
 *   all within 8% but one (16 channels at 112x112: F(4x4) 0.72, predicted 1.09).
 *   Dilated shapes run as dilation phases (undilated sub-grids), all with the one U: their tiles
 *   are summed (L8, 4 phases of 56x56 at 64 channels: F(4x4) 0.98x F(2x2)'s time cached, 0.99x
 *   cold; at 32 channels 1.15x, and the rule keeps F(2x2)).
 *   1-D: F(4,3) measured 0.79-0.98x F(2,3)'s time at every C = K from 16 to 256 (W 128-2048):
 *   products alone already pick it, so no transform term.
 */
const WEIGHT_WORK: i64 = 20;
// A layer's weight store keeps U between calls (weight_store.ts): then the transform is not per call.
let weightsKept = false;
/** Whether U comes from a weight store; set before every entry point (index.ts, runSlice for workers). */
export function winogradWeightsKept(kept: bool): void { weightsKept = kept; }
function transformWork(m: i32): i64 { return R == 1 ? 0 : m == 4 ? 800 : 120; }
function tileWork(m: i32): i64 {
  const tuplesOf = <i64>(R == 1 ? m + 2 : (m + 2) * (m + 2));
  const tiles = tileCount(m);
  const weightWork: i64 = weightsKept ? 0 : WEIGHT_WORK;
  return tuplesOf * <i64>paddedK() * <i64>Cg * (tiles + weightWork) + tiles * transformWork(m) * <i64>(Cg + Kg);
}
// The knob winogradTile (knobs.ts) forces 2 or 4 on the instance that runs prepare/beginRun; F(4)
// only where f4Accurate allows it. The threads read the tile from the shared area.
function chooseTile(): i32 {
  if (R != 3 && R != 1) return 2;
  if (!f4Accurate()) return 2;
  const forced = knob(KNOB_WINOGRAD_TILE);
  if (forced != 0) return forced;
  return tileWork(4) < tileWork(2) ? 4 : 2;
}

/**
 * 3x3 (F(2x2,3x3) or F(4x4,3x3)) or 1x3 (F(2,3) or F(4,3)) kernels at stride 1; any dilation, padding,
 * groups, batch. A 1x3 kernel needs vertical stride 1 too: the planes hold the padded input's rows
 * one per output row (the native driver steps rows by the stride instead).
 */
export function winogradApplies(): bool {
  return (R == 3 || R == 1) && S == 3 && strideH == 1 && strideW == 1;
}

/** The tile a call of PARAMS (read by the caller) would use now, knobs included; 0 where Winograd does not apply. */
export function winogradTileNow(stored: bool): i32 {
  if (!winogradApplies()) return 0;
  winogradWeightsKept(stored);
  return chooseTile();
}

// Dilation d runs as d_h x d_w phases: outputs (a + d_h i, b + d_w j) only read input rows
// a + d_h m and columns b + d_w n of the padded input, an undilated 3x3 convolution of that
// subsampled plane. Each phase is gathered (zeros for padding), convolved, and scattered back.
function dilated(): bool { return dilationH > 1 || dilationW > 1; }
function phaseOut(size: i32, a: i32, d: i32): i32 { return (size - a + d - 1) / d; }

// Tile grid: TH x TWP tiles (TWP = tiles per row rounded up to 4), rows of tiles in blocks.
// 1x3 kernels cut an output row of more than BLOCK_TILES tiles into segments() equal segments (TWP
// rounded up to NR), each a row of the grid with its own plane row: blocks then stay within
// BLOCK_TILES and the threads split even a single conv1d (one output row).
function rowTiles(): i32 { return (OW + tile - 1) / tile; }
function segments(): i32 { return R == 1 ? max(1, (rowTiles() + BLOCK_TILES - 1) / BLOCK_TILES) : 1; }
function tileRows(): i32 { return R == 1 ? OH * segments() : (OH + tile - 1) / tile; }
function tilesPerRow(): i32 {
  const segs = segments();
  if (segs == 1) return (rowTiles() + 3) & ~3;
  return (((rowTiles() + segs - 1) / segs) + NR - 1) & ~(NR - 1);
}
function planeRows(): i32 { return R == 1 ? tileRows() : tile * tileRows() + 2; }
// +4: the patches of the last tiles reach 2 columns past them, and their SIMD tap loads 2 more.
function planeCols(): i32 { return tile * tilesPerRow() + 4; }
function rowsPerBlock(): i32 { return max(1, BLOCK_TILES / tilesPerRow()); }
function blockTiles(): i32 { return (rowsPerBlock() * tilesPerRow() + NR - 1) & ~(NR - 1); }
function paddedK(): i32 { return (Kg + MR - 1) & ~(MR - 1); }

/** Floats of U for one group. */
function groupUFloats(): i64 { return <i64>tuples() * <i64>paddedK() * <i64>Cg; }

/** Floats of one thread's padded planes, V and M (current geometry). */
function tileFloats(): i64 {
  const planes = <i64>Cg * <i64>planeRows() * <i64>planeCols();
  const v = <i64>tuples() * <i64>Cg * <i64>blockTiles();
  const m = <i64>tuples() * <i64>paddedK() * <i64>blockTiles();
  return planes + v + m;
}

/** Floats shared by all threads: U of every group, then the weights U was made from (the cache key); -1 when the shape does not apply. */
export function winogradSharedFloats(): i64 {
  if (!winogradApplies()) return -1;
  tile = chooseTile();
  return groupUFloats() * <i64>groups + <i64>weightCount;
}

/** Floats each thread needs for itself. */
export function winogradPrivateFloats(): i64 {
  tile = chooseTile();
  if (!dilated()) return tileFloats();
  // Phase (0, 0) is the largest: its gathered input and output, then its planes, V and M.
  const oh = phaseOut(OH, 0, dilationH), ow = phaseOut(OW, 0, dilationW);
  const io = <i64>N * <i64>C * <i64>(oh + R - 1) * <i64>(ow + 2) + <i64>N * <i64>K * <i64>oh * <i64>ow;
  saveGeometry();
  setUndilatedGeometry(oh + R - 1, ow + 2, oh, ow);
  const own = io + tileFloats();
  restoreGeometry();
  return own;
}

/** Column j of the 4x4 input patch of the tiles starting at p (tiles are 2 floats apart). */
@inline function tap<T>(p: usize, j: usize): T {
  if (sizeof<T>() == 16) return v128.shuffle<f32>(v128.load(p + (j << 2)), v128.load(p + (j << 2) + 16), 0, 2, 4, 6);
  else return load<T>(p + (j << 2));
}

/** 1x4 row of B^T d: the same combination applies to rows and to columns. */
@inline function inputRow<T>(p: usize, scratch: usize): void {
  const d0 = tap<T>(p, 0), d1 = tap<T>(p, 1), d2 = tap<T>(p, 2), d3 = tap<T>(p, 3);
  store<T>(scratch, sub<T>(d0, d2));
  store<T>(scratch, add<T>(d1, d2), sizeof<T>());
  store<T>(scratch, sub<T>(d2, d1), 2 * sizeof<T>());
  store<T>(scratch, sub<T>(d1, d3), 3 * sizeof<T>());
}

// Per-thread scratch (threads.ts): the 4 row transforms of one patch; one interleaved output row of 4 tiles.
@inline function rowsAt(): usize { return scratch(SCRATCH_ROWS); }
// G g of 4 filters (one per lane), 4x3; byte offsets of the 4 filters of a strip from the first.
@inline function gwAt(): usize { return scratch(SCRATCH_GW); }
@inline function filtersAt(): usize { return scratch(SCRATCH_FILTERS); }
@inline function edgeAt(): usize { return scratch(SCRATCH_EDGE); }

/** F(2,3): V = B^T d for the tiles at p, tuple j stored `tupleStride` bytes apart. */
@inline function inputRow1<T>(p: usize, v: usize, tupleStride: usize): void {
  const d0 = tap<T>(p, 0), d1 = tap<T>(p, 1), d2 = tap<T>(p, 2), d3 = tap<T>(p, 3);
  store<T>(v, sub<T>(d0, d2));
  store<T>(v + tupleStride, add<T>(d1, d2));
  store<T>(v + 2 * tupleStride, sub<T>(d2, d1));
  store<T>(v + 3 * tupleStride, sub<T>(d1, d3));
}

/** V for the tiles at p (one channel): B^T d B, tuple t stored `tupleStride` bytes apart. */
@inline function inputTransform<T>(p: usize, rowBytes: usize, v: usize, tupleStride: usize): void {
  const sz = <usize>sizeof<T>();
  for (let i: usize = 0; i < 4; i++) inputRow<T>(p + i * rowBytes, rowsAt() + i * 4 * sz);
  for (let j: usize = 0; j < 4; j++) {
    const r0 = load<T>(rowsAt() + j * sz), r1 = load<T>(rowsAt() + (4 + j) * sz);
    const r2 = load<T>(rowsAt() + (8 + j) * sz), r3 = load<T>(rowsAt() + (12 + j) * sz);
    store<T>(v + j * tupleStride, sub<T>(r0, r2));
    store<T>(v + (4 + j) * tupleStride, add<T>(r1, r2));
    store<T>(v + (8 + j) * tupleStride, sub<T>(r2, r1));
    store<T>(v + (12 + j) * tupleStride, sub<T>(r1, r3));
  }
}

/** Row i of the 6x6 patches of the tiles at q (4 floats apart) times B: tuples (i, 0..5), `stride` apart. */
@inline function inputRow4<T>(q: usize, out: usize, stride: usize): void {
  if (sizeof<T>() == 16) {
    // Tile k's patch row is floats 4k..4k+5: transpose the 4x4 block of the 4 tiles' first 4
    // columns; columns 4 and 5 are columns 0 and 1 shifted by one tile (x holds tile 4's).
    const r0 = v128.load(q), r1 = v128.load(q, 16), r2 = v128.load(q, 32), r3 = v128.load(q, 48);
    const x = v128.load(q, 64);
    const c0 = col0(r0, r1, r2, r3), c1 = col1(r0, r1, r2, r3);
    inputF4<v128>(c0, c1, col2(r0, r1, r2, r3), col3(r0, r1, r2, r3),
                  v128.shuffle<f32>(c0, x, 1, 2, 3, 4), v128.shuffle<f32>(c1, x, 1, 2, 3, 5), out, stride);
  } else {
    inputF4<f32>(load<f32>(q), load<f32>(q, 4), load<f32>(q, 8), load<f32>(q, 12), load<f32>(q, 16), load<f32>(q, 20), out, stride);
  }
}

/** F(4x4): V = B^T d B; the rows' d B go into V, then B^T runs over each column in place. */
@inline function inputTransform4<T>(p: usize, rowBytes: usize, v: usize, ts: usize): void {
  for (let i: usize = 0; i < 6; i++) inputRow4<T>(p + i * rowBytes, v + i * 6 * ts, ts);
  for (let j: usize = 0; j < 6; j++) {
    const c = v + j * ts;
    inputF4<T>(load<T>(c), load<T>(c + 6 * ts), load<T>(c + 12 * ts), load<T>(c + 18 * ts),
               load<T>(c + 24 * ts), load<T>(c + 30 * ts), c, 6 * ts);
  }
}

/** V of every channel for tile rows [th0, th1) of the padded planes, in 8-tile strips [strip][c][8]. */
function transformInputs<T>(planes: usize, th0: i32, th1: i32, v: usize): void {
  const tw = tilesPerRow();
  const cols = <usize>planeCols();
  const planeBytes = (<usize>planeRows() * cols) << 2;
  const tupleStride = (<usize>Cg * <usize>blockTiles()) << 2;
  for (let th = th0; th < th1; th++) {
    for (let x = 0; x < tw; x += lanes<T>()) {
      const t = <usize>((th - th0) * tw + x);
      let dst = v + (((((t >> 3) * <usize>Cg) << 3) + (t & 7)) << 2);
      let src = planes + ((<usize>(R == 1 ? th : tile * th) * cols + <usize>(tile * x)) << 2);
      for (let c = 0; c < Cg; c++) {
        if (R == 1 && tile == 4) inputRow4<T>(src, dst, tupleStride);
        else if (R == 1) inputRow1<T>(src, dst, tupleStride);
        else if (tile == 4) inputTransform4<T>(src, cols << 2, dst, tupleStride);
        else inputTransform<T>(src, cols << 2, dst, tupleStride);
        src += planeBytes;
        dst += NR * 4;
      }
    }
  }
}

/** Tap q of the filters at f + FILTERS[lane] (4 filters per vector; one filter in the scalar build). */
@inline function filterTap<T>(f: usize, q: usize): T {
  const o = f + (q << 2);
  if (sizeof<T>() == 16) {
    return f32x4(load<f32>(o + load<u32>(filtersAt())), load<f32>(o + load<u32>(filtersAt(), 4)),
                 load<f32>(o + load<u32>(filtersAt(), 8)), load<f32>(o + load<u32>(filtersAt(), 12)));
  } else return load<T>(o);
}
@inline function half<T>(x: T): T { return mul<T>(x, splat<T>(0.5)); }

/** G g of the 3 taps q0, q0 + dq, q0 + 2dq into GW rows 0..3, column s. */
@inline function columnTimesG<T>(f: usize, q0: usize, dq: usize, s: usize): void {
  const sz = <usize>sizeof<T>();
  const g0 = filterTap<T>(f, q0), g1 = filterTap<T>(f, q0 + dq), g2 = filterTap<T>(f, q0 + 2 * dq);
  const sum = add<T>(g0, g2);
  store<T>(gwAt() + s * sz, g0);
  store<T>(gwAt() + (3 + s) * sz, half<T>(add<T>(sum, g1)));
  store<T>(gwAt() + (6 + s) * sz, half<T>(sub<T>(sum, g1)));
  store<T>(gwAt() + (9 + s) * sz, g2);
}

/**
 * F(4x4): U = G g G^T of the filters at f (filterTap). The 9 taps stay in registers and each row
 * of G g is made where G^T needs it: U is 36 tuples a tuple-plane apart, so storing G g into it and
 * transforming in place (as the inputs are) streamed it twice and tripled the cold-weights time
 * against F(2x2) (L3: bench/README.md, measurements).
 */
@inline function weightTransform4<T>(f: usize, dst: usize, tb: usize): void {
  const g00 = filterTap<T>(f, 0), g01 = filterTap<T>(f, 1), g02 = filterTap<T>(f, 2);
  const g10 = filterTap<T>(f, 3), g11 = filterTap<T>(f, 4), g12 = filterTap<T>(f, 5);
  const g20 = filterTap<T>(f, 6), g21 = filterTap<T>(f, 7), g22 = filterTap<T>(f, 8);
  for (let r: usize = 0; r < 6; r++) {
    weightF4<T>(weightRowF4<T>(r, g00, g10, g20), weightRowF4<T>(r, g01, g11, g21), weightRowF4<T>(r, g02, g12, g22),
                dst + r * 6 * tb, tb);
  }
}

/**
 * U = G g G^T (F(2,3): G g) of every filter of group g, packed per tuple as the microkernel's A:
 * MR-row strips [k/4][c][4]; the SIMD build transforms the 4 filters of a strip row as one vector.
 * Rows past Kg repeat filter Kg-1 (their outputs are never stored). One filter at a time with
 * scattered stores was the slow way on L3's 65536 filters (bench/README.md, measurements).
 */
function transformWeights<T>(weight: usize, g: i32, u: usize): void {
  const sz = <usize>sizeof<T>();
  const taps = <usize>(R * 3);
  const tupleBytes = (<usize>paddedK() * <usize>Cg) << 2;
  const kp = paddedK();
  const step = (<usize>Cg * taps) << 2; // bytes between filters k and k+1
  let at = u;
  for (let m0 = 0; m0 < kp; m0 += MR) {
    for (let i = 0; i < MR; i++) store<u32>(filtersAt() + (<usize>i << 2), <u32>(<usize>(min(m0 + i, Kg - 1) - m0) * step));
    for (let c = 0; c < Cg; c++) {
      for (let i = 0; i < MR; i += lanes<T>()) {
        // Clamped so that the last strip's padding rows read real filters.
        const k = min(m0 + i, Kg - 1);
        const f = weight + (((<usize>(g * Kg + k) * <usize>Cg + <usize>c) * taps) << 2);
        const dst = at + (<usize>i << 2);
        if (tile == 4) {
          if (R == 1) weightF4<T>(filterTap<T>(f, 0), filterTap<T>(f, 1), filterTap<T>(f, 2), dst, tupleBytes);
          else weightTransform4<T>(f, dst, tupleBytes);
          continue;
        }
        if (R == 1) {
          columnTimesG<T>(f, 0, 1, 0);
          for (let t: usize = 0; t < 4; t++) store<T>(dst + t * tupleBytes, load<T>(gwAt() + t * 3 * sz));
          continue;
        }
        for (let s: usize = 0; s < 3; s++) columnTimesG<T>(f, s, 3, s);
        for (let r: usize = 0; r < 4; r++) {
          const gi = gwAt() + r * 3 * sz;
          const a = load<T>(gi), b = load<T>(gi + sz), d = load<T>(gi + 2 * sz);
          const sum = add<T>(a, d);
          const row = dst + r * 4 * tupleBytes;
          store<T>(row, a);
          store<T>(row + tupleBytes, half<T>(add<T>(sum, b)));
          store<T>(row + 2 * tupleBytes, half<T>(sub<T>(sum, b)));
          store<T>(row + 3 * tupleBytes, d);
        }
      }
      at += MR * 4;
    }
  }
}

/** M[t] = U[t] x V[t] for the block's strips. */
function multiply(u: usize, v: usize, m: usize, strips: i32): void {
  const kp = paddedK();
  const bt = <usize>blockTiles();
  const ldc = bt << 2;
  for (let t = 0; t < tuples(); t++) {
    const ut = u + ((<usize>t * <usize>kp * <usize>Cg) << 2);
    const vt = v + ((<usize>t * <usize>Cg * bt) << 2);
    const mt = m + ((<usize>t * <usize>kp * bt) << 2);
    for (let s = 0; s < strips; s++) {
      const b = vt + ((<usize>s * <usize>Cg * NR) << 2);
      const c = mt + (<usize>s * NR << 2);
      for (let m0 = 0; m0 < kp; m0 += MR) {
        gemm4x8<PackedB>(Cg, ut + ((<usize>m0 * <usize>Cg) << 2), b, NR * 4, 0, c + <usize>m0 * ldc, ldc, ZERO_BIAS, 0);
      }
    }
  }
}

/** Writes the 2 outputs of one tile row (y0 at even columns, y1 at odd) clipped to OW. */
@inline function storePair<T>(dst: usize, y0: T, y1: T, ow: i32): void {
  const n = min(2 * lanes<T>(), OW - ow);
  if (sizeof<T>() == 16) {
    const lo = v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), hi = v128.shuffle<f32>(y0, y1, 2, 6, 3, 7);
    if (n == 8) { v128.store(dst, lo); v128.store(dst, hi, 16); return; }
    v128.store(edgeAt(), lo); v128.store(edgeAt(), hi, 16);
    for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(edgeAt() + (<usize>i << 2)));
  } else {
    store<T>(dst, y0);
    if (n > 1) store<T>(dst, y1, 4);
  }
}

/**
 * F(4x4): A^T M A + bias (+ReLU) of the tiles at src (tuples ts bytes apart) into the outputs at dst
 * (row oh, column ow). In place over M: M A by rows, then A^T by columns, then each output row's 4
 * vectors (one column of 4 tiles each) transposed into 16 consecutive outputs.
 */
@inline function outputTransform4<T>(src: usize, ts: usize, b: T, dst: usize, oh: i32, ow: i32): void {
  for (let i: usize = 0; i < 6; i++) {
    const row = src + i * 6 * ts;
    outputF4<T>(load<T>(row), load<T>(row + ts), load<T>(row + 2 * ts), load<T>(row + 3 * ts),
                load<T>(row + 4 * ts), load<T>(row + 5 * ts), splat<T>(0), row, ts);
  }
  for (let j: usize = 0; j < 4; j++) {
    const c = src + j * ts;
    outputF4<T>(load<T>(c), load<T>(c + 6 * ts), load<T>(c + 12 * ts), load<T>(c + 18 * ts),
                load<T>(c + 24 * ts), load<T>(c + 30 * ts), b, c, 6 * ts);
  }
  for (let r = 0; r < 4 && oh + r < OH; r++) {
    const row = src + <usize>r * 6 * ts;
    storeRow4<T>(load<T>(row), load<T>(row + ts), load<T>(row + 2 * ts), load<T>(row + 3 * ts),
                 dst + ((<usize>r * <usize>OW) << 2), OW - ow);
  }
}

/**
 * One output row of 4 tiles of 4 (y_j: output j of each tile, one tile per lane; ReLU applied
 * here), transposed into 16 consecutive outputs at d, clipped to the n that remain in the row.
 */
@inline function storeRow4<T>(y0: T, y1: T, y2: T, y3: T, d: usize, n: i32): void {
  if (relu) { y0 = reluOf<T>(y0); y1 = reluOf<T>(y1); y2 = reluOf<T>(y2); y3 = reluOf<T>(y3); }
  if (relu6) { y0 = min6<T>(y0); y1 = min6<T>(y1); y2 = min6<T>(y2); y3 = min6<T>(y3); }
  if (sizeof<T>() == 16) {
    if (n >= 16) {
      v128.store(d, col0(y0, y1, y2, y3)); v128.store(d, col1(y0, y1, y2, y3), 16);
      v128.store(d, col2(y0, y1, y2, y3), 32); v128.store(d, col3(y0, y1, y2, y3), 48);
      return;
    }
    const t0 = col0(y0, y1, y2, y3), t1 = col1(y0, y1, y2, y3), t2 = col2(y0, y1, y2, y3);
    if (n < 4) { storeFirst(d, t0, n); return; }
    v128.store(d, t0);
    if (n < 8) { storeFirst(d + 16, t1, n - 4); return; }
    v128.store(d, t1, 16);
    if (n < 12) { storeFirst(d + 32, t2, n - 8); return; }
    v128.store(d, t2, 32);
    storeFirst(d + 48, col3(y0, y1, y2, y3), n - 12);
  } else {
    store<T>(d, y0);
    if (n > 1) store<T>(d, y1, 4);
    if (n > 2) store<T>(d, y2, 8);
    if (n > 3) store<T>(d, y3, 12);
  }
}

/** Output transform A^T M A + bias (+ReLU) of tile rows [th0, th1) into the output planes at out. */
function transformOutputs<T>(m: usize, th0: i32, th1: i32, bias: usize, out: usize): void {
  const tw = tilesPerRow();
  const bt = <usize>blockTiles();
  const tupleStride = (<usize>paddedK() * bt) << 2;
  const sz = <usize>sizeof<T>();
  const plane = <usize>OH * <usize>OW;
  const segs = segments();
  for (let k = 0; k < Kg; k++) {
    const b = splat<T>(load<f32>(bias + (<usize>k << 2)));
    const mk = m + ((<usize>k * bt) << 2);
    const ok = out + ((<usize>k * plane) << 2);
    for (let th = th0; th < th1; th++) {
      // 1x3: output row and first column of this segment (the 3x3 paths: row 2th or 4th, column 0).
      const orow = R == 1 ? th / segs : th;
      const ocol = R == 1 ? (th - orow * segs) * tile * tw : 0;
      for (let x = 0; x < tw; x += lanes<T>()) {
        const ow = ocol + tile * x;
        if (ow >= OW) break;
        const src = mk + (<usize>((th - th0) * tw + x) << 2);
        if (tile == 4 && R == 1) {
          // F(4,3): A^T m in place over the first 4 tuples, then one row of 16 outputs.
          outputF4<T>(load<T>(src), load<T>(src + tupleStride), load<T>(src + 2 * tupleStride), load<T>(src + 3 * tupleStride),
                      load<T>(src + 4 * tupleStride), load<T>(src + 5 * tupleStride), b, src, tupleStride);
          storeRow4<T>(load<T>(src), load<T>(src + tupleStride), load<T>(src + 2 * tupleStride), load<T>(src + 3 * tupleStride),
                       ok + ((<usize>orow * <usize>OW + <usize>ow) << 2), OW - ow);
          continue;
        }
        if (tile == 4) {
          outputTransform4<T>(src, tupleStride, b, ok + ((<usize>(4 * th) * <usize>OW + <usize>ow) << 2), 4 * th, ow);
          continue;
        }
        if (R == 1) {
          const m0 = load<T>(src), m1 = load<T>(src + tupleStride);
          const m2 = load<T>(src + 2 * tupleStride), m3 = load<T>(src + 3 * tupleStride);
          let y0 = add<T>(add<T>(add<T>(m0, m1), m2), b);
          let y1 = add<T>(sub<T>(sub<T>(m1, m2), m3), b);
          if (relu) { y0 = reluOf<T>(y0); y1 = reluOf<T>(y1); }
          if (relu6) { y0 = min6<T>(y0); y1 = min6<T>(y1); }
          storePair<T>(ok + ((<usize>orow * <usize>OW + <usize>ow) << 2), y0, y1, ow);
          continue;
        }
        // s[i][0..1] = (M A) row i; then y = A^T s.
        for (let i: usize = 0; i < 4; i++) {
          const row = src + i * 4 * tupleStride;
          const m0 = load<T>(row), m1 = load<T>(row + tupleStride);
          const m2 = load<T>(row + 2 * tupleStride), m3 = load<T>(row + 3 * tupleStride);
          store<T>(rowsAt() + i * 2 * sz, add<T>(add<T>(m0, m1), m2));
          store<T>(rowsAt() + (i * 2 + 1) * sz, sub<T>(sub<T>(m1, m2), m3));
        }
        for (let j: usize = 0; j < 2; j++) {
          const s0 = load<T>(rowsAt() + j * sz), s1 = load<T>(rowsAt() + (2 + j) * sz);
          const s2 = load<T>(rowsAt() + (4 + j) * sz), s3 = load<T>(rowsAt() + (6 + j) * sz);
          let y0 = add<T>(add<T>(add<T>(s0, s1), s2), b);
          let y1 = add<T>(sub<T>(sub<T>(s1, s2), s3), b);
          if (relu) { y0 = reluOf<T>(y0); y1 = reluOf<T>(y1); }
          if (relu6) { y0 = min6<T>(y0); y1 = min6<T>(y1); }
          store<T>(rowsAt() + (8 + j) * sz, y0);
          store<T>(rowsAt() + (10 + j) * sz, y1);
        }
        const oh = 2 * th;
        const dst = ok + ((<usize>oh * <usize>OW + <usize>ow) << 2);
        storePair<T>(dst, load<T>(rowsAt() + 8 * sz), load<T>(rowsAt() + 9 * sz), ow);
        if (oh + 1 < OH) storePair<T>(dst + (<usize>OW << 2), load<T>(rowsAt() + 10 * sz), load<T>(rowsAt() + 11 * sz), ow);
      }
    }
  }
}


/** U of every group at `u`, followed by a copy of the weights it came from; reused when they match. */
function transformAllWeights(weight: usize, u: usize): void {
  const uBytes = (<usize>groupUFloats()) << 2;
  const copy = u + uBytes * <usize>groups;
  if (cachedWeightsMatch(u, weight, copy)) return;
  transformGroups(weight, u);
  copyFloats(copy, weight, weightCount);
  rememberTransformedWeights(u);
}

/** U of every group at `u`. */
function transformGroups(weight: usize, u: usize): void {
  const uBytes = (<usize>groupUFloats()) << 2;
  for (let g = 0; g < groups; g++) {
    if (ASC_FEATURE_SIMD) transformWeights<v128>(weight, g, u + <usize>g * uBytes);
    else transformWeights<f32>(weight, g, u + <usize>g * uBytes);
  }
}

/** Floats of U of every group (what a layer's weight store keeps) and the tile it is made for. */
export function winogradStoredFloats(): i64 {
  tile = chooseTile();
  return groupUFloats() * <i64>groups;
}
export function winogradChosenTile(): i32 { return chooseTile(); }

/** Zeroes plane rows [rowLo, rowHi) of every channel and copies the image rows that fall in them. */
function loadRows(img: usize, planes: usize, rowLo: i32, rowHi: i32): void {
  if (R == 1) {
    loadSegments(img, planes, rowLo, rowHi);
    return;
  }
  const cols = <usize>planeCols();
  for (let c = 0; c < Cg; c++) {
    zeroFloats(planes + ((<usize>c * <usize>planeRows() + <usize>rowLo) * cols << 2), (rowHi - rowLo) * <i32>cols);
  }
  copyIntoPlanes(img, Cg, planes, planeRows(), planeCols(), rowLo, rowHi);
}

/**
 * 1x3: plane row v holds the columns of segment v % segments() of output row v / segments(), from
 * input column (its first output) - padLeft on, zeros outside the image.
 */
function loadSegments(img: usize, planes: usize, rowLo: i32, rowHi: i32): void {
  const cols = planeCols(), segs = segments(), segCols = tile * tilesPerRow();
  for (let c = 0; c < Cg; c++) {
    for (let v = rowLo; v < rowHi; v++) {
      const r = v / segs;
      const ih = r - padTop;
      const dst = planes + ((<usize>c * <usize>planeRows() + <usize>v) * <usize>cols << 2);
      if (ih < 0 || ih >= H) {
        zeroFloats(dst, cols);
        continue;
      }
      const first = (v - r * segs) * segCols - padLeft; // input column of plane column 0
      const j0 = min(cols, max(0, -first)), j1 = max(j0, min(cols, W - first));
      zeroFloats(dst, j0);
      copyFloats(dst + (<usize>j0 << 2), img + ((<usize>c * <usize>H + <usize>ih) * <usize>W + <usize>(first + j0) << 2), j1 - j0);
      zeroFloats(dst + (<usize>j1 << 2), cols - j1);
    }
  }
}

// The plane rows tile rows [ta, tb) read (a 4-row patch per 2 output rows; F(2,3): one row each).
@inline function firstRow(ta: i32): i32 { return R == 1 ? ta : tile * ta; }
@inline function endRow(tb: i32): i32 { return R == 1 ? tb : tile * tb + 2; }

/** Transform, 16 GEMMs and output transform of tile rows [ta, tb), whose plane rows are loaded. */
@inline function tileBlock<T>(planes: usize, v: usize, m: usize, u: usize, bias: usize, out: usize, ta: i32, tb: i32): void {
  transformInputs<T>(planes, ta, tb, v);
  multiply(u, v, m, ((tb - ta) * tilesPerRow() + NR - 1) / NR);
  transformOutputs<T>(m, ta, tb, bias, out);
}

/** A thread's scratch at `own` holds its input planes, then V, then M. */
@inline function scratchV(own: usize): usize { return own + ((<usize>Cg * <usize>planeRows() * <usize>planeCols()) << 2); }
@inline function scratchM(own: usize): usize { return scratchV(own) + ((<usize>tuples() * <usize>Cg * <usize>blockTiles()) << 2); }

/** Tile rows [th0, th1) of every image and group; `own` holds this thread's planes, V and M. */
function convTiles<T>(input: usize, u0: usize, bias: usize, out: usize, own: usize, th0: i32, th1: i32): void {
  const planes = own, v = scratchV(own), m = scratchM(own);
  const inPlane = <usize>H * <usize>W * 4;
  const outPlane = <usize>OH * <usize>OW * 4;
  const rb = rowsPerBlock();
  for (let g = 0; g < groups; g++) {
    const u = u0 + ((<usize>groupUFloats() * <usize>g) << 2);
    for (let n = 0; n < N; n++) {
      loadRows(input + (<usize>n * <usize>C + <usize>g * <usize>Cg) * inPlane, planes, firstRow(th0), endRow(th1));
      const o = out + (<usize>n * <usize>K + <usize>g * <usize>Kg) * outPlane;
      const b = bias + (<usize>(g * Kg) << 2);
      for (let ta = th0; ta < th1; ta += rb) tileBlock<T>(planes, v, m, u, b, o, ta, min(th1, ta + rb));
    }
  }
}

/** Blocks of tile rows over every (group, image), claimed one at a time (threads.ts). */
function convTilesClaimed<T>(input: usize, u0: usize, bias: usize, out: usize, own: usize): void {
  const planes = own, v = scratchV(own), m = scratchM(own);
  const inPlane = <usize>H * <usize>W * 4;
  const outPlane = <usize>OH * <usize>OW * 4;
  const th = tileRows();
  // Small images fit in one block: cut them into one block per thread so every thread has work
  // (smaller blocks stream U more often, so not finer than that).
  const rb = threadCount > 1 ? min(rowsPerBlock(), (th + threadCount - 1) / threadCount) : rowsPerBlock();
  const blocks = (th + rb - 1) / rb;
  const total = groups * N * blocks;
  for (let chunk = claimChunk(); chunk < total; chunk = claimChunk()) {
    const gn = chunk / blocks;
    const g = gn / N, n = gn - g * N;
    const ta = (chunk - gn * blocks) * rb, tb = min(th, ta + rb);
    loadRows(input + (<usize>n * <usize>C + <usize>g * <usize>Cg) * inPlane, planes, firstRow(ta), endRow(tb));
    tileBlock<T>(planes, v, m, u0 + ((<usize>groupUFloats() * <usize>g) << 2), bias + (<usize>(g * Kg) << 2),
                 out + (<usize>n * <usize>K + <usize>g * <usize>Kg) * outPlane, ta, tb);
  }
}

/** This thread's phases (round-robin over the dh x dw phases), each over all its tile rows. */
function convPhases(input: usize, u0: usize, bias: usize, out: usize, own: usize): void {
  const dh = dilationH, dw = dilationW, oh0 = OH, ow0 = OW, h0 = H, w0 = W, pt = padTop, pl = padLeft;
  const taps = R - 1;
  const maxOh = phaseOut(oh0, 0, dh), maxOw = phaseOut(ow0, 0, dw);
  const phaseIn = own;
  const phaseOutAt = phaseIn + ((<usize>N * <usize>C * <usize>(maxOh + taps) * <usize>(maxOw + 2)) << 2);
  const rest = phaseOutAt + ((<usize>N * <usize>K * <usize>maxOh * <usize>maxOw) << 2);
  saveGeometry();
  for (let a = 0; a < dh; a++) {
    for (let b = 0; b < dw; b++) {
      if ((a * dw + b) % threadCount != threadIndex) continue;
      const oh = phaseOut(oh0, a, dh), ow = phaseOut(ow0, b, dw);
      if (oh < 1 || ow < 1) continue;
      const h = oh + taps, w = ow + 2;
      gatherPhase(input, N * C, h0, w0, a, b, dh, dw, pt, pl, h, w, phaseIn);
      setUndilatedGeometry(h, w, oh, ow);
      if (ASC_FEATURE_SIMD) convTiles<v128>(phaseIn, u0, bias, phaseOutAt, rest, 0, tileRows());
      else convTiles<f32>(phaseIn, u0, bias, phaseOutAt, rest, 0, tileRows());
      restoreGeometry();
      scatterPhase(phaseOutAt, N * K, oh, ow, a, b, dh, dw, oh0, ow0, out);
    }
  }
}

/**
 * Before the threads start: U of every group into `shared` (or kept from the last call), or into
 * `stored` (a layer's store entry) when `fill`. False when an input or (transformed) weight is not
 * finite: the caller runs im2col instead (its layout overwrites U).
 */
export function winogradPrepareShared(input: usize, weight: usize, shared: usize, stored: usize = 0, fill: bool = true): bool {
  const transform = stored == 0 || fill;
  if (!allFinite(input, inputCount) || (transform && !allFinite(weight, weightCount))) {
    forgetTransformedWeights();
    return false;
  }
  tile = chooseTile();
  if (stored == 0) transformAllWeights(weight, shared);
  else if (fill) transformGroups(weight, stored);
  return true;
}

/** This thread's share: blocks of tile rows as it claims them, or whole dilation phases. `own`: winogradPrivateFloats(). */
// `t`: the tile the caller chose (beginRun's layout): a worker instance has its own globals and may
// not see the caller's knobs.
export function winogradSlice(input: usize, bias: usize, out: usize, u: usize, own: usize, t: i32): void {
  tile = t;
  if (dilated()) convPhases(input, u, bias, out, own);
  else if (ASC_FEATURE_SIMD) convTilesClaimed<v128>(input, u, bias, out, own);
  else convTilesClaimed<f32>(input, u, bias, out, own);
}

/** After every thread is done (one thread). */
export function winogradFinish(bias: usize, out: usize): void {
  fixPaddingOnly(bias, out);
}
