// Driver of the tiled FFT convolution (see fft.h). Per group and per chunk of tile vectors, three
// phases over the pool: forward FFT of (input channel, tile vector) pairs into X[bin][vec][c];
// complex GEMM per bin into Y[bin][vec][k]; inverse FFT of (output channel, tile vector) pairs
// straight into the output. Chunks bound X + Y so that big batches do not need huge buffers. On
// several threads with a tile vector per thread or more, each task instead runs all three phases for
// one vector in its own slot buffers (conv_fft_transformed).
#include "conv/fft.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "conv/algorithms.h"
#include "conv/fft_cost.h"
#include "conv/int_math.h"
#include "conv/padding_only.h"
#include "cpu.h"
#include "kernels/kernel_config.h"
#include "threadpool.h"
#include "workspace.h"

namespace fastconv {

namespace {

// exp(-2 pi i k / n) for k < count, as (re, im) pairs, computed in double.
std::vector<float> twiddles(int n, int count) {
  std::vector<float> t(2 * size_t(std::max(count, 1)));
  const double pi = 3.14159265358979323846;
  for (int k = 0; k < count; ++k) {
    t[2 * k] = float(std::cos(2 * pi * k / n));
    t[2 * k + 1] = float(-std::sin(2 * pi * k / n));
  }
  return t;
}

struct TileOrigin {
  int64_t n;
  int oh0, ow0;
};

// Buffers reused across calls (the pool's execution lock serializes convolutions).
struct FftBuffers {
  Buffer filter, x, y, dilated;
  std::vector<TileOrigin> origins;
  std::vector<std::unique_ptr<Buffer>> work, stage, vx, vy;  // one per pool slot
  float* slot_work(int slot, size_t floats) { return work[slot]->grow(floats); }
  float* slot_stage(int slot, size_t floats) { return stage[slot]->grow(floats); }
  float* slot_x(int slot, size_t floats) { return vx[slot]->grow(floats); }
  float* slot_y(int slot, size_t floats) { return vy[slot]->grow(floats); }
  void ensure_slots(int n) {
    for (auto* v : {&work, &stage, &vx, &vy})
      while (int(v->size()) < n) v->push_back(std::make_unique<Buffer>());
  }
};

FftBuffers& buffers() {
  static FftBuffers b;
  return b;
}

// Per-slot work floats: one tile (th rows of m+1 complex lane vectors).
size_t work_floats(const FftPlan& plan) { return size_t(plan.bins()) * 2 * kFftMaxLanes; }

// Outputs whose window holds at most kSparseProducts input-weight products (corners and edges
// under wide padding, tiny C) get their exact sum: their S can be far below the FFT's rounding
// noise, which scales with the whole tile. Others have S large enough for a 1e-4 * S bound.
constexpr int kSparseProducts = 16;

void recompute_sparse_outputs(const ConvParams& p, const float* input, const float* weight,
                              const float* bias, float* out) {
  const int64_t Kg = p.K / p.groups, Cg = p.C / p.groups;
  if (Cg > kSparseProducts) return;
  // Taps t < taps with 0 <= o - pad + t * dil < size.
  auto valid = [](int o, int pad, int taps, int dil, int size) {
    const int lo = o >= pad ? 0 : (pad - o + dil - 1) / dil;
    const int top = size - 1 - o + pad;
    const int hi = top < 0 ? -1 : std::min(taps - 1, top / dil);
    return std::max(0, hi - lo + 1);
  };
  std::vector<int> vr(size_t(p.OH)), vc(size_t(p.OW)), border_cols;
  for (int oh = 0; oh < p.OH; ++oh) vr[size_t(oh)] = valid(oh, p.padTop, p.R, p.dilationH, p.H);
  for (int ow = 0; ow < p.OW; ++ow) {
    vc[size_t(ow)] = valid(ow, p.padLeft, p.S, p.dilationW, p.W);
    if (vc[size_t(ow)] < p.S) border_cols.push_back(ow);
  }
  // Only windows cut by the padding: an interior output of a layer this small in C * R * S is
  // not a layer FFT is chosen for.
  auto sparse = [&](int oh, int ow) {
    const int64_t n = int64_t(vr[size_t(oh)]) * vc[size_t(ow)];
    return n > 0 && n * Cg <= kSparseProducts && (vr[size_t(oh)] < p.R || vc[size_t(ow)] < p.S);
  };
  auto exact = [&](int64_t n, int64_t k, int oh, int ow) {
    const int64_t g = k / Kg;
    double acc = bias ? bias[k] : 0.0;
    for (int64_t c = 0; c < Cg; ++c) {
      const float* x = input + (n * p.C + g * Cg + c) * p.H * p.W;
      const float* w = weight + (k * Cg + c) * p.R * p.S;
      for (int r = 0; r < p.R; ++r) {
        const int ih = oh - p.padTop + r * p.dilationH;
        if (ih < 0 || ih >= p.H) continue;
        for (int s = 0; s < p.S; ++s) {
          const int iw = ow - p.padLeft + s * p.dilationW;
          if (iw >= 0 && iw < p.W) acc += double(x[int64_t(ih) * p.W + iw]) * w[r * p.S + s];
        }
      }
    }
    const float v = float(acc);
    out[((n * p.K + k) * p.OH + oh) * p.OW + ow] = p.relu && v < 0.0f    ? 0.0f
                                                   : p.relu6 && v > 6.0f ? 6.0f
                                                                         : v;
  };
  for (int oh = 0; oh < p.OH; ++oh) {
    const bool border_row = vr[size_t(oh)] < p.R;
    auto visit = [&](int ow) {
      if (!sparse(oh, ow)) return;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t k = 0; k < p.K; ++k) exact(n, k, oh, ow);
    };
    if (border_row)
      for (int ow = 0; ow < p.OW; ++ow) visit(ow);
    else
      for (int ow : border_cols) visit(ow);
  }
}

}  // namespace

