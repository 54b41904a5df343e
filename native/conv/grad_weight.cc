// Grad-weight as a packed GEMM on the forward microkernels. Per group g:
//   C[Kg x J] = A[Kg x Q] * B[Q x J],   J = R*S*Cg columns ordered (r, s, c), Q = N*OH*OW pixels,
//   A = dY (rows: the group's output channels), B[q][(r, s, c)] = x at tap (r, s) of pixel q.
// C is dW with its last axes in (r, s, c) order; one small permutation at the end makes it
// [K][Cg][R][S].
//
// Why this orientation rather than dW^T = im2col(x) * dY^T: the reduction runs along pixels, which
// are contiguous in both NCHW operands, so one operand must be transposed whatever we do. Here x is
// copied once into channels-last phase planes (conv/phases.h with Cg floats per pixel). Then row q
// of B for one tap is Cg contiguous floats, and at stride 1 the next tap of a kernel row is the next
// pixel, so an nr-column panel of B is read in place (b + boff[q]) with no im2col at all; only dY,
// which is R*S times smaller than im2col, is packed. 64- and 256-channel 3x3 layers fill the 8x48
// AVX-512 tile exactly (3*64 = 4*48 columns). Panels that straddle non-adjacent taps (strides,
// dilations, row ends) are packed from the planes per k-block.
//
// The reduction index visits only real output pixels (boff skips the planes' padding columns), so
// nothing outside a window is ever multiplied, not even by zero: a non-finite input reaches exactly
// the gradients PyTorch gives it.
//
// Loops, outer to inner: task = (group, block of columns whose C block stays in L2), spread over the
// pool; k-block of kc pixels; nr-column B panel (L1); mr-row A panel; microkernel. Every C element is
// reduced by one task in k-block order, whatever the thread count: the result is deterministic.
#include "conv/grad_weight.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "conv/algorithms.h"
#include "conv/int_math.h"
#include "conv/phases.h"
#include "cpu.h"
#include "kernels/kernel_config.h"
#include "threadpool.h"
#include "workspace.h"

namespace fastconv {

namespace {

// C block per task: with the A block (Mpad x kc) it stays within 1 MiB, half the reference Xeon's L2.
constexpr int64_t kTileCBytes = 384 << 10;

// dst[q*MR + i] = src[i][q]: one pass writing contiguous floats (the row-by-row form wrote with a
// stride of MR and cost 4 cycles per float, ~8% of a 64-channel layer).
template <int MR>
void interleave_rows(const float* const* src, int64_t count, float* dst) {
  for (int64_t q = 0; q < count; ++q)
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) dst[q * MR + i] = src[i][q];
}

// Sum of one row in double, over 8 interleaved partial sums: a single chain of dependent adds would
// cost 4 cycles per float, as much as packing the row.
double row_sum(const float* x, int64_t count) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t q = 0;
  for (; q + 8 <= count; q += 8)
    for (int j = 0; j < 8; ++j) s[j] += x[q + j];
  for (; q < count; ++q) s[q & 7] += x[q];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Packs dY rows of group g into mr-row panels over all pixels: panel ip at ap + ip*Q*mr, element
// [q][i] at q*mr + i, q = n*P + pixel. Rows past Kg are zero. With grad_bias, also writes the sum
// of each row over all images (grad-bias), the rows being in cache anyway.
void pack_grad_out(const ConvParams& p, const float* dy, int64_t g, int64_t ip, int mr, float* panel,
                   float* grad_bias) {
  const int64_t Kg = p.K / p.groups, P = int64_t(p.OH) * p.OW;
  const float* rows[16];
  double sums[16] = {};
  for (int64_t n = 0; n < p.N; ++n) {
    float* dst = panel + n * P * mr;
    const int valid = int(std::min<int64_t>(mr, Kg - ip * mr));
    for (int i = 0; i < valid; ++i) rows[i] = dy + (n * p.K + g * Kg + ip * mr + i) * P;
    if (valid == mr && mr == 8) {
      interleave_rows<8>(rows, P, dst);
    } else if (valid == mr && mr == 4) {
      interleave_rows<4>(rows, P, dst);
    } else {
      for (int64_t q = 0; q < P; ++q)
        for (int i = 0; i < mr; ++i) dst[q * mr + i] = i < valid ? rows[i][q] : 0.0f;
    }
    if (grad_bias)
      for (int i = 0; i < valid; ++i) sums[i] += row_sum(rows[i], P);
  }
  if (grad_bias) {
    const int valid = int(std::min<int64_t>(mr, Kg - ip * mr));
    for (int i = 0; i < valid; ++i) grad_bias[g * Kg + ip * mr + i] = float(sums[i]);
  }
}

}  // namespace

