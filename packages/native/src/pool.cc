// 2-D max and average pooling (NHWC) and their gradients, with tfjs's cpu semantics:
// max takes the first strictly greater value in row-major window order (NaN never wins, an all -inf
// window routes no gradient); average divides by the number of in-bounds pixels going forward, while
// its gradient spreads dy / (KH·KW) over the in-bounds pixels of each window, as tfjs's kernel does.
#include "common.h"
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace arcal {
namespace {

// [N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl]
struct PoolGeom {
  int64_t N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl;
  static PoolGeom from(const Napi::Value& v) {
    auto a = v.As<Napi::Int32Array>();
    if (a.ElementLength() != 12) throw Napi::RangeError::New(v.Env(), "pool geometry needs 12 integers");
    const int32_t* p = a.Data();
    return {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]};
  }
  size_t xSize() const { return size_t(N * H * W * C); }
  size_t ySize() const { return size_t(N * OH * OW * C); }
  // In-bounds input rows/cols of the window at output (oy, ox): [r0, r1) x [c0, c1).
  void window(int64_t oy, int64_t ox, int64_t& r0, int64_t& r1, int64_t& c0, int64_t& c1) const {
    int64_t rc = oy * sh - pt, cc = ox * sw - pl;
    r0 = std::max<int64_t>(0, rc);
    r1 = std::min<int64_t>(H, rc + KH);
    c0 = std::max<int64_t>(0, cc);
    c1 = std::min<int64_t>(W, cc + KW);
  }
};

constexpr int64_t kChannelBlock = 16;

constexpr uint8_t kNoMax = 255;

// Max over one window for channels [c0, c0 + nc) of image n: best value and its window index
// k = (r − rowCorner)·KW + (q − colCorner), first strictly greater wins (kNoMax: no value beat −inf).
// Written as selects so the channel loop vectorises.
inline void windowMax(const PoolGeom& g, const float* x, int64_t n, int64_t oy, int64_t ox, int64_t c0, int64_t nc,
                      float* __restrict best, int32_t* __restrict idx) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t c = 0; c < nc; ++c) best[c] = ninf, idx[c] = kNoMax;
  int64_t r0, r1, q0, q1;
  g.window(oy, ox, r0, r1, q0, q1);
  const int64_t rc = oy * g.sh - g.pt, cc = ox * g.sw - g.pl;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t q = q0; q < q1; ++q) {
      const float* __restrict in = x + ((n * g.H + r) * g.W + q) * g.C + c0;
      const int32_t k = int32_t((r - rc) * g.KW + (q - cc));
      // Mask arithmetic rather than `gt ? k : idx`, which the compiler turns into a conditional store
      // and then cannot vectorise; `v > b ? v : b` maps onto maxps exactly (NaN never wins).
      for (int64_t c = 0; c < nc; ++c) {
        const float v = in[c], b = best[c];
        const int32_t m = -int32_t(v > b);
        idx[c] = (idx[c] & ~m) | (k & m);
        best[c] = v > b ? v : b;
      }
    }
}

// maxPool(x, y, geom, argmax | null): y = window max; with argmax (a Uint8Array of y's size, windows of
// at most 254 pixels) also records each maximum's window index for maxPoolGradArgmax.
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  PoolGeom g = PoolGeom::from(info[2]);
  const float* x = f32(info[0]);
  float* y = f32(info[1]);
  auto env = info.Env();
  need(len(info[0]) == g.xSize() && len(info[1]) == g.ySize(), env, "maxPool: sizes");
  uint8_t* am = nullptr;
  if (info.Length() > 3 && info[3].IsTypedArray()) {
    auto a = info[3].As<Napi::Uint8Array>();
    need(a.ElementLength() == g.ySize() && g.KH * g.KW < kNoMax, env, "maxPool: argmax size");
    am = a.Data();
  }
  applyThreads();
#pragma omp parallel
  {
    std::vector<int32_t> idx(g.C);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < g.N * g.OH; ++t) {
      int64_t n = t / g.OH, oy = t % g.OH;
      for (int64_t ox = 0; ox < g.OW; ++ox) {
        const int64_t o = ((n * g.OH + oy) * g.OW + ox) * g.C;
        windowMax(g, x, n, oy, ox, 0, g.C, y + o, idx.data());
        if (am)
          for (int64_t c = 0; c < g.C; ++c) am[o + c] = uint8_t(idx[c]);  // idx ≤ 255, exact
      }
    }
  }
  return env.Undefined();
}

