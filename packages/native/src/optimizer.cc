// The optimizer's per-parameter update in one pass over p, g and the state (see optimizer.ts in @arcal/native):
// float32 arithmetic in exactly the order of the tf-op formulation in packages/core (no contraction into FMA:
// -std=c++17 keeps GCC's -ffp-contract=off), so results equal tfjs's cpu backend bit for bit.
#include "common.h"
#include <omp.h>
#include <cmath>

namespace arcal {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

enum Kind { kSgd = 0, kMomentum = 1, kAdam = 2 };

// optimizerUpdate(kind, p, g, s1, s2, pOut, s1Out, s2Out, k): k = [lr, wd, a, b, c, d, c1, c2, eps] as float32.
//   g' = wd > 0 ? g + p·wd : g
//   sgd:       p' = p − g'·lr
//   momentum:  s1' = s1·a + g';  p' = p − s1'·lr                                   (a = μ)
//   adam:      s1' = s1·a + g'·b;  s2' = s2·c + (g'·g')·d;                          (a, b, c, d = β1, 1−β1, β2, 1−β2)
//              p' = p − ((s1'/c1) / (√(s2'/c2) + eps))·lr
// s1/s2 and their outputs are null where the kind has no such state.
Napi::Value OptimizerUpdate(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const int kind = static_cast<int>(i64(info[0]));
  need(kind >= kSgd && kind <= kAdam, env, "optimizerUpdate: unknown kind");
  const int64_t n = static_cast<int64_t>(len(info[1]));
  const float* __restrict p = f32(info[1]);
  const float* __restrict g = f32(info[2]);
  const bool has1 = kind != kSgd, has2 = kind == kAdam;
  const float* __restrict s1 = has1 ? f32(info[3]) : nullptr;
  const float* __restrict s2 = has2 ? f32(info[4]) : nullptr;
  float* __restrict po = f32(info[5]);
  float* __restrict s1o = has1 ? f32(info[6]) : nullptr;
  float* __restrict s2o = has2 ? f32(info[7]) : nullptr;
  need(int64_t(len(info[2])) == n && int64_t(len(info[5])) == n, env, "optimizerUpdate: sizes");
  need(!has1 || (int64_t(len(info[3])) == n && int64_t(len(info[6])) == n), env, "optimizerUpdate: sizes");
  need(!has2 || (int64_t(len(info[4])) == n && int64_t(len(info[7])) == n), env, "optimizerUpdate: sizes");
  need(len(info[8]) == 9, env, "optimizerUpdate: scalars");
  const float* k = f32(info[8]);
  const float lr = k[0], wd = k[1], a = k[2], b = k[3], c = k[4], d = k[5], c1 = k[6], c2 = k[7], eps = k[8];
  const bool decay = wd > 0.f;
  applyThreads();
  if (kind == kAdam) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      const float gi = decay ? g[i] + p[i] * wd : g[i];
      const float m = s1[i] * a + gi * b;
      const float v = s2[i] * c + (gi * gi) * d;
      s1o[i] = m;
      s2o[i] = v;
      const float upd = (m / c1) / (std::sqrt(v / c2) + eps);
      po[i] = p[i] - upd * lr;
    }
  } else if (kind == kMomentum) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      const float gi = decay ? g[i] + p[i] * wd : g[i];
      const float v = s1[i] * a + gi;
      s1o[i] = v;
      po[i] = p[i] - v * lr;
    }
  } else {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      const float gi = decay ? g[i] + p[i] * wd : g[i];
      po[i] = p[i] - gi * lr;
    }
  }
  return env.Undefined();
}

}  // namespace

void initOptimizer(Napi::Env env, Napi::Object exports) {
  exportKernel<OptimizerUpdate>(env, exports, "optimizerUpdate");
}

}  // namespace arcal