void fill_channels_last_row(const ConvParams& p, const PhaseLayout& l, const float* x, int64_t n,
                            int64_t g, int64_t ph, int64_t i, float* dst) {
  const int64_t Cg = p.C / p.groups, Wq = l.Wq, HW = int64_t(p.H) * p.W, sw = p.strideW;
  const int64_t a = ph / sw, b = ph % sw;
  const int64_t ih = i * p.strideH + a - p.padTop;
  if (ih < 0 || ih >= p.H) {
    std::memset(dst, 0, size_t(Wq * Cg) * sizeof(float));
    return;
  }
  // Columns j whose input column j*sw + b - padLeft lies in [0, W).
  const int64_t off = b - p.padLeft;
  const int64_t j_lo = std::min(Wq, off >= 0 ? 0 : (-off + sw - 1) / sw);
  const int64_t j_hi = std::max(j_lo, std::min(Wq, (p.W - 1 - off) < 0 ? 0 : (p.W - 1 - off) / sw + 1));
  std::memset(dst, 0, size_t(j_lo * Cg) * sizeof(float));
  std::memset(dst + j_hi * Cg, 0, size_t((Wq - j_hi) * Cg) * sizeof(float));
  const float* src = x + (n * p.C + g * Cg) * HW + ih * p.W + off;
  // Blocks of 8 channels: 8 input rows stream in while each pixel gets 32 contiguous bytes.
  for (int64_t c0 = 0; c0 < Cg; c0 += 8) {
    const int64_t cn = std::min<int64_t>(8, Cg - c0);
    const float* s0 = src + c0 * HW;
    float* d0 = dst + c0;
    if (cn == 8) {
      for (int64_t j = j_lo; j < j_hi; ++j)
#pragma GCC unroll 8
        for (int64_t c = 0; c < 8; ++c) d0[j * Cg + c] = s0[c * HW + j * sw];
    } else {
      for (int64_t j = j_lo; j < j_hi; ++j)
        for (int64_t c = 0; c < cn; ++c) d0[j * Cg + c] = s0[c * HW + j * sw];
    }
  }
}