int64_t fft_chunk_vectors(const FftPlan& plan, int64_t Cg, int64_t Kg, int64_t vecs) {
  const int64_t per_vec = int64_t(plan.bins()) * (Cg + Kg) * 2 * plan.lanes;
  return std::max<int64_t>(1, std::min<int64_t>(vecs, (int64_t(2) << 20) / per_vec));
}

FftTile FftPlan::tile() const {
  FftTile t;
  t.th = th;
  t.tw = tw;
  t.m = tw / 2;
  t.oth = oth;
  t.otw = otw;
  t.bins = bins();
  t.row_tw = row_tw.data();
  t.real_tw = real_tw.data();
  t.col_tw = col_tw.data();
  return t;
}

namespace {

// Tile size and geometry of the plan (no twiddles): "" or why FFT does not apply.
std::string choose_tiles(const ConvParams& p, FftPlan* plan, bool filter_cached, int th, int tw) {
  if (p.strideH != 1 || p.strideW != 1)
    return "fft: needs stride 1, got stride " + std::to_string(p.strideH) + "x" +
           std::to_string(p.strideW);
  const int RE = (p.R - 1) * p.dilationH + 1, SE = (p.S - 1) * p.dilationW + 1;
  constexpr int kMaxRows = 128, kMaxCols = 16384;
  // Transformed filters are bins/(R*S) times the weights; beyond this, FFT is the wrong tool.
  constexpr int64_t kMaxFilterFloats = int64_t(1) << 26;  // 256 MiB
  if (RE > kMaxRows / 2 || SE > kMaxCols / 2)
    return "fft: kernel extent " + std::to_string(RE) + "x" + std::to_string(SE) +
           " exceeds the largest FFT tile (" + std::to_string(kMaxRows / 2) + "x" +
           std::to_string(kMaxCols / 2) + ")";
  const int lanes = fft_config(current_isa()).lanes;
  auto fill = [&](FftPlan* q, int h, int w) {
    q->th = h;
    q->tw = w;
    q->RE = RE;
    q->SE = SE;
    q->oth = h - RE + 1;
    q->otw = w - SE + 1;
    q->tiles_h = ceil_div(p.OH, q->oth);
    q->tiles_w = ceil_div(p.OW, q->otw);
    q->lanes = lanes;
  };
  if (th > 0 && tw > 0) {
    const bool pow2 = (th & (th - 1)) == 0 && (tw & (tw - 1)) == 0;
    if (!pow2 || tw < 4 || th > kMaxRows || tw > kMaxCols || th < RE || tw < SE ||
        (th == 1) != (RE == 1))
      return "fft: tile " + std::to_string(th) + "x" + std::to_string(tw) +
             " does not fit kernel extent " + std::to_string(RE) + "x" + std::to_string(SE);
    fill(plan, th, tw);
  } else {
    // Smallest estimated time over power-of-two tiles larger than the kernel and at most
    // about twice the padded input.
    double best = 0;
    bool found = false;
    const int max_h = RE == 1 ? 1 : std::min(kMaxRows, 2 * pow2_at_least(p.OH + RE - 1));
    const int max_w = std::min(kMaxCols, std::max(8, 2 * pow2_at_least(p.OW + SE - 1)));
    for (int h = RE == 1 ? 1 : std::max(4, pow2_at_least(RE + 1)); h <= max_h; h *= 2) {
      for (int w = std::max(8, pow2_at_least(SE + 1)); w <= max_w; w *= 2) {
        FftPlan q;
        fill(&q, h, w);
        if (fft_filter_floats(p, q) > kMaxFilterFloats) continue;
        const double t = fft_estimated_seconds(p, q, filter_cached);
        if (!found || t < best) {
          best = t;
          *plan = q;
          found = true;
        }
      }
    }
    if (!found)
      return "fft: the frequency-domain filters would exceed " + std::to_string(kMaxFilterFloats >> 18) +
             " MiB for every tile size that fits kernel extent " + std::to_string(RE) + "x" +
             std::to_string(SE);
  }
  return "";
}

}  // namespace