// Adds dy of window (n, oy, ox), channels [c0, c0 + nc), at each window index in idx.
template <class I>
inline void scatterMax(const PoolGeom& g, const float* dy, float* dx, int64_t n, int64_t oy, int64_t ox, int64_t c0,
                       int64_t nc, const I* idx) {
  const float* d = dy + ((n * g.OH + oy) * g.OW + ox) * g.C + c0;
  const int64_t rc = oy * g.sh - g.pt, cc = ox * g.sw - g.pl;
  // Window index k sits at input offset corner + (k / KW)·W·C + (k % KW)·C; tabulate it once per window
  // (integer division per element costs more than the scatter itself).
  int64_t off[kNoMax];
  const int64_t corner = ((n * g.H + rc) * g.W + cc) * g.C + c0;
  for (int64_t k = 0; k < g.KH * g.KW; ++k) off[k] = corner + ((k / g.KW) * g.W + k % g.KW) * g.C;
  for (int64_t c = 0; c < nc; ++c) {
    const int64_t k = idx[c];
    if (k != kNoMax) dx[off[k] + c] += d[c];
  }
}

// maxPoolGrad(dy, x, dx, geom): each window's dy goes to the position of its first maximum (recomputed).
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  PoolGeom g = PoolGeom::from(info[3]);
  const float* dy = f32(info[0]);
  const float* x = f32(info[1]);
  float* dx = f32(info[2]);
  need(len(info[0]) == g.ySize() && len(info[1]) == g.xSize() && len(info[2]) == g.xSize() && g.KH * g.KW < kNoMax,
       info.Env(), "maxPoolGrad: sizes");
  applyThreads();
  const int64_t blocks = (g.C + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < int64_t(g.xSize()); ++i) dx[i] = 0.f;
    float best[kChannelBlock];
    int32_t idx[kChannelBlock];
#pragma omp for schedule(static)
    for (int64_t t = 0; t < g.N * blocks; ++t) {
      int64_t n = t / blocks, c0 = (t % blocks) * kChannelBlock;
      int64_t nc = std::min(kChannelBlock, g.C - c0);
      for (int64_t oy = 0; oy < g.OH; ++oy)
        for (int64_t ox = 0; ox < g.OW; ++ox) {
          windowMax(g, x, n, oy, ox, c0, nc, best, idx);
          scatterMax(g, dy, dx, n, oy, ox, c0, nc, idx);
        }
    }
  }
  return info.Env().Undefined();
}

// Non-overlapping windows (stride = window): every input pixel lies in at most one window, so dx can be
// written window by window (dy at the recorded position, 0 elsewhere) with no zeroing or scattering pass.
void maxPoolGradTiled(const PoolGeom& g, const float* dy, const uint8_t* am, float* dx) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.N; ++n) {
    float* dxn = dx + n * g.H * g.W * g.C;
    // Rows and columns past the last window (a 'valid' remainder) get no gradient.
    const int64_t rEnd = std::min<int64_t>(g.H, g.OH * g.sh - g.pt), qEnd = std::min<int64_t>(g.W, g.OW * g.sw - g.pl);
    for (int64_t r = std::max<int64_t>(rEnd, 0); r < g.H; ++r) std::fill_n(dxn + r * g.W * g.C, g.W * g.C, 0.f);
    for (int64_t r = 0; r < rEnd; ++r)
      for (int64_t q = std::max<int64_t>(qEnd, 0); q < g.W; ++q) std::fill_n(dxn + (r * g.W + q) * g.C, g.C, 0.f);
    for (int64_t oy = 0; oy < g.OH; ++oy)
      for (int64_t ox = 0; ox < g.OW; ++ox) {
        const int64_t o = ((n * g.OH + oy) * g.OW + ox) * g.C;
        const float* d = dy + o;
        const uint8_t* a = am + o;
        int64_t r0, r1, q0, q1;
        g.window(oy, ox, r0, r1, q0, q1);
        const int64_t rc = oy * g.sh - g.pt, cc = ox * g.sw - g.pl;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t q = q0; q < q1; ++q) {
            const uint8_t k = uint8_t((r - rc) * g.KW + (q - cc));
            float* out = dxn + (r * g.W + q) * g.C;
            // Bit masks keep the loop branch-free (and a NaN/inf dy never leaks into other positions).
            const uint32_t* db = reinterpret_cast<const uint32_t*>(d);
            uint32_t* ob = reinterpret_cast<uint32_t*>(out);
            for (int64_t c = 0; c < g.C; ++c) ob[c] = db[c] & (0u - uint32_t(a[c] == k));
          }
      }
  }
}

