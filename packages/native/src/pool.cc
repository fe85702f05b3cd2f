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

Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  PoolGeom g = PoolGeom::from(info[2]);
  const float* x = f32(info[0]);
  float* y = f32(info[1]);
  need(len(info[0]) == g.xSize() && len(info[1]) == g.ySize(), info.Env(), "maxPool: sizes");
  applyThreads();
  const float ninf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < g.N * g.OH; ++t) {
    int64_t n = t / g.OH, oy = t % g.OH;
    for (int64_t ox = 0; ox < g.OW; ++ox) {
      float* out = y + ((n * g.OH + oy) * g.OW + ox) * g.C;
      for (int64_t c = 0; c < g.C; ++c) out[c] = ninf;
      int64_t r0, r1, c0, c1;
      g.window(oy, ox, r0, r1, c0, c1);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t q = c0; q < c1; ++q) {
          const float* in = x + ((n * g.H + r) * g.W + q) * g.C;
          for (int64_t c = 0; c < g.C; ++c) out[c] = in[c] > out[c] ? in[c] : out[c];
        }
    }
  }
  return info.Env().Undefined();
}

// maxPoolGrad(dy, x, dx, geom): each window's dy goes to the position of its first maximum.
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  PoolGeom g = PoolGeom::from(info[3]);
  const float* dy = f32(info[0]);
  const float* x = f32(info[1]);
  float* dx = f32(info[2]);
  need(len(info[0]) == g.ySize() && len(info[1]) == g.xSize() && len(info[2]) == g.xSize(), info.Env(),
       "maxPoolGrad: sizes");
  applyThreads();
  const int64_t blocks = (g.C + kChannelBlock - 1) / kChannelBlock;
  const float ninf = -std::numeric_limits<float>::infinity();
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < int64_t(g.xSize()); ++i) dx[i] = 0.f;
    float best[kChannelBlock];
    int64_t pos[kChannelBlock];
#pragma omp for schedule(static)
    for (int64_t t = 0; t < g.N * blocks; ++t) {
      int64_t n = t / blocks, cb0 = (t % blocks) * kChannelBlock;
      int64_t nc = std::min(kChannelBlock, g.C - cb0);
      for (int64_t oy = 0; oy < g.OH; ++oy)
        for (int64_t ox = 0; ox < g.OW; ++ox) {
          for (int64_t c = 0; c < nc; ++c) best[c] = ninf, pos[c] = -1;
          int64_t r0, r1, c0, c1;
          g.window(oy, ox, r0, r1, c0, c1);
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t q = c0; q < c1; ++q) {
              int64_t off = ((n * g.H + r) * g.W + q) * g.C + cb0;
              for (int64_t c = 0; c < nc; ++c)
                if (x[off + c] > best[c]) best[c] = x[off + c], pos[c] = off + c;
            }
          const float* d = dy + ((n * g.OH + oy) * g.OW + ox) * g.C + cb0;
          for (int64_t c = 0; c < nc; ++c)
            if (pos[c] >= 0) dx[pos[c]] += d[c];
        }
    }
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
  exports.Set("maxPool", Napi::Function::New(env, MaxPool));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad));
  exports.Set("avgPool", Napi::Function::New(env, AvgPool));
  exports.Set("avgPoolGrad", Napi::Function::New(env, AvgPoolGrad));
}

}  // namespace arcal
