// Convolution as GEMM per (image, group): out[Kg][P] = W[Kg][Cg*R*S] x B[Cg*R*S][P] + bias, with
// P = OH*OW output pixels. Two ways to feed B to the 4x8 microkernel:
//
// - indirect (strideW = 1, not pointwise, rows of whole strips or wide; bMode()): the group's input
//   is copied once into zero-bordered planes (pad.ts), where row q = (c, r, s) of an 8-pixel strip
//   is 8 consecutive floats at a fixed offset from the strip's first tap, so the kernel reads B in
//   place through a table of kdim offsets: no packing pass. Each output row is cut into 8-pixel
//   strips; a row's last partial strip runs as an edge tile.
// - packed (the rest): BLIS order, P in NC-column panels and depth in KC slices; each panel is packed
//   once (im2col.ts; pointwise layers copy plain input rows) into 8-column strips.
//
// In both, one B strip (KC x 8 floats, 8 KiB) stays in L1 while every 4-row sliver of packed A
// streams past it from L2 (the A slice is Kg x KC x 4 bytes, 256 KiB at Kg = 256).
// Indirect wins most where each B element serves few rows (L9, L12: packing dominated there), ties
// on L6/L8 and loses slightly on L3 (per-layer numbers: bench/README.md, measurements).

import { scratch, claimChunk, threadCount, SCRATCH_TILE } from './threads';
import { MR, NR, LOAD_C, RELU, RELU6, gemm4x8, PackedB, IndirectB } from './kernels/gemm_4x8';
import { packPanel, packPointwise, isPointwise } from './im2col';
import { zeroPlanes, copyInteriors, paddedHeight, paddedWidth } from './pad';
import { N, C, H, W, K, Kg, Cg, R, S, groups, OH, OW, strideH, strideW, dilationH, dilationW, relu, relu6 } from './params';

export const KC = 256;
export const NC = 512;

// Edge tiles (fewer than 4 rows or 8 columns) run the full kernel on a per-thread scratch tile.
@inline function tile(): usize { return scratch(SCRATCH_TILE); }

function depth(): i32 { return Cg * R * S; }
function packedAFloats(): i64 { return <i64>((Kg + MR - 1) / MR) * MR * <i64>depth(); }

// How B reaches the kernel (see the top of this file).
const B_PACKED = 0;
const B_PADDED = 1; // indirect, from zero-bordered copies of the input planes

/**
 * Padded indirect B needs stride 1 along rows (strips are contiguous). Narrow rows that are not whole
 * strips waste up to 7/8 of a tile per row: measured on L3 (OW 14) the packed path is ~6 % faster.
 * Pointwise layers pack plain rows (packPointwise): reading them in place through offsets, rows
 * H*W*4 bytes apart, measured 20-25 % slower on L4 whatever the depth slice (64, 128, 256).
 */
function bMode(): i32 {
  if (!isPointwise() && strideW == 1 && (OW % NR == 0 || OW >= 4 * NR)) return B_PADDED;
  return B_PACKED;
}

/**
 * Floats of the workspace shared by all threads: the packed weights of every group (packed once per
 * call, before the threads start), then the tap offsets of indirect B.
 */
export function gemmSharedFloats(): i64 {
  return gemmPackedFloats() + gemmOffsetFloats();
}

/** Floats of the packed weights of every group (what a layer's weight store keeps). */
export function gemmPackedFloats(): i64 { return packedAFloats() * <i64>groups; }
/** Floats of the tap offsets (made per call: they depend on the input's padded width). */
export function gemmOffsetFloats(): i64 { return <i64>depth(); }

/** Floats each thread needs for itself: padded planes of one group, or one packed B panel. */
export function gemmPrivateFloats(): i64 {
  if (bMode() == B_PADDED) return <i64>Cg * <i64>paddedHeight() * <i64>paddedWidth();
  const pixels = <i64>OH * <i64>OW;
  const nc = pixels < NC ? pixels : <i64>NC;
  const kc = depth() < KC ? depth() : KC;
  return <i64>kc * ((nc + NR - 1) / NR * NR);
}