// maxPoolGradArgmax(dy, argmax, dx, geom): as maxPoolGrad, with the window indices maxPool recorded.
Napi::Value MaxPoolGradArgmax(const Napi::CallbackInfo& info) {
  PoolGeom g = PoolGeom::from(info[3]);
  const float* dy = f32(info[0]);
  auto a = info[1].As<Napi::Uint8Array>();
  const uint8_t* am = a.Data();
  float* dx = f32(info[2]);
  need(len(info[0]) == g.ySize() && a.ElementLength() == g.ySize() && len(info[2]) == g.xSize(), info.Env(),
       "maxPoolGradArgmax: sizes");
  applyThreads();
  if (g.sh == g.KH && g.sw == g.KW) {
    maxPoolGradTiled(g, dy, am, dx);
    return info.Env().Undefined();
  }
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < int64_t(g.xSize()); ++i) dx[i] = 0.f;
    // Windows of one image may overlap; images never do.
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t oy = 0; oy < g.OH; ++oy)
        for (int64_t ox = 0; ox < g.OW; ++ox)
          scatterMax(g, dy, dx, n, oy, ox, 0, g.C, am + ((n * g.OH + oy) * g.OW + ox) * g.C);
  }
  return info.Env().Undefined();
}

Napi::Value AvgPool(const Napi::CallbackInfo& info) {
  PoolGeom g = PoolGeom::from(info[2]);
  const float* x = f32(info[0]);
  float* y = f32(info[1]);
  need(len(info[0]) == g.xSize() && len(info[1]) == g.ySize(), info.Env(), "avgPool: sizes");
  applyThreads();
#pragma omp parallel
  {
    std::vector<double> acc(g.C);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < g.N * g.OH; ++t) {
      int64_t n = t / g.OH, oy = t % g.OH;
      for (int64_t ox = 0; ox < g.OW; ++ox) {
        std::fill(acc.begin(), acc.end(), 0.0);
        int64_t r0, r1, c0, c1;
        g.window(oy, ox, r0, r1, c0, c1);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t q = c0; q < c1; ++q) {
            const float* in = x + ((n * g.H + r) * g.W + q) * g.C;
            for (int64_t c = 0; c < g.C; ++c) acc[c] += in[c];
          }
        double count = double((r1 - r0) * (c1 - c0));
        float* out = y + ((n * g.OH + oy) * g.OW + ox) * g.C;
        for (int64_t c = 0; c < g.C; ++c) out[c] = float(acc[c] / count);
      }
    }
  }
  return info.Env().Undefined();
}

Napi::Value AvgPoolGrad(const Napi::CallbackInfo& info) {
  PoolGeom g = PoolGeom::from(info[2]);
  const float* dy = f32(info[0]);
  float* dx = f32(info[1]);
  need(len(info[0]) == g.ySize() && len(info[1]) == g.xSize(), info.Env(), "avgPoolGrad: sizes");
  applyThreads();
  const int64_t blocks = (g.C + kChannelBlock - 1) / kChannelBlock;
  const float mult = 1.0f / float(g.KH * g.KW);
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < int64_t(g.xSize()); ++i) dx[i] = 0.f;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < g.N * blocks; ++t) {
      int64_t n = t / blocks, cb0 = (t % blocks) * kChannelBlock;
      int64_t nc = std::min(kChannelBlock, g.C - cb0);
      for (int64_t oy = 0; oy < g.OH; ++oy)
        for (int64_t ox = 0; ox < g.OW; ++ox) {
          const float* d = dy + ((n * g.OH + oy) * g.OW + ox) * g.C + cb0;
          int64_t r0, r1, c0, c1;
          g.window(oy, ox, r0, r1, c0, c1);
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t q = c0; q < c1; ++q) {
              float* o = dx + ((n * g.H + r) * g.W + q) * g.C + cb0;
              for (int64_t c = 0; c < nc; ++c) o[c] += d[c] * mult;
            }
        }
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void initPool(Napi::Env env, Napi::Object exports) {
  exportKernel<MaxPool>(env, exports, "maxPool");
  exportKernel<MaxPoolGrad>(env, exports, "maxPoolGrad");
  exportKernel<MaxPoolGradArgmax>(env, exports, "maxPoolGradArgmax");
  exportKernel<AvgPool>(env, exports, "avgPool");
  exportKernel<AvgPoolGrad>(env, exports, "avgPoolGrad");
}

}  // namespace arcal
