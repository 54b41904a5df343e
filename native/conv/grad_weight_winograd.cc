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
// Transforms mix the values of a tile, so one NaN/Inf would spread: callers use the GEMM path for
// non-finite inputs (as the forward driver does).
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv/algorithms.h"
#include "conv/grad_weight.h"
#include "cpu.h"
#include "kernels/kernel_config.h"
#include "threadpool.h"
#include "workspace.h"

namespace fastconv {

namespace {

constexpr int kPoints = 16;  // 4x4 transform points
// C block per task, as in grad_weight.cc: with the A block it stays in the 1 MiB L2.
constexpr int64_t kTileCBytes = 384 << 10;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// v = B^T d B, B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]].
void input_transform(const float* d, float* v) {
  float t[16];
  for (int b = 0; b < 4; ++b) {
    const float d0 = d[b], d1 = d[4 + b], d2 = d[8 + b], d3 = d[12 + b];
    t[b] = d0 - d2;
    t[4 + b] = d1 + d2;
    t[8 + b] = d2 - d1;
    t[12 + b] = d1 - d3;
  }
  for (int a = 0; a < 4; ++a) {
    const float t0 = t[a * 4], t1 = t[a * 4 + 1], t2 = t[a * 4 + 2], t3 = t[a * 4 + 3];
    v[a * 4] = t0 - t2;
    v[a * 4 + 1] = t1 + t2;
    v[a * 4 + 2] = t2 - t1;
    v[a * 4 + 3] = t1 - t3;
  }
}

// u = A y A^T for a 2x2 tile y, A = [[1,0],[1,1],[1,-1],[0,-1]].
void grad_transform(float y00, float y01, float y10, float y11, float* u) {
  const float s[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
  for (int a = 0; a < 4; ++a) {
    u[a * 4] = s[a][0];
    u[a * 4 + 1] = s[a][0] + s[a][1];
    u[a * 4 + 2] = s[a][0] - s[a][1];
    u[a * 4 + 3] = -s[a][1];
  }
}

// z = G^T m G (3x3 from 4x4), G^T = [[1,1/2,1/2,0],[0,1/2,-1/2,0],[0,1/2,1/2,1]].
void output_transform(const float* m, float* z) {
  float t[3][4];
  for (int b = 0; b < 4; ++b) {
    const float m0 = m[b], m1 = m[4 + b], m2 = m[8 + b], m3 = m[12 + b];
    t[0][b] = m0 + 0.5f * (m1 + m2);
    t[1][b] = 0.5f * (m1 - m2);
    t[2][b] = 0.5f * (m1 + m2) + m3;
  }
  for (int r = 0; r < 3; ++r) {
    z[r * 3] = t[r][0] + 0.5f * (t[r][1] + t[r][2]);
    z[r * 3 + 1] = 0.5f * (t[r][1] - t[r][2]);
    z[r * 3 + 2] = 0.5f * (t[r][1] + t[r][2]) + t[r][3];
  }
}

}  // namespace

bool grad_weight_winograd_applies(const ConvParams& p) {
  return p.R == 3 && p.S == 3 && p.strideH == 1 && p.strideW == 1 && p.dilationH == 1 && p.dilationW == 1;
}

std::string grad_weight_winograd(const ConvParams& p, const float* x, const float* dy, float* dw) {
  const GemmConfig& cfg = gemm_config(current_isa());
  const int mr = cfg.mr, nr = cfg.nr;
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, HW = int64_t(p.H) * p.W, P = int64_t(p.OH) * p.OW;
  const int64_t TH = ceil_div(p.OH, 2), TW = ceil_div(p.OW, 2), T = int64_t(p.N) * TH * TW;
  const int64_t Mpad = ceil_div(Kg, mr) * mr, mpanels = Mpad / mr;
  const int64_t kc = ceil_div(T, ceil_div(T, cfg.kc));
  const int64_t nkb = ceil_div(T, kc);
  const int64_t npanels = ceil_div(Cg, nr);

  ThreadPool& pool = ThreadPool::get();
  const int threads = std::min(threads_for(double(p.flops())), pool.threads());

  // The 16 transform points of a tile go to 16 regions; a stride of a multiple of 4 KiB would put
  // all 16 write streams in the same L1 set (12 ways) and thrash: 4 ns per float. Each region's
  // stride is shifted by 256 bytes from a 4 KiB multiple instead.
  auto region = [](int64_t floats) { return ceil_div(floats, 1024) * 1024 + 64; };

  // U: dY tiles transformed straight into packed A panels, region (g, ip, xi) = [t][mr]; rows past
  // Kg zero.
  const int64_t ustride = region(T * mr);
  float* ub = shared_scratch(Shared::kPackedA, size_t(G * mpanels * kPoints * ustride));
  pool.run(G * mpanels, threads, [&](int64_t task, int) {
    const int64_t g = task / mpanels, ip = task % mpanels;
    const int valid = int(std::min<int64_t>(mr, Kg - ip * mr));
    float u[16][16];  // [row][xi]
    float* out = ub + task * kPoints * ustride;
    for (int64_t n = 0, t = 0; n < p.N; ++n) {
      const float* y0 = dy + (n * p.K + g * Kg + ip * mr) * P;
      for (int64_t th = 0; th < TH; ++th) {
        const int64_t oh = 2 * th;
        const bool down = oh + 1 < p.OH;
        for (int64_t tw = 0; tw < TW; ++tw, ++t) {
          const int64_t ow = 2 * tw;
          const bool right = ow + 1 < p.OW;
          for (int i = 0; i < valid; ++i) {
            const float* y = y0 + i * P + oh * p.OW + ow;
            grad_transform(y[0], right ? y[1] : 0.0f, down ? y[p.OW] : 0.0f, right && down ? y[p.OW + 1] : 0.0f, u[i]);
          }
          for (int i = valid; i < mr; ++i) std::fill(u[i], u[i] + kPoints, 0.0f);
          for (int xi = 0; xi < kPoints; ++xi)
            for (int i = 0; i < mr; ++i) out[xi * ustride + t * mr + i] = u[i][xi];
        }
      }
    }
  });

  // V: input tiles (rows 2*th - padTop + [0, 4), likewise columns; outside the image 0),
  // transformed into regions (g, xi) = [t][Cg]: row t of B_xi is Cg contiguous floats, read in place.
  const int64_t vstride = region(T * Cg);
  const int64_t slack = nr + 16;  // the last panel reads up to nr floats past its last column
  const int64_t vsize = G * kPoints * vstride;
  float* vb = shared_scratch(Shared::kPaddedInput, size_t(vsize + slack));
  std::memset(vb + vsize, 0, size_t(slack) * sizeof(float));
  pool.run(int64_t(p.N) * G * TH, threads, [&](int64_t task, int) {
    const int64_t th = task % TH, g = (task / TH) % G, n = task / (TH * G);
    float d[16], v[16];
    float* out = vb + g * kPoints * vstride;
    for (int64_t tw = 0; tw < TW; ++tw) {
      const int64_t t = (n * TH + th) * TW + tw;
      const int64_t ih0 = 2 * th - p.padTop, iw0 = 2 * tw - p.padLeft;
      const bool inside = ih0 >= 0 && ih0 + 4 <= p.H && iw0 >= 0 && iw0 + 4 <= p.W;
      for (int64_t c = 0; c < Cg; ++c) {
        const float* xc = x + (n * p.C + g * Cg + c) * HW;
        if (inside) {
          for (int a = 0; a < 4; ++a) std::memcpy(d + a * 4, xc + (ih0 + a) * p.W + iw0, 4 * sizeof(float));
        } else {
          for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) {
              const int64_t ih = ih0 + a, iw = iw0 + b;
              d[a * 4 + b] = (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) ? xc[ih * p.W + iw] : 0.0f;
            }
        }
        input_transform(d, v);
        for (int xi = 0; xi < kPoints; ++xi) out[xi * vstride + t * Cg + c] = v[xi];
      }
    }
  });