namespace {

// Rows [q0, q0 + kc) and columns [j0, j0 + n) of B straight from x with bounds checks, into a
// kc x nr panel (columns past n zero). Only for shapes whose phase planes would be huge (absurd
// padding and strides), where speed does not matter.
void pack_b_from_input(const ConvParams& p, const float* x, int64_t g, int64_t q0, int64_t kc,
                       int64_t j0, int n, int nr, float* dst) {
  const int64_t Cg = p.C / p.groups, P = int64_t(p.OH) * p.OW;
  for (int64_t k = 0; k < kc; ++k) {
    const int64_t q = q0 + k, img = q / P, pix = q % P;
    const int64_t ih0 = (pix / p.OW) * p.strideH - p.padTop, iw0 = (pix % p.OW) * p.strideW - p.padLeft;
    float* d = dst + k * nr;
    for (int jj = 0; jj < n; ++jj) {
      const int64_t j = j0 + jj, t = j / Cg, c = j % Cg;
      const int64_t ih = ih0 + (t / p.S) * p.dilationH, iw = iw0 + (t % p.S) * p.dilationW;
      const bool inside = ih >= 0 && ih < p.H && iw >= 0 && iw < p.W;
      d[jj] = inside ? x[((img * p.C + g * Cg + c) * p.H + ih) * p.W + iw] : 0.0f;
    }
    for (int jj = n; jj < nr; ++jj) d[jj] = 0.0f;
  }
}

// One nr-column panel of B. In place: b = planes of (image 0, group g) + off, row q at + boff[q].
struct Panel {
  int64_t j0;
  int n;  // valid columns
  bool in_place;
  int64_t off;  // planes offset of column j0 (phase-plane path)
};

// Winograd does 2.25x fewer multiplies, but its transforms write 8x the input and gradOutput once
// and its 16 GEMMs are only Cg columns wide (64 channels fill 2/3 of two 48-column AVX-512 panels).
// Measured (ms per call, 1 thread, CPU time, gemm/winograd, K = C, 3x3 pad 1, N = 1): C64 56x56
// 1.77/1.97, C96 56x56 4.0/3.3, C128 28x28 1.77/1.49, C128 56x56 6.6/6.0, C256 56x56 25.3/16.6,
// C256 14x14 2.4/2.1, C512 7x7 5.5/6.3 (16 tiles: too few rows of the GEMMs to amortize them).
constexpr int kWinogradMinChannels = 96, kWinogradMinTiles = 40;
bool winograd_pays(const ConvParams& p) {
  const int64_t tiles = int64_t(p.N) * ((p.OH + 1) / 2) * ((p.OW + 1) / 2);
  return p.C / p.groups >= kWinogradMinChannels && p.K / p.groups >= kWinogradMinChannels &&
         tiles >= kWinogradMinTiles;
}

}  // namespace

