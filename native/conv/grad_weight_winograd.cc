// Grad-weight of 3x3, stride-1, undilated convolutions in the Winograd domain: F(3x3, 2x2), the
// transpose of the forward F(2x2, 3x3). dY is cut into 2x2 tiles; each tile's contribution to the
// 3x3 weight gradient is the correlation of the 4x4 input tile under it with the 2x2 dY tile:
//   dW_tile = G^T [(A y A^T) . (B^T d B)] G
// with B^T the forward data transform, A = (forward A^T)^T and G^T the transpose of the forward
// filter transform. The sum over tiles is linear, so it happens in the transform domain: for each of
// the 16 transform points xi, M_xi[Kg x Cg] = U_xi[Kg x T] * V_xi[T x Cg] over all T tiles, one GEMM
// on the forward microkernels, and one output transform per (k, c) at the end. 16 multiplies per
// 4 pixels instead of 36: 2.25x fewer, at the cost of the 16 GEMMs being only Cg columns wide.
//
// This file is the driver; the transforms are per-ISA kernels (kernels/grad_weight_winograd_f2x2_<isa>.cc,
// found through grad_weight_winograd_kernels in kernel_config). Transforms mix the values of a tile,
// so one NaN/Inf would spread: callers use the GEMM path for non-finite inputs (as the forward
// driver does).
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv/algorithms.h"
#include "conv/grad_weight.h"
#include "conv/int_math.h"
#include "conv/phases.h"
#include "cpu.h"
#include "kernels/kernel_config.h"
#include "threadpool.h"
#include "workspace.h"