std::string fft_make_plan(const ConvParams& p, FftPlan* plan, bool filter_cached, int th, int tw) {
  std::string why = choose_tiles(p, plan, filter_cached, th, tw);
  if (!why.empty()) return why;
  const int m = plan->tw / 2;
  plan->row_tw = twiddles(m, m / 2);
  plan->real_tw = twiddles(plan->tw, m + 1);
  plan->col_tw = twiddles(plan->th, plan->th / 2);
  return "";
}

int64_t fft_filter_floats(const ConvParams& p, const FftPlan& plan) {
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G;
  return G * plan.bins() * Kg * Cg * 2;
}

void fft_transform_filter(const ConvParams& p, const FftPlan& plan, const float* weight, float* filter) {
  const FftConfig& cfg = fft_config(current_isa());
  const FftTile t = plan.tile();
  const int W = cfg.lanes;
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, bins = plan.bins();
  const int64_t RS = int64_t(p.R) * p.S, taps = int64_t(plan.RE) * plan.SE;
  const float* dense = weight;
  if (plan.RE != p.R || plan.SE != p.S) {  // dilation: zero-stuffed dense copy
    float* d = buffers().dilated.grow(size_t(p.K * Cg * taps));
    std::fill(d, d + p.K * Cg * taps, 0.0f);
    for (int64_t f = 0; f < p.K * Cg; ++f)
      for (int r = 0; r < p.R; ++r)
        for (int s = 0; s < p.S; ++s)
          d[f * taps + int64_t(r) * p.dilationH * plan.SE + int64_t(s) * p.dilationW] =
              weight[f * RS + r * p.S + s];
    dense = d;
  }
  const float scale = 1.0f / float(int64_t(plan.th) * plan.tw);
  const int64_t vecs = ceil_div(Kg * Cg, W);  // filter vectors per group
  // A task transforms `batch` filter vectors into a staging area, then writes them bin by bin:
  // bin b of consecutive filters is contiguous in `filter`, so the writes stream instead of
  // touching a new page per bin and filter vector.
  const int64_t batch = std::max<int64_t>(1, std::min<int64_t>(16, (int64_t(1) << 18) / (bins * 2 * W)));
  const int64_t per_group = ceil_div(vecs, batch);
  ThreadPool& pool = ThreadPool::get();
  FftBuffers& buf = buffers();
  buf.ensure_slots(pool.threads());
  const size_t wf = work_floats(plan), sf = size_t(batch * bins * 2 * W);
  for (int s = 0; s < pool.threads(); ++s) {
    buf.slot_work(s, wf);
    buf.slot_stage(s, sf);
  }
  const double flops = double(G * vecs) * W * bins * 40;
  pool.run(G * per_group, threads_for(flops), [&](int64_t task, int slot) {
    const int64_t g = task / per_group, v0 = (task % per_group) * batch;
    const int64_t v1 = std::min(vecs, v0 + batch);
    float* work = buf.slot_work(slot, wf);
    float* staged = buf.slot_stage(slot, sf);
    for (int64_t v = v0; v < v1; ++v) {
      FftLane lanes[kFftMaxLanes];
      const int n = int(std::min<int64_t>(W, Kg * Cg - v * W));
      for (int l = 0; l < n; ++l) lanes[l] = {dense + (g * Kg * Cg + v * W + l) * taps, nullptr, 0, 0};
      cfg.forward(t, lanes, n, plan.RE, plan.SE, work, staged + (v - v0) * bins * 2 * W, 2 * W);
    }
    const int64_t f0 = v0 * W, nf = std::min(Kg * Cg, v1 * W) - f0;  // filter index = k * Cg + c
    float* dst = filter + g * bins * Kg * Cg * 2;
    for (int64_t b = 0; b < bins; ++b) {
      float* e = dst + (b * Kg * Cg + f0) * 2;
      for (int64_t v = 0; v * W < nf; ++v) {
        const float* s = staged + (v * bins + b) * 2 * W;
        const int n = int(std::min<int64_t>(W, nf - v * W));
        for (int l = 0; l < n; ++l) {
          e[2 * (v * W + l)] = s[l] * scale;
          e[2 * (v * W + l) + 1] = -s[W + l] * scale;
        }
      }
    }
  });
}