std::string grad_weight_gemm(const ConvParams& p, const float* x, const float* dy, float* dw,
                             float* db) {
  const GemmConfig& cfg = gemm_config(current_isa());
  const int mr = cfg.mr, nr = cfg.nr;
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, RS = int64_t(p.R) * p.S;
  const int64_t J = RS * Cg, P = int64_t(p.OH) * p.OW, Q = int64_t(p.N) * P;
  const int64_t Mpad = ceil_div(Kg, mr) * mr, mpanels = Mpad / mr;
  const int64_t kc = ceil_div(Q, ceil_div(Q, cfg.kc));  // equal k-blocks, none nearly empty
  const int64_t nkb = ceil_div(Q, kc);
  const int64_t npanels = ceil_div(J, nr);

  const PhaseLayout l = phase_layout(p);
  // Phase planes hold about the padded input; only absurd padding makes them too big to be worth it.
  const bool planes = l.total <= 4.0 * double(p.input_size()) + double(1 << 24);
  const int64_t group_block = planes ? l.channel * Cg : 0;  // floats per (image, group)

  ThreadPool& pool = ThreadPool::get();
  const int threads = std::min(threads_for(double(p.flops())), pool.threads());

  // Columns: J split into nr panels; a panel is read in place when its columns are adjacent floats.
  std::vector<int64_t> col_off;
  if (planes) {
    col_off.resize(size_t(J));
    for (int64_t t = 0; t < RS; ++t) {
      const int64_t tap = phase_tap_offset(p, l, t / p.S, t % p.S) * Cg;
      for (int64_t c = 0; c < Cg; ++c) col_off[size_t(t * Cg + c)] = tap + c;
    }
  }
  std::vector<Panel> panels(static_cast<size_t>(npanels));
  for (int64_t jp = 0; jp < npanels; ++jp) {
    Panel& pn = panels[size_t(jp)];
    pn.j0 = jp * nr;
    pn.n = int(std::min<int64_t>(nr, J - pn.j0));
    pn.in_place = planes;
    pn.off = planes ? col_off[size_t(pn.j0)] : 0;
    for (int jj = 1; jj < pn.n && pn.in_place; ++jj)
      pn.in_place = col_off[size_t(pn.j0 + jj)] == pn.off + jj;
  }
  // Row offsets: pixel q of the planes, or rows of a packed panel.
  std::vector<int64_t> boff(static_cast<size_t>(planes ? Q : kc));
  if (planes) {
    int64_t* o = boff.data();
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t oh = 0; oh < p.OH; ++oh)
        for (int64_t ow = 0, base = n * G * group_block + oh * l.Wq * Cg; ow < p.OW; ++ow)
          *o++ = base + ow * Cg;
  }
  std::vector<int64_t> packed_off(static_cast<size_t>(kc));
  for (int64_t k = 0; k < kc; ++k) packed_off[size_t(k)] = k * nr;

  // Column blocks: each task's C block stays in L2; enough tasks for the pool to even out.
  int64_t blocks =
      ceil_div(npanels, std::max<int64_t>(1, kTileCBytes / (int64_t(sizeof(float)) * Mpad * nr)));
  if (threads > 1) blocks = std::max(blocks, ceil_div(4 * threads, G));
  blocks = std::min(blocks, npanels);
  const int64_t block_panels = ceil_div(npanels, blocks);
  blocks = ceil_div(npanels, block_panels);

  float* ap = shared_scratch(Shared::kPackedA, size_t(G * Mpad * Q));
  pool.run(G * mpanels, threads, [&](int64_t t, int) {
    pack_grad_out(p, dy, t / mpanels, t % mpanels, mr, ap + t * Q * mr, db);
  });

  float* xq = nullptr;
  if (planes) {
    // In-place panels read up to nr floats past their last valid column.
    const int64_t total = int64_t(p.N) * G * group_block, slack = nr + 16;
    xq = shared_scratch(Shared::kPaddedInput, size_t(total + slack));
    std::memset(xq + total, 0, size_t(slack) * sizeof(float));
    const int64_t phases = int64_t(p.strideH) * p.strideW, rows = int64_t(p.N) * G * phases * l.Hq;
    pool.run(rows, threads, [&](int64_t t, int) {
      const int64_t i = t % l.Hq, ph = (t / l.Hq) % phases, ng = t / (l.Hq * phases);
      fill_channels_last_row(p, l, x, ng / G, ng % G, ph, i,
                             xq + ng * group_block + (ph * l.Hq + i) * l.Wq * Cg);
    });
  }

  // With one tap C already is dW ([K][Cg]); otherwise it is permuted at the end.
  float* ct = RS == 1 ? dw : shared_scratch(Shared::kGradWeightTile, size_t(p.K * J));
  for (int slot = 0; slot < threads; ++slot) scratch(slot, Scratch::kPackedB, size_t(kc * nr));

  auto task = [&](int64_t t, int slot) {
    const int64_t g = t / blocks, jb = t % blocks;
    const int64_t p0 = jb * block_panels, p1 = std::min(npanels, p0 + block_panels);
    float* bp = scratch(slot, Scratch::kPackedB, size_t(kc * nr));
    const float* xg = planes ? xq + g * group_block : nullptr;
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t q0 = kb * kc, kcb = std::min(kc, Q - q0);
      const int flags = kb == 0 ? kGemmFirst : 0;
      for (int64_t jp = p0; jp < p1; ++jp) {
        const Panel& pn = panels[size_t(jp)];
        const float* b = bp;
        const int64_t* bo = packed_off.data();
        if (pn.in_place) {
          b = xg + pn.off;
          bo = boff.data() + q0;
        } else if (planes) {
          const int64_t* rows = boff.data() + q0;
          const int64_t* cols = col_off.data() + pn.j0;
          for (int64_t k = 0; k < kcb; ++k) {
            const float* src = xg + rows[k];
            float* d = bp + k * nr;
            for (int jj = 0; jj < pn.n; ++jj) d[jj] = src[cols[jj]];
            for (int jj = pn.n; jj < nr; ++jj) d[jj] = 0.0f;
          }
        } else {
          pack_b_from_input(p, x, g, q0, kcb, pn.j0, pn.n, nr, bp);
        }
        // In-place rows: the row tiles of this panel prefetch the one after next (see GemmFlags).
        const bool prefetch = pn.in_place && jp + 2 < p1 && panels[size_t(jp + 2)].in_place &&
                              panels[size_t(jp + 2)].off == pn.off + 2 * nr;
        for (int64_t ip = 0; ip < mpanels; ++ip) {
          const int m = int(std::min<int64_t>(mr, Kg - ip * mr));
          const int pf = prefetch ? kGemmPrefetchNext | int(ip & 7) << kGemmPrefetchPhaseShift : 0;
          cfg.kernel(kcb, ap + ((g * mpanels + ip) * Q + q0) * mr, b, bo,
                     ct + (g * Kg + ip * mr) * J + pn.j0, J, m, pn.n, nullptr, flags | pf, nullptr);
        }
      }
    }
  };
  pool.run(G * blocks, threads, task);

  if (RS > 1) {
    pool.run(p.K, threads, [&](int64_t k, int) {
      const float* src = ct + k * J;
      float* dst = dw + k * J;
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t t = 0; t < RS; ++t) dst[c * RS + t] = src[t * Cg + c];
    });
  }
  return "";
}