  // M: [g][xi][Kg][Cg]. Column blocks keep each task's C block in L2; tasks = (g, xi, block).
  float* mb = shared_scratch(Shared::kGradWeightTile, size_t(G * kPoints * Kg * Cg));
  std::vector<int64_t> boff(static_cast<size_t>(kc));
  for (int64_t k = 0; k < kc; ++k) boff[size_t(k)] = k * Cg;
  int64_t blocks = ceil_div(npanels, std::max<int64_t>(1, kTileCBytes / (int64_t(sizeof(float)) * Mpad * nr)));
  blocks = std::min(blocks, npanels);
  const int64_t block_panels = ceil_div(npanels, blocks);
  blocks = ceil_div(npanels, block_panels);

  pool.run(G * kPoints * blocks, threads, [&](int64_t task, int) {
    const int64_t gx = task / blocks, jb = task % blocks;  // gx = g * 16 + xi
    const int64_t p0 = jb * block_panels, p1 = std::min(npanels, p0 + block_panels);
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t t0 = kb * kc, kcb = std::min(kc, T - t0);
      const int flags = kb == 0 ? kGemmFirst : 0;
      for (int64_t jp = p0; jp < p1; ++jp) {
        const int64_t j0 = jp * nr;
        const int n_valid = int(std::min<int64_t>(nr, Cg - j0));
        const float* b = vb + gx * vstride + t0 * Cg + j0;
        for (int64_t ip = 0; ip < mpanels; ++ip) {
          const int m = int(std::min<int64_t>(mr, Kg - ip * mr));
          const float* a = ub + ((gx / kPoints * mpanels + ip) * kPoints + gx % kPoints) * ustride + t0 * mr;
          cfg.kernel(kcb, a, b, boff.data(),
                     mb + (gx * Kg + ip * mr) * Cg + j0, Cg, m, n_valid, nullptr, flags);
        }
      }
    }
  });

  pool.run(p.K, threads, [&](int64_t k, int) {
    const int64_t g = k / Kg, kk = k % Kg;
    float m[16];
    for (int64_t c = 0; c < Cg; ++c) {
      for (int xi = 0; xi < kPoints; ++xi) m[xi] = mb[((g * kPoints + xi) * Kg + kk) * Cg + c];
      output_transform(m, dw + (k * Cg + c) * 9);
    }
  });
  return "";
}

}  // namespace fastconv