// The direct FLOP count overstates the tiled FFT's work several-fold (L9 runs at 4x the FMA peak in
// direct FLOPs), so it splits only from 8x threads_for's count.
int fft_threads(const ConvParams& p) { return threads_for(double(p.flops()) / 8); }

std::string conv_fft_transformed(const ConvParams& p, const FftPlan& plan, const float* input,
                                 const float* weight, const float* filter, const float* bias,
                                 float* out) {
  const FftConfig& cfg = fft_config(current_isa());
  if (cfg.lanes != plan.lanes) return "fft: plan was made for another instruction set";
  const FftTile t = plan.tile();
  const int W = cfg.lanes;
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, bins = plan.bins();
  const int64_t HW = int64_t(p.H) * p.W, OHW = int64_t(p.OH) * p.OW;
  const int64_t tiles = plan.tiles(p.N);
  const int64_t vecs = ceil_div(tiles, W);
  const int64_t chunk = fft_chunk_vectors(plan, Cg, Kg, vecs);
  FftBuffers& buf = buffers();
  ThreadPool& pool = ThreadPool::get();
  buf.ensure_slots(pool.threads());
  const size_t wf = work_floats(plan);
  for (int s = 0; s < pool.threads(); ++s) buf.slot_work(s, wf);
  const int threads = fft_threads(p);

  // Image and output origin of every tile, in lane order (tile = vector * W + lane).
  std::vector<TileOrigin>& origin = buf.origins;
  origin.resize(size_t(tiles));
  for (int64_t n = 0, i = 0; n < p.N; ++n)
    for (int64_t ty = 0; ty < plan.tiles_h; ++ty)
      for (int64_t tx = 0; tx < plan.tiles_w; ++tx, ++i)
        origin[i] = {n, int(ty) * plan.oth, int(tx) * plan.otw};
  auto locate = [&](int64_t v, int l, int64_t* n, int* oh0, int* ow0) {
    const int64_t tile = v * W + l;
    if (tile >= tiles) return false;
    *n = origin[tile].n;
    *oh0 = origin[tile].oh0;
    *ow0 = origin[tile].ow0;
    return true;
  };

  // The lanes of tile vector v: where input channel c of group g is read, or output channel k written.
  auto forward_lanes = [&](int64_t g, int64_t v, int64_t c, FftLane* lanes) {
    for (int l = 0; l < W; ++l) {
      int64_t n;
      int oh0, ow0;
      lanes[l] = {nullptr, nullptr, 0, 0};
      if (locate(v, l, &n, &oh0, &ow0))
        lanes[l] = {input + (n * p.C + g * Cg + c) * HW, nullptr, oh0 - p.padTop, ow0 - p.padLeft};
    }
  };
  auto inverse_lanes = [&](int64_t g, int64_t v, int64_t k, FftLane* lanes) {
    int used = 0;
    for (int l = 0; l < W; ++l) {
      int64_t n;
      int oh0, ow0;
      if (!locate(v, l, &n, &oh0, &ow0)) break;
      lanes[l] = {nullptr, out + (n * p.K + g * Kg + k) * OHW, oh0, ow0};
      used = l + 1;
    }
    return used;
  };

  // With at least as many tile vectors as threads, a task carries one vector through all three stages
  // in its slot's own X and Y: a core then reads back only what it wrote. Split by stage, each stage's
  // data was written by the other core, and L10 ran slower on two threads than on one
  // (bench/README.md, measurements).
  const int64_t per_vec = bins * (Cg + Kg) * 2 * W;
  if (threads > 1 && vecs >= threads && per_vec <= (int64_t(1) << 20)) {
    for (int s = 0; s < pool.threads(); ++s) {
      buf.slot_x(s, size_t(bins * Cg * 2 * W));
      buf.slot_y(s, size_t(bins * Kg * 2 * W));
    }
    for (int64_t g = 0; g < G; ++g) {
      const float* fg = filter + g * bins * Kg * Cg * 2;
      pool.run(vecs, threads, [&](int64_t v, int slot) {
        float* xv = buf.slot_x(slot, size_t(bins * Cg * 2 * W));
        float* yv = buf.slot_y(slot, size_t(bins * Kg * 2 * W));
        float* work = buf.slot_work(slot, wf);
        const int64_t xs = Cg * 2 * W, ys = Kg * 2 * W;  // bin strides
        FftLane lanes[kFftMaxLanes];
        for (int64_t c = 0; c < Cg; ++c) {
          forward_lanes(g, v, c, lanes);
          cfg.forward(t, lanes, W, p.H, p.W, work, xv + c * 2 * W, xs);
        }
        for (int64_t b = 0; b < bins; ++b)
          cfg.cgemm(int(Kg), int(Cg), fg + b * Kg * Cg * 2, xv + b * xs, yv + b * ys);
        for (int64_t k = 0; k < Kg; ++k) {
          const int used = inverse_lanes(g, v, k, lanes);
          cfg.inverse(t, yv + k * 2 * W, ys, lanes, used, p.OH, p.OW, bias ? bias[g * Kg + k] : 0.0f,
                      p.activation(), work);
        }
      });
    }
  } else {
    float* X = buf.x.grow(size_t(bins * chunk * Cg * 2 * W));
    float* Y = buf.y.grow(size_t(bins * chunk * Kg * 2 * W));
    for (int64_t g = 0; g < G; ++g) {
      const float* fg = filter + g * bins * Kg * Cg * 2;
      for (int64_t v0 = 0; v0 < vecs; v0 += chunk) {
        const int64_t nv = std::min(chunk, vecs - v0);
        const int64_t xs = nv * Cg * 2 * W, ys = nv * Kg * 2 * W;  // bin strides
        pool.run(nv * Cg, threads, [&](int64_t task, int slot) {
          const int64_t vl = task / Cg, c = task % Cg;
          FftLane lanes[kFftMaxLanes];
          forward_lanes(g, v0 + vl, c, lanes);
          cfg.forward(t, lanes, W, p.H, p.W, buf.slot_work(slot, wf), X + (vl * Cg + c) * 2 * W, xs);
        });
        const int64_t bin_block = std::max<int64_t>(1, bins / (8 * pool.threads()));
        pool.run(ceil_div(bins, bin_block), threads, [&](int64_t task, int) {
          const int64_t b1 = std::min(bins, (task + 1) * bin_block);
          for (int64_t b = task * bin_block; b < b1; ++b)
            for (int64_t vl = 0; vl < nv; ++vl)
              cfg.cgemm(int(Kg), int(Cg), fg + b * Kg * Cg * 2, X + b * xs + vl * Cg * 2 * W,
                        Y + b * ys + vl * Kg * 2 * W);
        });
        pool.run(nv * Kg, threads, [&](int64_t task, int slot) {
          const int64_t vl = task / Kg, k = task % Kg;
          FftLane lanes[kFftMaxLanes];
          const int used = inverse_lanes(g, v0 + vl, k, lanes);
          cfg.inverse(t, Y + (vl * Kg + k) * 2 * W, ys, lanes, used, p.OH, p.OW,
                      bias ? bias[g * Kg + k] : 0.0f, p.activation(), buf.slot_work(slot, wf));
        });
      }
    }
  }
  fill_padding_only_outputs(p, bias, out);
  recompute_sparse_outputs(p, input, weight, bias, out);
  return "";
}

