// Winograd convolution driver. Per (image, group, block of tiles): the input transform writes
// V[xi][c][tile] (alpha^2 matrices, one per tuple element xi), alpha^2 tuple GEMMs
// M[xi] = U[xi] (Kg x Cg, the transformed filter) * V[xi] (Cg x tiles) run on a register tile
// along tiles, then the output transform reads M[xi][k][tile] and writes the NCHW output with
// bias and ReLU fused. Tiles are numbered row-major over the image's tile grid; the transforms
// vectorize across consecutive tiles of one tile row.
//
// Blocks of tiles are spread over the pool; when there are too few blocks for the threads (small
// images), the output channels are split as well, each part redoing the (cheap) input transform.
// An input too big to stay in cache between calls is walked in runs of neighbouring blocks, each
// slot prefetching its next block's input while it multiplies the current one (InputPrefetch).
#include "conv/winograd.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "conv/algorithms.h"
#include "conv/int_math.h"
#include "conv/knobs.h"
#include "conv/padding_only.h"
#include "cpu.h"
#include "kernels/winograd_kernels.h"
#include "threadpool.h"
#include "workspace.h"

namespace fastconv {

namespace {

struct Plan {
  const WinogradKernels* kern;
  const WinogradGemm* gk;  // register tile (wide or narrow)
  int m;                   // outputs per tile along W (and H in 2-D)
  bool two_d;              // 3x3 kernel; else 1x3 (conv1d, or each row of a 1x3 2-D kernel)
  int a;                   // alpha = m + 2
  int mh;                  // outputs per tile along H
  int64_t a2;              // tuple elements per tile
  int64_t th, tw, tiles;   // tile grid of one image
  int64_t G, Kg, Cg, Mpad, kc, nkb;
};

Plan make_plan(const ConvParams& p, int m, int gemm) {
  Plan q;
  q.kern = &winograd_kernels(current_isa());
  q.gk = &q.kern->gemm[gemm];
  q.m = m;
  q.two_d = p.R == 3;
  q.a = m + 2;
  q.mh = q.two_d ? m : 1;
  q.a2 = q.two_d ? int64_t(q.a) * q.a : q.a;
  q.th = ceil_div(p.OH, q.mh);
  q.tw = ceil_div(p.OW, m);
  q.tiles = q.th * q.tw;
  q.G = p.groups;
  q.Kg = p.K / p.groups;
  q.Cg = p.C / p.groups;
  q.Mpad = ceil_div(q.Kg, q.gk->mr) * q.gk->mr;
  q.kc = ceil_div(q.Cg, ceil_div(q.Cg, q.gk->kc));  // equal k-blocks, none nearly empty
  q.nkb = ceil_div(q.Cg, q.kc);
  return q;
}

// Transforms the filters of one mr-row panel (rows ip*mr.., all channels) into U, the tuple
// GEMMs' A operand: for group g and tuple element xi, k-blocks of kc channels, each a run of
// mr-row panels stored [c][i].
void transform_panel(const Plan& q, const float* weight, int64_t g, int64_t ip, float* u) {
  const WinogradFilterFn fn = q.gk->filter[q.m == 4][q.two_d];
  const int64_t mr = q.gk->mr, taps = q.two_d ? 9 : 3;
  const int rows = int(std::min<int64_t>(mr, q.Kg - ip * mr));
  const float* w = weight + (g * q.Kg + ip * mr) * q.Cg * taps;
  for (int64_t c = 0; c < q.Cg; ++c) {
    const int64_t k0 = c / q.kc * q.kc, kcb = std::min(q.kc, q.Cg - k0);
    fn(w + c * taps, q.Cg * taps, rows,
       u + g * q.a2 * q.Mpad * q.Cg + k0 * q.Mpad + ip * mr * kcb + (c - k0) * mr, q.Mpad * q.Cg);
  }
}

// Per-slot scratch of the tasks (the shared workspace enum has no Winograd entries).
std::vector<std::unique_ptr<Buffer>>& slot_buffers() {
  static std::vector<std::unique_ptr<Buffer>> b;
  return b;
}
float* slot_scratch(int slot, int which, size_t floats) {
  auto& b = slot_buffers();
  const size_t i = size_t(slot) * 2 + which;
  while (b.size() <= i) b.push_back(std::make_unique<Buffer>());
  return b[i]->grow(floats);
}

// dst[j * ds] = src[j * ss]; stride 2 (dilation 2, the common case) gets a loop the compiler
// vectorizes with shuffles.
void strided_copy(const float* src, int ss, float* dst, int ds, int64_t n) {
  if (ss == 2 && ds == 1) {
    for (int64_t j = 0; j < n; ++j) dst[j] = src[2 * j];
  } else if (ss == 1 && ds == 2) {
    for (int64_t j = 0; j < n; ++j) dst[2 * j] = src[j];
  } else {
    for (int64_t j = 0; j < n; ++j) dst[j * ds] = src[j * ss];
  }
}

// Dilation along H only matters for 3x3 kernels (a 1x3 kernel has one row).
int dil_h(const ConvParams& p) { return p.R == 1 ? 1 : p.dilationH; }
bool dilated(const ConvParams& p) { return dil_h(p) > 1 || p.dilationW > 1; }

// A dilated convolution splits into dh x dw independent dense ones: the outputs of phase (a, b),
// rows a + dh*i and columns b + dw*j, only read input rows ry + dh*i' and columns rx + dw*j'
// (one residue class each), with the filter's taps adjacent in that sub-grid.
struct Phase {
  ConvParams sub;  // the dense stride-1 problem on the sub-grids
  int ry, rx;      // input residues: sub input (i', j') = input (ry + dh*i', rx + dw*j')
  bool empty;
};

void make_phase(const ConvParams& p, int a, int b, Phase* ph) {
  const int dh = dil_h(p), dw = p.dilationW;
  ConvParams s = p;
  s.dilationH = s.dilationW = 1;
  s.OH = int(ceil_div(p.OH - a, dh));
  s.OW = int(ceil_div(p.OW - b, dw));
  const int64_t qy = floor_div(int64_t(a) - p.padTop, dh), qx = floor_div(int64_t(b) - p.padLeft, dw);
  ph->ry = int(a - p.padTop - dh * qy);
  ph->rx = int(b - p.padLeft - dw * qx);
  s.H = std::max<int>(0, int(ceil_div(p.H - ph->ry, dh)));
  s.W = std::max<int>(0, int(ceil_div(p.W - ph->rx, dw)));
  s.padTop = int(-qy);  // >= 0: a < dh
  s.padLeft = int(-qx);
  // Zero rows/columns read past the sub-grid (f4_accurate checks them; the kernels need not).
  s.padBottom = std::max(0, (s.OH - 1) * s.strideH + s.R - s.padTop - s.H);
  s.padRight = std::max(0, s.OW + 2 - s.padLeft - s.W);
  ph->empty = s.OH <= 0 || s.OW <= 0;
  ph->sub = s;
}

}  // namespace

std::string winograd_unsupported(const ConvParams& p) {
  const bool k3x3 = p.R == 3 && p.S == 3 && p.strideH == 1 && p.strideW == 1;
  const bool k1x3 = p.R == 1 && p.S == 3 && p.strideW == 1;
  if (k3x3 || k1x3) return "";
  return "winograd needs a 3x3 kernel with stride 1 (or a 1x3 / conv1d kernel of 3 with stride 1 "
         "along W); got " +
         std::to_string(p.R) + "x" + std::to_string(p.S) + " stride " + std::to_string(p.strideH) + "x" +
         std::to_string(p.strideW);
}

namespace {

struct Choice {
  int m;     // output tile size
  int gemm;  // register tile: index into WinogradKernels::gemm
};

// Padding of 2 or more leaves outputs that see a single row or column of their 3x3 taps: S is
// then a third of a full output's, but the tile's rounding noise is not, and F(4x4) measured up
// to 1.6e-4 * S there (C = 1), over the 1e-4 budget; F(2x2) stays near 5e-6.
bool f4_accurate(const ConvParams& p) {
  const bool rows_ok = p.R == 1 || (p.padTop < 2 && p.padBottom < 2);
  return rows_ok && p.padLeft < 2 && p.padRight < 2;
}

// The variant with the least tuple-GEMM work: alpha^2 products per tile, with tiles rounded up
// to whole register-tile columns and channels to whole rows. F(4x4) does 2.25x fewer products per
// output than F(2x2) but wastes more on partial tiles; the narrow register tile wastes fewer
// columns when an image has few tiles (14x14 under F(4x4): 16 tiles, half of a 32-column tile).
// The knobs winogradTile = 2|4 and winogradGemm = 0|1 (conv/knobs.h) force a choice (F(4x4) only
// where f4_accurate allows it).
Choice choose_dense(const ConvParams& p, bool allow_f4) {
  const int forced_m = knob(kKnobWinogradTile);
  const int forced_gemm = knob(kKnobWinogradGemm);
  Choice best{2, 0};
  double best_cost = 1e300;
  for (int m : {4, 2}) {
    if (m == 4 && !allow_f4) continue;
    if ((forced_m == 2 || forced_m == 4) && m != forced_m && allow_f4) continue;
    for (int v = 0; v < 2; ++v) {
      if ((forced_gemm == 0 || forced_gemm == 1) && v != forced_gemm) continue;
      const Plan q = make_plan(p, m, v);
      // The narrow tile needs a broadcast per FMA (vs one per two): measured ~10% slower per FMA.
      const double speed = v == 0 ? 1.0 : 0.9;
      const double cost = double(q.a2 * ceil_div(q.tiles, q.gk->nr) * q.gk->nr * q.Mpad) / speed;
      if (cost < best_cost * 0.999) best_cost = cost, best = Choice{m, v};
    }
  }
  return best;
}

Choice choose(const ConvParams& p) {
  if (!dilated(p)) return choose_dense(p, f4_accurate(p));
  // Every phase shares one transformed filter, so one choice: that of phase (0, 0), the largest,
  // with F(4x4) only if every phase allows it.
  bool allow_f4 = true;
  for (int a = 0; a < dil_h(p); ++a)
    for (int b = 0; b < p.dilationW; ++b) {
      Phase ph;
      make_phase(p, a, b, &ph);
      if (!ph.empty && !f4_accurate(ph.sub)) allow_f4 = false;
    }
  Phase ph;
  make_phase(p, 0, 0, &ph);
  return choose_dense(ph.sub, allow_f4);
}

Plan plan_for(const ConvParams& p) {
  const Choice c = choose(p);
  return make_plan(p, c.m, c.gemm);
}

}  // namespace

int winograd_tile(const ConvParams& p) { return choose(p).m; }

// A dilated problem runs as dense phases, each on threads of its own: report the largest's.
int winograd_threads(const ConvParams& p) {
  if (!dilated(p)) return dense_threads(p);
  Phase ph;
  make_phase(p, 0, 0, &ph);
  return dense_threads(ph.sub);
}

int winograd_filter_layout(const ConvParams& p) {
  const Choice c = choose(p);
  return static_cast<int>(current_isa()) * 100 + c.m * 10 + c.gemm;
}

int64_t winograd_filter_floats(const ConvParams& p) {
  const Plan q = plan_for(p);
  return q.G * q.a2 * q.Mpad * q.Cg;
}

std::string winograd_transform_filter(const ConvParams& p, const float* weight, float* u) {
  const std::string why = winograd_unsupported(p);
  if (!why.empty()) return why;
  const Plan q = plan_for(p);
  const int64_t panels = q.Mpad / q.gk->mr;
  ThreadPool& pool = ThreadPool::get();
  const int threads = std::min(threads_for(double(q.G * q.Kg * q.Cg * q.a2 * 20)), pool.threads());
  pool.run(q.G * panels, threads,
           [&](int64_t t, int) { transform_panel(q, weight, t / panels, t % panels, u); });
  return "";
}

namespace {

// Software prefetch of the input a tile block will read, spread over the tuple GEMMs of the block
// before it: the input transform otherwise waits on DRAM (L5's 12.8 MB input: 30 % of a 1-thread
// call went to the transform), while the GEMMs leave the memory system idle. The planes are far
// apart, so the hardware prefetchers do not follow the jump from one channel's rows to the next.
// (Prefetching the output the same way, for writing, made L5 at 2 threads 10-15 % slower.)
class InputPrefetch {
 public:
  // Starts over with a block whose first channel plane is x and whose tiles read `rows` input
  // rows from each run's y0; add_run then lists its runs of tiles within one tile row.
  void start(const float* x, int64_t plane_stride, int64_t channels, int64_t H, int64_t W,
             int64_t rows) {
    x_ = x, plane_stride_ = plane_stride, channels_ = channels, H_ = H, W_ = W, rows_ = rows;
    runs_ = 0, total_ = 0, done_ = 0, run_ = 0, c_ = 0, r_ = 0;
  }
  // Input columns [x0, x0 + cols) of input rows y0..y0 + rows - 1, clipped to the image.
  void add_run(int64_t y0, int64_t x0, int64_t cols) {
    const int64_t lo = std::max<int64_t>(0, x0), hi = std::min<int64_t>(W_, x0 + cols);
    if (hi <= lo || runs_ == kMaxRuns) return;
    run_list_[runs_++] = Run{y0, lo, hi - lo};
    total_ += channels_ * rows_;
  }
  // Issues the row segments (channel by channel, run by run) up to fraction num / den of them.
  void advance(int64_t num, int64_t den) {
    for (const int64_t end = total_ * num / den; done_ < end; ++done_) {
      const Run& rn = run_list_[run_];
      const int64_t y = rn.y0 + r_;
      if (y >= 0 && y < H_) {
        const float* row = x_ + c_ * plane_stride_ + y * W_ + rn.x0;
        for (int64_t f = 0; f < rn.cols; f += 16) __builtin_prefetch(row + f);
        __builtin_prefetch(row + rn.cols - 1);  // the last line when cols is not a multiple of 16
      }
      if (++r_ == rows_) {
        r_ = 0;
        if (++c_ == channels_) c_ = 0, ++run_;
      }
    }
  }