/** A[M][kdim] row-major -> MR-row strips [strip][kdim][MR], rows past M zero. */
function packWeights(src: usize, M: i32, kdim: i32, dst: usize): void {
  for (let m0 = 0; m0 < M; m0 += MR) {
    const strip = dst + ((<usize>m0 * <usize>kdim) << 2);
    for (let i = 0; i < MR; i++) {
      const m = m0 + i;
      let to = strip + (<usize>i << 2);
      if (m < M) {
        let from = src + ((<usize>m * <usize>kdim) << 2);
        for (let k = 0; k < kdim; k++) { store<f32>(to, load<f32>(from)); from += 4; to += MR * 4; }
      } else {
        for (let k = 0; k < kdim; k++) { store<f32>(to, 0); to += MR * 4; }
      }
    }
  }
}

/** All 4-row slivers of A against one B strip of `cols` (<= 8) output pixels at `c`. */
@inline function stripTimesA<BM>(kc: i32, packedA: usize, kdim: i32, pc: i32, b: usize, offsets: usize,
                                  c: usize, ldc: usize, bias: usize, flags: i32, cols: i32): void {
  const M = Kg;
  const ldb: usize = NR * 4;
  for (let m0 = 0; m0 < M; m0 += MR) {
    const a = packedA + ((<usize>m0 * <usize>kdim + <usize>pc * MR) << 2);
    const cm = c + <usize>m0 * ldc;
    const rows = min(MR, M - m0);
    const bm = bias + (<usize>m0 << 2);
    if (rows == MR && cols == NR) {
      gemm4x8<BM>(kc, a, b, ldb, offsets, cm, ldc, bm, flags);
    } else {
      if (flags & LOAD_C) {
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) {
            store<f32>(tile() + (<usize>(i * NR + j) << 2), load<f32>(cm + <usize>i * ldc + (<usize>j << 2)));
          }
        }
      }
      gemm4x8<BM>(kc, a, b, ldb, offsets, tile(), NR * 4, bm, flags);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          store<f32>(cm + <usize>i * ldc + (<usize>j << 2), load<f32>(tile() + (<usize>(i * NR + j) << 2)));
        }
      }
    }
  }
}

function flagsFor(pc: i32, kc: i32, kdim: i32): i32 {
  return (pc > 0 ? LOAD_C : 0) | (relu && pc + kc == kdim ? (relu6 ? RELU | RELU6 : RELU) : 0);
}

/** Packed B, output pixels [p0, p1): img = the group's first input channel, out = its first output channel. */
function gemmPacked(img: usize, packedA: usize, out: usize, bias: usize, panel: usize, p0: i32, p1: i32): void {
  const kdim = depth();
  const pixels = OH * OW;
  const ldc = <usize>pixels << 2;
  const pointwise = isPointwise();
  for (let jc = p0; jc < p1; jc += NC) {
    const nc = min(NC, p1 - jc);
    const strips = (nc + NR - 1) / NR;
    for (let pc = 0; pc < kdim; pc += KC) {
      const kc = min(KC, kdim - pc);
      const flags = flagsFor(pc, kc, kdim);
      if (pointwise) packPointwise(img, pc, kc, jc, nc, pixels, panel);
      else packPanel(img, pc, kc, jc, nc, panel);
      for (let js = 0; js < strips; js++) {
        const p = jc + js * NR;
        // Clipped to p1: the columns past it belong to another thread.
        stripTimesA<PackedB>(kc, packedA, kdim, pc, panel + ((<usize>js * <usize>kc * NR) << 2), 0,
                             out + (<usize>p << 2), ldc, bias, flags, min(NR, p1 - p));
      }
    }
  }
}

/** Byte offset of tap q = (c, r, s) from a strip's first tap, in padded planes. */
function fillOffsets(offsets: usize): void {
  const wp = <usize>paddedWidth();
  const plane = <usize>paddedHeight() * wp;
  let q: usize = 0;
  for (let c = 0; c < Cg; c++) {
    for (let r = 0; r < R; r++) {
      for (let s = 0; s < S; s++) {
        const off = <usize>c * plane + <usize>(r * dilationH) * wp + <usize>(s * dilationW);
        store<u32>(offsets + (q << 2), <u32>(off << 2));
        q++;
      }
    }
  }
}

/**
 * Indirect B, output rows [oh0, oh1) x columns [ow0, ow1) (ow0 a multiple of NR): padded = the group's
 * padded planes, offsets = fillOffsets() table.
 */