std::string fft_applies(const ConvParams& p) {
  FftPlan plan;
  return choose_tiles(p, &plan, false, 0, 0);
}

void fft_release_buffers() {
  FftBuffers& b = buffers();
  b.filter.release();
  b.x.release();
  b.y.release();
  b.dilated.release();
  b.work.clear();
  b.stage.clear();
  std::vector<TileOrigin>().swap(b.origins);
}

std::string conv_fft(const ConvParams& p, const float* input, const float* weight, const float* bias,
                     float* out, PackedWeights* packed) {
  FftPlan plan;
  std::string why = fft_make_plan(p, &plan, packed != nullptr);
  if (!why.empty()) return why;
  const FftConfig& cfg = fft_config(current_isa());
  auto weights_finite = [&] { return cfg.all_finite(weight, p.weight_size()); };
  if (!cfg.all_finite(input, p.input_size()) ||
      !(packed ? packed->weights_finite(weights_finite) : weights_finite()) ||
      (bias && !cfg.all_finite(bias, p.K)))
    return conv_im2col(p, input, weight, bias, out, packed);
  const size_t floats = size_t(fft_filter_floats(p, plan));
  auto transform = [&](float* filter) { fft_transform_filter(p, plan, weight, filter); };
  const float* filter;
  if (packed) {
    const std::string key = "fft/" + std::string(isa_name(current_isa())) + "/" +
                            std::to_string(plan.th) + "x" + std::to_string(plan.tw) + "/" +
                            std::to_string(p.dilationH) + "x" + std::to_string(p.dilationW) + "/" +
                            std::to_string(p.weight_size());
    filter = packed->get(key, floats, transform);
  } else {
    float* f = buffers().filter.grow(floats);
    transform(f);
    filter = f;
  }
  return conv_fft_transformed(p, plan, input, weight, filter, bias, out);
}

}  // namespace fastconv