 private:
  struct Run {
    int64_t y0, x0, cols;
  };
  static constexpr int kMaxRuns = 8;  // a block spans at most a few tile rows; more are not fetched
  Run run_list_[kMaxRuns];
  const float* x_ = nullptr;
  int64_t plane_stride_ = 0, channels_ = 0, H_ = 0, W_ = 0, rows_ = 1;
  int64_t total_ = 0, done_ = 0, c_ = 0, r_ = 0;
  int runs_ = 0, run_ = 0;
};

// A dense (dilation 1) problem, padding-only outputs not yet restored (the caller does it once for
// the whole problem). Returns false, leaving `out` unspecified, when an input the tiles read is NaN or Inf. The input transform checks the values it loads, so the check costs no pass
// of its own (a scan of each block's input rows, run before the transform, took 24 % of L5).
bool run_dense(const ConvParams& p, Choice c, const float* input, const float* u, const float* bias,
               float* out) {
  const Plan q = make_plan(p, c.m, c.gemm);
  const WinogradKernels& kern = *q.kern;
  const WinogradInputFn input_tiles = kern.input[q.m == 4][q.two_d];
  const WinogradOutputFn output_tiles = kern.output[q.m == 4][q.two_d];
  const int64_t mr = q.gk->mr, nr = q.gk->nr, kpanels = q.Mpad / mr;
  const int64_t HW = int64_t(p.H) * p.W, OHW = int64_t(p.OH) * p.OW;

  ThreadPool& pool = ThreadPool::get();
  const int threads = std::min(dense_threads(p), pool.threads());

  // Tiles per block: as many register-tile columns as keep V and M of a block within the budget
  // (they are written once and read once; the filter streams through once per block), equalized.
  const int64_t panels = ceil_div(q.tiles, nr);
  const int64_t budget = int64_t(knob(kKnobWinogradBlockKb)) << 10;
  const int64_t panel_bytes = q.a2 * (q.Cg + q.Mpad) * nr * int64_t(sizeof(float));
  int64_t per_block = std::clamp<int64_t>(budget / panel_bytes, 1, panels);
  const int64_t blocks = ceil_div(panels, per_block);
  per_block = ceil_div(panels, blocks);
  const int64_t ldv = per_block * nr;  // columns of V and M (tiles of one block, padded)
  // Matrices of consecutive xi start a cache line apart modulo 4 KiB: the transforms touch all
  // alpha^2 of them at once, and power-of-two strides would map them to one L1 set.
  const int64_t v_stride = q.Cg * ldv + 16, m_stride = q.Mpad * ldv + 16;
  const int64_t base_tasks = int64_t(p.N) * q.G * blocks;

  // Split output channels when that shortens the slowest thread's work, found by replaying the
  // pool's dynamic schedule (tasks in order, each to the first free thread) with task costs in
  // units of one k-panel x block of tuple GEMMs. Every part of a split block redoes its input
  // transform, ~3 units (measured on L6), so only the blocks that do not divide evenly among the
  // threads are split: L6 at 2 threads has 7 blocks, and splitting the last one (instead of all 7,
  // or none) keeps both threads busy at the cost of one transform (bench/README.md, measurements).
  // Tasks: `whole` unsplit (image, group, block) tasks first, then kparts parts of each of the rest.
  constexpr double kTransformUnits = 3.0;
  auto makespan = [&](int64_t whole, int64_t kp) {
    const int64_t per = ceil_div(kpanels, kp);
    std::vector<double> free_at(size_t(threads), 0.0);
    auto place = [&](double cost) { *std::min_element(free_at.begin(), free_at.end()) += cost; };
    for (int64_t t = 0; t < whole; ++t) place(double(kpanels) + kTransformUnits);
    for (int64_t t = 0; t < (base_tasks - whole) * kp; ++t) {
      const int64_t part = t % kp;
      place(double(std::max<int64_t>(0, std::min(kpanels, (part + 1) * per) - part * per)) +
            kTransformUnits);
    }
    return *std::max_element(free_at.begin(), free_at.end());
  };
  int64_t kparts = 1, whole = base_tasks;
  double best = makespan(base_tasks, 1);
  for (int64_t kp = 2; threads > 1 && base_tasks < 64 * threads && kp <= std::min<int64_t>(kpanels, 4);
       ++kp) {
    for (int64_t split = 1; split <= base_tasks; ++split) {
      // Splitting more blocks than twice the threads only adds transforms, except all of them.
      if (split > 2 * threads && split != base_tasks) continue;
      const double span = makespan(base_tasks - split, kp);
      if (span < best * 0.97) best = span, kparts = kp, whole = base_tasks - split;
    }
  }
  const int64_t kpp = ceil_div(kpanels, kparts);
  const int64_t tasks = whole + (base_tasks - whole) * kparts;

  for (int slot = 0; slot < threads; ++slot) {
    slot_scratch(slot, 0, size_t(q.a2 * v_stride));
    slot_scratch(slot, 1, size_t(q.a2 * m_stride));
  }

  std::atomic<bool> nonfinite{false};
  const int64_t row_step = q.two_d ? q.m : p.strideH;  // input rows from one tile row to the next
  // Runs of consecutive tiles within one tile row of the block of tiles [t0, t0 + tn):
  // fn(column j in the block, ty, tx, count).
  auto for_each_run = [&](int64_t t0, int64_t tn, auto&& fn) {
    for (int64_t j = 0; j < tn;) {
      const int64_t lin = t0 + j, ty = lin / q.tw, tx = lin % q.tw;
      const int64_t cnt = std::min(q.tw - tx, tn - j);
      fn(j, ty, tx, cnt);
      j += cnt;
    }
  };
  // Task t's block (image, group, tiles [t0, t0 + tn)) and output channel panels [ip0, ip1):
  // `whole` tasks of one block each, then kparts tasks per remaining block.
  struct Block {
    int64_t n, g, t0, tn, ip0, ip1;
  };
  auto block_of = [&](int64_t t) {
    const bool split = t >= whole;
    const int64_t rest = split ? whole + (t - whole) / kparts : t;
    const int64_t jb = rest % blocks, t0 = jb * ldv;
    const int64_t ip0 = split ? (t - whole) % kparts * kpp : 0;
    const int64_t ip1 = split ? std::min(kpanels, ip0 + kpp) : kpanels;
    return Block{
        rest / (blocks * q.G), (rest / blocks) % q.G, t0, std::min(ldv, q.tiles - t0), ip0, ip1};
  };
  // Prefetching (with the guided schedule below) pays where the input comes from DRAM: L5 (12.8 MB)
  // ran 8-10 % faster at 1 and at 2 threads. An input of a few MB (L2: 0.8, L6: 3.2) is still in the
  // last-level cache from the last call, and prefetching it only crowds the transformed filters and
  // tiles out of L2: L6 ran 2 % slower at 1 thread and 10 % at 2, L2 3 % at 2.
  constexpr int64_t kPrefetchInputBytes = int64_t(8) << 20;
  const bool prefetch_input = p.input_size() * int64_t(sizeof(float)) > kPrefetchInputBytes;
  std::vector<InputPrefetch> prefetch(static_cast<size_t>(threads));
  // Task t on `slot`, which runs task `next` after it (>= tasks: none).
  auto task = [&](int64_t t, int slot, int64_t next) {
    if (nonfinite.load(std::memory_order_relaxed)) return;
    const Block blk = block_of(t);
    const int64_t n = blk.n, g = blk.g, t0 = blk.t0, tn = blk.tn, ip0 = blk.ip0, ip1 = blk.ip1;
    if (tn <= 0 || ip0 >= ip1) return;
    float* v = slot_scratch(slot, 0, size_t(q.a2 * v_stride));
    float* mb = slot_scratch(slot, 1, size_t(q.a2 * m_stride));

    const float* x = input + (n * p.C + g * q.Cg) * HW;
    bool finite = true;
    for_each_run(t0, tn, [&](int64_t j, int64_t ty, int64_t tx, int64_t cnt) {
      const int64_t y0 = ty * row_step - p.padTop;
      finite &= input_tiles(x, HW, int(q.Cg), p.H, p.W, int(y0), int(tx * q.m - p.padLeft), int(cnt),
                            v + j, ldv, v_stride);
    });
    if (!finite) {
      nonfinite.store(true, std::memory_order_relaxed);
      return;
    }

    InputPrefetch& pf = prefetch[size_t(slot)];
    const Block nb = next < tasks ? block_of(next) : Block{0, 0, 0, 0, 0, 0};
    pf.start(input + (nb.n * p.C + nb.g * q.Cg) * HW, HW, q.Cg, p.H, p.W, q.two_d ? q.a : 1);
    // A split task's sibling parts share its block, whose input this slot has just read.
    if (prefetch_input && nb.tn > 0 && !(nb.n == n && nb.g == g && nb.t0 == t0)) {
      for_each_run(nb.t0, nb.tn, [&](int64_t, int64_t ty, int64_t tx, int64_t cnt) {
        pf.add_run(ty * row_step - p.padTop, tx * q.m - p.padLeft, cnt * q.m + q.a - q.m);
      });
    }

    const int64_t npan = ceil_div(tn, nr);
    for (int64_t xi = 0; xi < q.a2; ++xi) {
      pf.advance(xi, q.a2);
      const float* u_xi = u + (g * q.a2 + xi) * q.Mpad * q.Cg;
      const float* v_xi = v + xi * v_stride;
      float* m_xi = mb + xi * m_stride;
      for (int64_t kb = 0; kb < q.nkb; ++kb) {
        const int64_t k0 = kb * q.kc, kcb = std::min(q.kc, q.Cg - k0);
        const float* a_blk = u_xi + k0 * q.Mpad;
        for (int64_t jp = 0; jp < npan; ++jp) {
          const int nv = int(std::min(nr, tn - jp * nr));
          for (int64_t ip = ip0; ip < ip1; ++ip) {
            const int64_t i0 = ip * mr;
            q.gk->fn(kcb, a_blk + i0 * kcb, v_xi + k0 * ldv + jp * nr, ldv, m_xi + i0 * ldv + jp * nr,
                     ldv, int(std::min(mr, q.Kg - i0)), nv, kb > 0);
          }
        }
      }
    }

    const int64_t k_lo = ip0 * mr, k_hi = std::min(q.Kg, ip1 * mr);
    float* y = out + (n * p.K + g * q.Kg + k_lo) * OHW;
    const float* bg = bias ? bias + g * q.Kg + k_lo : nullptr;
    pf.advance(1, 1);
    for_each_run(t0, tn, [&](int64_t j, int64_t ty, int64_t tx, int64_t cnt) {
      const int64_t oy = ty * q.mh;
      output_tiles(mb + k_lo * ldv + j, ldv, m_stride, int(k_hi - k_lo), bg, p.activation(),
                   y + oy * p.OW, OHW, p.OW, int(std::min<int64_t>(q.mh, p.OH - oy)), int(tx * q.m),
                   int(cnt));
    });
  };
  // Prefetching needs to know each slot's next task: the guided schedule claims it ahead.
  if (prefetch_input) {
    pool.run_guided(tasks, threads, task);
  } else {
    pool.run(tasks, threads, [&](int64_t t, int slot) { task(t, slot, tasks); });
  }
  return !nonfinite.load();
}

}  // namespace

std::string conv_winograd_transformed(const ConvParams& p, const float* input, const float* u,
                                      const float* bias, float* out, bool* nonfinite_input) {
  const std::string why = winograd_unsupported(p);
  if (!why.empty()) return why;
  *nonfinite_input = false;
  const Choice c = choose(p);
  if (!dilated(p)) {
    *nonfinite_input = !run_dense(p, c, input, u, bias, out);
    if (!*nonfinite_input) fill_padding_only_outputs(p, bias, out);
    return "";
  }
  // Polyphase: split the input into its dh x dw sub-grids in one pass, run every phase dense,
  // interleave the phases' outputs in one pass. Phase (a, b) reads sub-grid (ry, rx), a bijection.
  static Buffer sub_in, sub_out;  // guarded by the execution lock like every scratch buffer
  const int dh = dil_h(p), dw = p.dilationW;
  std::vector<Phase> phases(size_t(dh) * dw);
  std::vector<int64_t> in_off(phases.size()), out_off(phases.size());  // by residue / by phase
  int64_t in_total = 0, out_total = 0;
  for (int a = 0; a < dh; ++a)
    for (int b = 0; b < dw; ++b) {
      Phase& ph = phases[size_t(a) * dw + b];
      make_phase(p, a, b, &ph);
      in_off[size_t(ph.ry) * dw + ph.rx] = in_total;
      in_total += ph.sub.input_size();
      out_off[size_t(a) * dw + b] = out_total;
      out_total += ph.empty ? 0 : ph.sub.output_size();
    }
  float* x = sub_in.grow(size_t(std::max<int64_t>(1, in_total)));
  float* y = sub_out.grow(size_t(std::max<int64_t>(1, out_total)));
  // Sub-grid sizes depend only on the residue.
  auto sub_h = [&](int r) { return ceil_div(p.H - r, dh); };
  auto sub_w = [&](int r) { return ceil_div(p.W - r, dw); };
  auto sub_oh = [&](int a) { return ceil_div(p.OH - a, dh); };
  auto sub_ow = [&](int b) { return ceil_div(p.OW - b, dw); };

  ThreadPool& pool = ThreadPool::get();
  const int threads =
      std::min(threads_for(double(p.input_size() + p.output_size()) * 4), pool.threads());
  pool.run(int64_t(p.N) * p.C, threads, [&](int64_t plane, int) {
    for (int i = 0; i < p.H; ++i) {
      const float* row = input + (plane * p.H + i) * p.W;
      const int ry = i % dh;
      for (int rx = 0; rx < dw; ++rx) {
        const int64_t sw = sub_w(rx);
        float* dst = x + in_off[size_t(ry) * dw + rx] + (plane * sub_h(ry) + i / dh) * sw;
        strided_copy(row + rx, dw, dst, 1, sw);
      }
    }
  });
  for (size_t ph = 0; ph < phases.size(); ++ph) {
    if (phases[ph].empty) continue;
    if (!run_dense(phases[ph].sub, c, x + in_off[size_t(phases[ph].ry) * dw + phases[ph].rx], u, bias,
                   y + out_off[ph])) {
      *nonfinite_input = true;
      return "";
    }
  }
  pool.run(int64_t(p.N) * p.K, threads, [&](int64_t plane, int) {
    for (int oy = 0; oy < p.OH; ++oy) {
      float* row = out + (plane * p.OH + oy) * p.OW;
      const int a = oy % dh;
      for (int b = 0; b < dw && b < p.OW; ++b) {
        const int64_t sw = sub_ow(b);
        const float* src = y + out_off[size_t(a) * dw + b] + (plane * sub_oh(a) + oy / dh) * sw;
        strided_copy(src, 1, row + b, dw, sw);
      }
    }
  });
  fill_padding_only_outputs(p, bias, out);
  return "";
}

namespace {

// The last transformed filter and a copy of the weights it came from. Transforming costs about
// as much as the convolution itself on small images with many channels (U is 4x the weights), and
// callers often repeat a convolution with the same weights; comparing the weights (one read of
// each copy) is what makes reuse safe even if the caller changed them in place.
struct FilterCache {
  std::vector<float> weight;
  int K = 0, C = 0, groups = 0, R = 0, S = 0;
  Isa isa = Isa::kScalar;
  Choice choice{0, 0};
  Buffer u;
};

// Winograd's transforms mix all inputs of a tile, so one NaN/Inf would spread over up to 8x8
// outputs: an input holding one runs im2col instead, which places non-finite results exactly.
std::string run_transformed(const ConvParams& p, const float* input, const float* weight, const float* u,
                            const float* bias, float* out, PackedWeights* packed) {
  bool nonfinite = false;
  const std::string err = conv_winograd_transformed(p, input, u, bias, out, &nonfinite);
  if (!err.empty() || !nonfinite) return err;
  return conv_im2col(p, input, weight, bias, out, packed);
}

bool cache_matches(const FilterCache& fc, const ConvParams& p, const float* weight, Choice c) {
  return fc.K == p.K && fc.C == p.C && fc.groups == p.groups && fc.R == p.R && fc.S == p.S &&
         fc.isa == current_isa() && fc.choice.m == c.m && fc.choice.gemm == c.gemm &&
         int64_t(fc.weight.size()) == p.weight_size() &&
         std::memcmp(fc.weight.data(), weight, fc.weight.size() * sizeof(float)) == 0;  // bitwise
}

}  // namespace

std::string conv_winograd(const ConvParams& p, const float* input, const float* weight,
                          const float* bias, float* out, PackedWeights* packed) {
  const std::string why = winograd_unsupported(p);
  if (!why.empty()) return why;
  if (packed) {
    // The layer's store replaces the compare-with-last-weights cache below: no copy, no compare.
    const std::string key = "winograd/" + std::to_string(winograd_filter_layout(p)) + "/" +
                            std::to_string(p.groups) + "x" + std::to_string(p.K) + "x" +
                            std::to_string(p.C) + "x" + std::to_string(p.R) + "x" + std::to_string(p.S);
    const float* u = packed->get(key, size_t(winograd_filter_floats(p)), [&](float* dst) {
      winograd_transform_filter(p, weight, dst);  // cannot fail: the shape was checked above
    });
    return run_transformed(p, input, weight, u, bias, out, packed);
  }
  static FilterCache fc;  // guarded by the execution lock like every scratch buffer
  const Choice c = choose(p);
  const bool hit = cache_matches(fc, p, weight, c);
  if (!hit) fc.K = 0;  // invalid until the transform below completes (grow may throw)
  // A hit asks for the size stored with it, so grow() keeps the buffer and its contents.
  float* u = fc.u.grow(size_t(winograd_filter_floats(p)));
  if (!hit) {
    const std::string err = winograd_transform_filter(p, weight, u);
    if (!err.empty()) return err;
    fc.weight.assign(weight, weight + p.weight_size());
    fc.K = p.K, fc.C = p.C, fc.groups = p.groups, fc.R = p.R, fc.S = p.S;
    fc.isa = current_isa();
    fc.choice = c;
  }
  return run_transformed(p, input, weight, u, bias, out, nullptr);
}

}  // namespace fastconv