function gemmIndirect(padded: usize, offsets: usize, packedA: usize, out: usize, bias: usize, oh0: i32, oh1: i32,
                      ow0: i32, ow1: i32): void {
  const kdim = depth();
  const ldc = (<usize>OH * <usize>OW) << 2;
  const inStride = (<usize>strideH * <usize>paddedWidth()) << 2;
  for (let pc = 0; pc < kdim; pc += KC) {
    const kc = min(KC, kdim - pc);
    const flags = flagsFor(pc, kc, kdim);
    const offs = offsets + (<usize>pc << 2);
    for (let oh = oh0; oh < oh1; oh++) {
      const inRow = padded + <usize>oh * inStride;
      const outRow = out + ((<usize>oh * <usize>OW) << 2);
      for (let ow = ow0; ow < ow1; ow += NR) {
        stripTimesA<IndirectB>(kc, packedA, kdim, pc, inRow + (<usize>ow << 2), offs,
                               outRow + (<usize>ow << 2), ldc, bias, flags, min(NR, ow1 - ow));
      }
    }
  }
}

/**
 * Before the threads start: packs every group's weights into `packedA` (unless `packed`: a layer's
 * store holds them already) and the tap offsets into `offsets`.
 */
export function gemmPrepareShared(weight: usize, packedA: usize, offsets: usize, packed: bool): void {
  const kdim = depth();
  const groupBytes = <usize>packedAFloats() << 2;
  for (let g = 0; g < groups && !packed; g++) {
    packWeights(weight + ((<usize>g * <usize>Kg * <usize>kdim) << 2), Kg, kdim, packedA + <usize>g * groupBytes);
  }
  if (bMode() == B_PADDED) fillOffsets(offsets);
}

/** Output rows per claimed chunk of indirect B: about NC output pixels, at least one row. */
function bandRows(): i32 { return max(1, min(OH, NC / OW)); }

/** Output columns per claimed chunk of indirect B: whole rows, but 8 pieces of a row when rows are few (conv1d) and threads share them. */
function pieceCols(): i32 {
  return OH >= 8 || threadCount == 1 ? OW : max(8 * NR, ((OW + 7) / 8 + NR - 1) & ~(NR - 1));
}

/**
 * This thread's share (threads.ts) of the output: chunks of every (group, image) claimed one at a
 * time, each a band of output rows (or a piece of them, for conv1d) with indirect B, or NC output
 * pixels with packed B. `packedA0`: gemmPrepareShared's packed weights, `offsets` its tap offsets; `own` holds
 * gemmPrivateFloats() floats; bias K+MR floats.
 */
export function gemmSlice(input: usize, bias: usize, out: usize, packedA0: usize, offsets: usize, own: usize): void {
  const groupBytes = <usize>packedAFloats() << 2;
  const inPlane = <usize>H * <usize>W * 4;
  const outPlane = <usize>OH * <usize>OW * 4;
  const padded = bMode() == B_PADDED;
  const pixels = OH * OW;
  const span = padded ? bandRows() : NC;            // output rows or pixels per chunk
  const piece = padded ? pieceCols() : pixels;      // indirect: output columns per chunk
  const pieces = (OW + piece - 1) / piece;
  const perImage = padded ? (OH + span - 1) / span * pieces : (pixels + span - 1) / span;
  const total = groups * N * perImage;
  let zeroed = false;
  let loaded = -1; // the (group, image, band) whose rows are in `own`
  for (let chunk = claimChunk(); chunk < total; chunk = claimChunk()) {
    const gn = chunk / perImage;
    const g = gn / N, n = gn - g * N;
    const at = chunk - gn * perImage;
    const lo = (padded ? at / pieces : at) * span;
    const packedA = packedA0 + <usize>g * groupBytes;
    const img = input + (<usize>n * <usize>C + <usize>g * <usize>Cg) * inPlane;
    const o = out + (<usize>n * <usize>K + <usize>g * <usize>Kg) * outPlane;
    const b = bias + (<usize>g * <usize>Kg << 2);
    if (padded) {
      const hi = min(OH, lo + span);
      // The borders stay zero; interior rows are rewritten by every band that reads them.
      if (!zeroed) { zeroPlanes(own, Cg); zeroed = true; }
      if (chunk / pieces != loaded) {
        copyInteriors(img, Cg, own, lo * strideH, (hi - 1) * strideH + (R - 1) * dilationH + 1);
        loaded = chunk / pieces;
      }
      const c0 = (at % pieces) * piece;
      gemmIndirect(own, offsets, packedA, o, b, lo, hi, c0, min(OW, c0 + piece));
    } else {
      gemmPacked(img, packedA, o, b, own, lo, min(pixels, lo + span));
    }
  }
}