namespace fastconv {

namespace {

constexpr int kPoints = 16;  // 4x4 transform points
// C block per task, as in grad_weight.cc: with the A block it stays in the 1 MiB L2.
constexpr int64_t kTileCBytes = 384 << 10;

}  // namespace

std::string grad_weight_winograd_unsupported(const ConvParams& p) {
  if (p.R == 3 && p.S == 3 && p.strideH == 1 && p.strideW == 1 && p.dilationH == 1 && p.dilationW == 1)
    return "";
  return "grad-weight Winograd needs a 3x3 kernel at stride 1 and dilation 1, got " +
         std::to_string(p.R) + "x" + std::to_string(p.S) + " stride " + std::to_string(p.strideH) + "x" +
         std::to_string(p.strideW) + " dilation " + std::to_string(p.dilationH) + "x" +
         std::to_string(p.dilationW);
}

std::string grad_weight_winograd(const ConvParams& p, const float* x, const float* dy, float* dw) {
  const Isa isa = current_isa();
  const GemmConfig& cfg = gemm_config(isa);
  const GradWeightWinogradKernels& wk = grad_weight_winograd_kernels(isa);
  const int mr = cfg.mr, nr = cfg.nr;
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, P = int64_t(p.OH) * p.OW;
  const int64_t TH = ceil_div(p.OH, 2), TW = ceil_div(p.OW, 2);
  const int64_t Mpad = ceil_div(Kg, mr) * mr, mpanels = Mpad / mr;
  const int64_t npanels = ceil_div(Cg, nr);

  ThreadPool& pool = ThreadPool::get();
  const int threads = std::min(threads_for(double(p.flops())), pool.threads());

  // Tiles are processed in blocks of whole tile rows, each transformed right before its 16 GEMMs: the
  // transforms are 8x the input and gradOutput (25 MB on a 256-channel 56x56 layer), and written all
  // at once they went to DRAM and back. ~4 MB per block stays in L3.
  const int64_t rows_total = int64_t(p.N) * TH;
  const int64_t block_tiles =
      std::max<int64_t>(TW, (int64_t(4) << 20) / (int64_t(sizeof(float)) * kPoints * (Mpad + Cg)));
  const int64_t block_rows = std::max<int64_t>(1, block_tiles / TW);
  const int64_t nblocks = ceil_div(rows_total, block_rows);
  const int64_t Tb = std::min(rows_total, block_rows) * TW;  // tiles of the largest block

  // The 16 transform points of a tile go to 16 regions; a stride of a multiple of 4 KiB would put
  // all 16 write streams in the same L1 set (12 ways) and thrash: 4 ns per float. Each region's
  // stride is shifted by 256 bytes from a 4 KiB multiple instead.
  auto region = [](int64_t floats) { return ceil_div(floats, 1024) * 1024 + 64; };

  // U: dY tiles transformed straight into packed A panels, region (g, ip, xi) = [t][mr]; rows past
  // Kg zero.
  const int64_t ustride = region(Tb * mr);
  float* ub = shared_scratch(Shared::kPackedA, size_t(G * mpanels * kPoints * ustride));
  // V: input tiles (rows 2*th - padTop + [0, 4), likewise columns; outside the image 0),
  // transformed into regions (g, xi) = [t][Cg]: row t of B_xi is Cg contiguous floats, read in place.
  const int64_t vstride = region(Tb * Cg);
  const int64_t slack = nr + 16;  // the last panel reads up to nr floats past its last column
  const int64_t vsize = G * kPoints * vstride;
  float* vb = shared_scratch(Shared::kPaddedInput, size_t(vsize + slack));
  std::memset(vb + vsize, 0, size_t(slack) * sizeof(float));
  const int64_t Wr = 2 * TW + 2;  // input columns under a row of tiles
  PhaseLayout rows_layout{};
  rows_layout.Hq = 2 * TH + 2;
  rows_layout.Wq = Wr;
  const int64_t buf_floats = (4 * Wr + 16) * Cg;  // 4 rows, then 16 column-transformed vectors
  for (int slot = 0; slot < threads; ++slot) scratch(slot, Scratch::kPlane, size_t(buf_floats));
  // M: [g][xi][Kg][Cg]. Column blocks keep each task's C block in L2; tasks = (g, xi, block).
  float* mb = shared_scratch(Shared::kGradWeightTile, size_t(G * kPoints * Kg * Cg));
  const int64_t kc = ceil_div(Tb, ceil_div(Tb, cfg.kc));
  std::vector<int64_t> boff(static_cast<size_t>(kc));
  for (int64_t k = 0; k < kc; ++k) boff[size_t(k)] = k * Cg;
  int64_t blocks =
      ceil_div(npanels, std::max<int64_t>(1, kTileCBytes / (int64_t(sizeof(float)) * Mpad * nr)));
  if (threads > 1) blocks = std::max(blocks, ceil_div(2 * threads, G * kPoints));
  blocks = std::min(blocks, npanels);
  const int64_t block_panels = ceil_div(npanels, blocks);
  blocks = ceil_div(npanels, block_panels);

  for (int64_t tb = 0; tb < nblocks; ++tb) {
    const int64_t r0 = tb * block_rows, r1 = std::min(rows_total, r0 + block_rows);
    const int64_t T_blk = (r1 - r0) * TW;

    pool.run(G * mpanels, threads, [&](int64_t task, int) {
      const int64_t g = task / mpanels, ip = task % mpanels;
      const int valid = int(std::min<int64_t>(mr, Kg - ip * mr));
      float y[4][16] = {};  // y00, y01, y10, y11 of each row; rows past Kg stay 0
      float* out = ub + task * kPoints * ustride;
      for (int64_t rr = r0, t = 0; rr < r1; ++rr) {
        const int64_t n = rr / TH, oh = 2 * (rr % TH);
        const float* y0 = dy + (n * p.K + g * Kg + ip * mr) * P;
        const bool down = oh + 1 < p.OH;
        for (int64_t tw = 0; tw < TW; ++tw, ++t) {
          const int64_t ow = 2 * tw;
          const bool right = ow + 1 < p.OW;
          for (int i = 0; i < valid; ++i) {
            const float* yi = y0 + i * P + oh * p.OW + ow;
            y[0][i] = yi[0];
            y[1][i] = right ? yi[1] : 0.0f;
            y[2][i] = down ? yi[p.OW] : 0.0f;
            y[3][i] = right && down ? yi[p.OW + 1] : 0.0f;
          }
          wk.grad_out(y[0], y[1], y[2], y[3], out + t * mr, ustride, mr);
        }
      }
    });

    // Per task (group, row of tiles): the 4 input rows under it, channels-last, so that every step
    // of B^T d B is a vector operation over channels and every store a contiguous run of Cg floats
    // (per-channel scalar tiles cost as much as the GEMM on 256-channel layers).
    pool.run(G * (r1 - r0), threads, [&](int64_t task, int slot) {
      const int64_t g = task / (r1 - r0), rr = r0 + task % (r1 - r0);
      const int64_t n = rr / TH, th = rr % TH;
      float* rows = scratch(slot, Scratch::kPlane, size_t(buf_floats));
      float* tcol = rows + 4 * Wr * Cg;  // [a][b][Cg]: B^T d for the 4 columns of one tile
      for (int a = 0; a < 4; ++a)
        fill_channels_last_row(p, rows_layout, x, n, g, 0, 2 * th + a, rows + a * Wr * Cg);
      float* out = vb + g * kPoints * vstride;
      for (int64_t tw = 0; tw < TW; ++tw) {
        for (int b = 0; b < 4; ++b) {
          const float* q = rows + (2 * tw + b) * Cg;
          float* t0 = tcol + b * Cg;
          wk.data(q, q + Wr * Cg, q + 2 * Wr * Cg, q + 3 * Wr * Cg, t0, t0 + 4 * Cg, t0 + 8 * Cg,
                  t0 + 12 * Cg, Cg);
        }
        const int64_t t = (rr - r0) * TW + tw;
        for (int a = 0; a < 4; ++a) {
          const float* q0 = tcol + a * 4 * Cg;
          float* v0 = out + (a * 4) * vstride + t * Cg;
          wk.data(q0, q0 + Cg, q0 + 2 * Cg, q0 + 3 * Cg, v0, v0 + vstride, v0 + 2 * vstride,
                  v0 + 3 * vstride, Cg);
        }
      }
    });

    const int64_t kcb_max = ceil_div(T_blk, ceil_div(T_blk, kc));  // equal k-blocks within the block
    pool.run(G * kPoints * blocks, threads, [&](int64_t task, int) {
      const int64_t gx = task / blocks, jb = task % blocks;  // gx = g * 16 + xi
      const int64_t p0 = jb * block_panels, p1 = std::min(npanels, p0 + block_panels);
      for (int64_t t0 = 0; t0 < T_blk; t0 += kcb_max) {
        const int64_t kcb = std::min(kcb_max, T_blk - t0);
        const int flags = tb == 0 && t0 == 0 ? kGemmFirst : 0;
        for (int64_t jp = p0; jp < p1; ++jp) {
          const int64_t j0 = jp * nr;
          const int n_valid = int(std::min<int64_t>(nr, Cg - j0));
          const float* b = vb + gx * vstride + t0 * Cg + j0;
          for (int64_t ip = 0; ip < mpanels; ++ip) {
            const int m = int(std::min<int64_t>(mr, Kg - ip * mr));
            const float* a =
                ub + ((gx / kPoints * mpanels + ip) * kPoints + gx % kPoints) * ustride + t0 * mr;
            cfg.kernel(kcb, a, b, boff.data(), mb + (gx * Kg + ip * mr) * Cg + j0, Cg, m, n_valid,
                       nullptr, flags, nullptr);
          }
        }
      }
    });
  }

  pool.run(p.K, threads, [&](int64_t k, int) {
    const int64_t g = k / Kg, kk = k % Kg;
    wk.output(mb + (g * kPoints * Kg + kk) * Cg, Kg * Cg, Cg, dw + k * Cg * 9);
  });
  return "";
}

}  // namespace fastconv