GradWeightChoice grad_weight_choose(const ConvParams& p, int requested) {
  // Depthwise: one row and a few columns of the GEMM's register tile do work, and the forward
  // depthwise kernels behind src/backward.ts's formulations run several times faster (bench/README.md).
  const bool kernel_pays = !(p.groups > 1 && p.C == p.groups);
  const std::string why_not = kernel_pays ? ""
                                          : "; one input channel per group (depthwise): grad-weight "
                                            "from forward depthwise convolutions is faster";
  const std::string no_winograd = grad_weight_winograd_unsupported(p);
  if (requested == kGradWeightGemm)
    return {kGradWeightGemm, kernel_pays, "the GEMM, as asked" + why_not};
  if (requested == kGradWeightWinograd) {
    if (no_winograd.empty())
      return {kGradWeightWinograd, kernel_pays, "Winograd F(3x3, 2x2), as asked" + why_not};
    return {kGradWeightGemm, kernel_pays, no_winograd + ": the GEMM instead" + why_not};
  }
  if (no_winograd.empty() && winograd_pays(p))
    return {kGradWeightWinograd, kernel_pays,
            "3x3 stride 1 with >= " + std::to_string(kWinogradMinChannels) +
                " channels in and out per group and >= " + std::to_string(kWinogradMinTiles) +
                " 2x2 tiles: Winograd F(3x3, 2x2), 2.25x fewer multiplies" + why_not};
  return {kGradWeightGemm, kernel_pays, "the packed GEMM" + why_not};
}

std::string run_grad_weight(const ConvParams& p, const float* input, const float* grad_out,
                            float* grad_weight, float* grad_bias, int algo) {
  if (algo < 0 || algo >= kGradWeightAlgoCount)
    return std::string("algo: expected ") + kGradWeightAlgoList + ", got " + std::to_string(algo);
  if (algo == kGradWeightWinograd) {
    const std::string why = grad_weight_winograd_unsupported(p);
    if (!why.empty()) return why;
  }
  std::lock_guard<std::mutex> lock(ThreadPool::get().exec_mutex());
  try {
    bool winograd = grad_weight_choose(p, algo).algo == kGradWeightWinograd;
    winograd = winograd && all_finite(input, p.input_size()) && all_finite(grad_out, p.output_size());
    if (!winograd) return grad_weight_gemm(p, input, grad_out, grad_weight, grad_bias);
    const std::string err = grad_weight_winograd(p, input, grad_out, grad_weight);
    if (err.empty() && grad_bias) {
      // Same sums as the GEMM path's (per image, in image order), so both give identical bits.
      const int64_t P = int64_t(p.OH) * p.OW;
      ThreadPool& pool = ThreadPool::get();
      pool.run(p.K, std::min(threads_for(double(p.output_size())), pool.threads()), [&](int64_t k, int) {
        double s = 0;
        for (int64_t n = 0; n < p.N; ++n) s += row_sum(grad_out + (n * p.K + k) * P, P);
        grad_bias[k] = float(s);
      });
    }
    return err;
  } catch (const std::bad_alloc&) {
    return "out of memory while computing grad-weight";
  }
}

}  // namespace fastconv
