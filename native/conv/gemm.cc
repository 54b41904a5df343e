// Convolution as GEMM, BLIS style. Per (image, group): Y[Kg x P] = A[Kg x Kd] * B[Kd x P] with
// A = weights (Kg = K/groups rows, Kd = C/groups*R*S), B = im2col of the input (P = OH*OW output
// pixels). Output rows are NCHW planes, so the register tile runs along pixels and stores are
// contiguous.
//
// B is never materialized:
//  - "shifted" (the normal case): the input is copied once into zero-padded phase planes
//    (phases.h). Row k = (c, r, s) of B is then a phase plane of channel c shifted by
//    (r*dh / strideH) rows and (s*dw / strideW) columns, read in place through a per-k offset
//    table. Columns run over "virtual" pixels oh*Wq + ow; the Wq - OW columns per row that are not
//    outputs (2/58 on 56-wide 3x3 layers) cost a little extra work and are dropped by the
//    microkernel as it stores the last k-block (GemmColumnMap). With several k-blocks the earlier
//    ones accumulate in a per-task scratch tile, which the last one reads: C tiles revisited once per
//    k-block then stay in a few pages, where in the output their 8 rows sit on 8 pages (L6 measured
//    slower accumulating in the output). Both replace a crop pass over the scratch tile, which cost
//    L6 and L1 a few percent (bench/README.md, measurements).
//    1x1 stride-1 layers without padding read the caller's input directly.
//  - "packed" (only when phase planes would be huge, e.g. absurd padding): each task packs kc x nc
//    blocks of B from the input (im2col.cc).
//
// Loops, outer to inner: task = (image, group, block of nc columns, and for small images a block
// of weight rows) spread over the pool; k-block of kc; block of mc weight rows (mc x kc A block stays in L2); nr-column panel (kc x nr B panel
// stays in L1); mr-row A panel; microkernel.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv/algorithms.h"
#include "conv/im2col.h"
#include "conv/int_math.h"
#include "conv/phases.h"
#include "cpu.h"
#include "kernels/kernel_config.h"
#include "threadpool.h"
#include "workspace.h"

namespace fastconv {

namespace {

// Packs the weights of group g, k-block kb once per call: mr-row panel ip of the block starting at
// k0 (depth kcb) lives at ap + g*Mpad*Kd + k0*Mpad + ip*mr*kcb, element [k][i] at k*mr + i. Rows
// past Kg are 0.
void pack_weight_block(const float* w, int64_t g, int64_t kb, int64_t Kg, int64_t Kd, int64_t Mpad,
                       int mr, int64_t kc, float* ap) {
  const int64_t k0 = kb * kc, kcb = std::min(kc, Kd - k0);
  float* blk = ap + g * Mpad * Kd + k0 * Mpad;
  for (int64_t ip = 0; ip < Mpad / mr; ++ip) {
    float* panel = blk + ip * mr * kcb;
    for (int i = 0; i < mr; ++i) {
      const int64_t row = ip * mr + i;
      const float* src = row < Kg ? w + (g * Kg + row) * Kd + k0 : nullptr;
      for (int64_t k = 0; k < kcb; ++k) panel[k * mr + i] = src ? src[k] : 0.0f;
    }
  }
}

}  // namespace

std::string conv_im2col(const ConvParams& p, const float* input, const float* weight, const float* bias,
                        float* out, PackedWeights* packed) {
  const GemmConfig& cfg = gemm_config(current_isa());
  const int mr = cfg.mr, nr = cfg.nr;
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G;
  const int64_t Kd = Cg * p.R * p.S, P = int64_t(p.OH) * p.OW, HW = int64_t(p.H) * p.W;
  const int64_t Mpad = ceil_div(Kg, mr) * mr;
  const int64_t kc = ceil_div(Kd, ceil_div(Kd, cfg.kc));  // equal k-blocks, none nearly empty
  const int64_t nkb = ceil_div(Kd, kc);
  const int64_t mc = std::max<int64_t>(mr, cfg.mc / mr * mr);

  const PhaseLayout phases = phase_layout(p);
  const int64_t Wq = phases.Wq;
  const bool in_place = im2col_is_identity(p);
  // Phase planes hold about the padded input; only absurd padding makes them too big to be worth it.
  const bool shifted = in_place || phases.total <= 4.0 * double(p.input_size()) + double(1 << 24);
  const int64_t chan = phases.channel;                    // floats per input channel in the phase planes
  const int64_t cols = shifted ? int64_t(p.OH) * Wq : P;  // virtual columns of B and Y
  const bool gaps = shifted && Wq != p.OW;                // some columns are not outputs
  const bool staged = gaps && nkb > 1;                    // k-blocks but the last go to scratch
  const int nv = nr / cfg.lanes;

  ThreadPool& pool = ThreadPool::get();
  const int threads = std::min(dense_threads(p), pool.threads());
  const int64_t panels = ceil_div(cols, nr);
  int64_t task_panels = std::max<int64_t>(1, cfg.nc / nr);
  if (threads > 1) {
    // Enough tasks for the dynamic schedule to even out: at least 4 per thread.
    const int64_t per_image_tasks = ceil_div(4 * threads, int64_t(p.N) * G);
    task_panels = std::min(task_panels, std::max<int64_t>(1, panels / per_image_tasks));
  }
  task_panels = std::min(task_panels, panels);
  const int64_t task_cols = task_panels * nr;
  const int64_t blocks = ceil_div(panels, task_panels);
  // Layers with few output pixels (L3: 14x14) have too few column blocks to keep every thread
  // busy; their weight rows are split across tasks too. Only without packing: a packed B block
  // would be re-packed by every row task.
  int64_t row_blocks = 1;
  const int64_t col_tasks = int64_t(p.N) * G * blocks;
  if (threads > 1 && col_tasks < 4 * threads && shifted)
    row_blocks = std::min(Mpad / mr, ceil_div(4 * threads, col_tasks));
  const int64_t task_rows = ceil_div(Mpad / mr, row_blocks) * mr;
  row_blocks = ceil_div(Mpad, task_rows);
  const int64_t tasks = col_tasks * row_blocks;

  // Row offsets of B: packed panels, or shifted rows of the padded planes.
  std::vector<int64_t> packed_off(static_cast<size_t>(kc));
  for (int64_t k = 0; k < kc; ++k) packed_off[size_t(k)] = k * nr;
  std::vector<int64_t> shift_off;
  if (shifted) {
    shift_off.resize(size_t(Kd));
    for (int64_t k = 0; k < Kd; ++k) {
      const int64_t c = k / (p.R * p.S), r = (k / p.S) % p.R, s = k % p.S;
      shift_off[size_t(k)] = c * chan + phase_tap_offset(p, phases, r, s);
    }
  }

  // The panel layout depends on the kernel (mr) and the k-blocking (kc) only.
  const std::string key = std::string("im2col/") + cfg.name + "/" + std::to_string(kc) + "/" +
                          std::to_string(G) + "x" + std::to_string(Kg) + "x" + std::to_string(Kd);
  const float* ap =
      transformed_weights(packed, key, size_t(G * Mpad * Kd), Shared::kPackedA, [&](float* a) {
        pool.run(G * nkb, threads, [&](int64_t t, int) {
          pack_weight_block(weight, t / nkb, t % nkb, Kg, Kd, Mpad, mr, kc, a);
        });
      });
  const float* src = input;
  if (shifted && !in_place) {
    // Garbage columns of the last panel read up to nr + (S-1)*dw/sw floats past the last plane.
    const int64_t slack = nr + int64_t(p.S - 1) * p.dilationW + 16;
    float* planes = shared_scratch(Shared::kPaddedInput, size_t(int64_t(p.N) * p.C * chan + slack));
    std::memset(planes + int64_t(p.N) * p.C * chan, 0, size_t(slack) * sizeof(float));
    pool.run(int64_t(p.N) * p.C, threads,
             [&](int64_t t, int) { fill_phases(p, phases, input + t * HW, planes + t * chan); });
    src = planes;
  }
  // Rows read in place (1x1 inputs and phase planes) are not packed: with the kernel prefetching
  // two panels ahead, packing 1x1 rows (each a page apart) measured slower on L4, and packing
  // phase-plane rows slower on L2, L3 and L6 (bench/README.md, measurements).
  const bool pack_b = !shifted;
  for (int slot = 0; slot < threads; ++slot) {
    if (pack_b) scratch(slot, Scratch::kPackedB, size_t(kc * task_cols));
    if (in_place) scratch(slot, Scratch::kEdgeB, size_t(kc * nr));
    if (staged) scratch(slot, Scratch::kTileC, size_t(Kg * task_cols));
  }

  auto task = [&](int64_t task_index, int slot) {
    const int64_t mb = task_index % row_blocks, t = task_index / row_blocks;
    const int64_t jb = t % blocks, g = (t / blocks) % G, n = t / (blocks * G);
    const int64_t m0 = mb * task_rows, m1 = std::min(Mpad, m0 + task_rows);
    const int64_t j0 = jb * task_cols;
    const int64_t ncols = std::min(task_cols, cols - j0);
    const int64_t npan = ceil_div(ncols, nr);
    const float* x = src + (n * p.C + g * Cg) * (in_place ? HW : shifted ? chan : HW);
    float* y = out + (n * p.K + g * Kg) * P;
    const float* bg = bias ? bias + g * Kg : nullptr;
    float* bp = pack_b ? scratch(slot, Scratch::kPackedB, size_t(kc * task_cols)) : nullptr;
    float* edge = in_place ? scratch(slot, Scratch::kEdgeB, size_t(kc * nr)) : nullptr;
    // Mapped stores go to y + plane offsets (map.dst); staged k-blocks to the scratch tile; tiles
    // without padding columns to their column of y.
    float* stage = staged ? scratch(slot, Scratch::kTileC, size_t(Kg * task_cols)) : nullptr;
    // The column maps of this task's panels, the same for every k-block and row tile.
    std::vector<GemmColumnMap> maps(gaps ? size_t(npan) : 0);
    for (size_t jp = 0; jp < maps.size(); ++jp) {
      GemmColumnMap& mp = maps[jp];
      mp.src = nullptr;
      mp.ld_src = task_cols;
      for (int j = 0; j < nv; ++j) {
        mp.mask[j] = 0;
        mp.dst[j] = 0;
        for (int l = 0; l < cfg.lanes; ++l) {
          const int64_t v = j0 + int64_t(jp) * nr + j * cfg.lanes + l;
          if (v >= j0 + ncols) break;
          const int64_t ow = v % Wq;
          if (ow >= p.OW) continue;
          if (!mp.mask[j]) mp.dst[j] = (v / Wq) * p.OW + ow;
          mp.mask[j] |= 1u << l;
        }
      }
    }

    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = kb * kc, kcb = std::min(kc, Kd - k0);
      const int flags = (kb == 0 ? kGemmFirst : 0) | (kb == nkb - 1 ? kGemmLast : 0) |
                        (p.relu ? kGemmRelu : 0) | (p.relu6 ? kGemmRelu6 : 0);
      if (!shifted) pack_im2col_panels(p, x, k0, kcb, j0, ncols, nr, bp);
      const float* a_blk = ap + g * Mpad * Kd + k0 * Mpad;
      for (int64_t ic = m0; ic < m1; ic += mc) {
        const int64_t ic_end = std::min(m1, ic + mc);
        for (int64_t jp = 0; jp < npan; ++jp) {
          const int64_t jc = j0 + jp * nr;
          const int n_valid = int(std::min<int64_t>(nr, ncols - jp * nr));
          const float* b = x + jc;
          const int64_t* boff = pack_b ? packed_off.data() : shift_off.data() + k0;
          if (pack_b) {
            b = bp + jp * kcb * nr;
          } else if (in_place && jc + nr > cols) {
            // The caller's buffer ends here: copy the last panel so nr columns are readable.
            for (int64_t k = 0; k < kcb; ++k) {
              std::memcpy(edge + k * nr, x + boff[k] + jc, size_t(n_valid) * sizeof(float));
              std::memset(edge + k * nr + n_valid, 0, size_t(nr - n_valid) * sizeof(float));
            }
            b = edge;
            boff = packed_off.data();
          }
          // In-place rows: the row tiles of this panel prefetch the one after next (see GemmFlags).
          const bool prefetch = shifted && b == x + jc && jc + 3 * nr <= cols;
          for (int64_t i0 = ic; i0 < ic_end; i0 += mr) {
            const int m_valid = int(std::min<int64_t>(mr, Kg - i0));
            const int pf =
                prefetch ? kGemmPrefetchNext | int(((i0 - ic) / mr) & 7) << kGemmPrefetchPhaseShift : 0;
            float* tile = stage ? stage + i0 * task_cols + jp * nr : nullptr;
            float* c = y + j0 + i0 * P + jp * nr;
            int64_t ldc = P;
            GemmColumnMap* map = nullptr;
            if (gaps && kb + 1 < nkb) {
              c = tile;
              ldc = task_cols;
            } else if (gaps) {
              map = &maps[size_t(jp)];
              map->src = tile;  // null with one k-block
              c = y + i0 * P;
            }
            cfg.kernel(kcb, a_blk + i0 * kcb, b, boff, c, ldc, m_valid, n_valid, bg ? bg + i0 : nullptr,
                       flags | pf, map);
          }
        }
      }
    }
  };
  pool.run(tasks, threads, task);
  return "";
}

}  // namespace fastconv
