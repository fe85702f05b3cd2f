// Box-feasible gradient for inputs constrained to [0, 1] (see box-grad.ts in @arcal/native):
//   out_i = 0    if (x_i ≤ lo and g_i > 0) or (x_i ≥ hi and g_i < 0)
//   out_i = g_i  otherwise
// lo and hi are float32 values (the tolerance and 1 − tolerance rounded as tfjs rounds a scalar). Comparisons are
// IEEE float comparisons, false whenever an operand is NaN, so a NaN pixel or a NaN gradient passes g through;
// −0 is neither > 0 nor < 0 and passes through too. The zero written is +0.
#include "common.h"
#include <omp.h>

namespace arcal {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

// boxFeasibleGradient(x, g, out, lo, hi)
Napi::Value BoxFeasibleGradient(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* __restrict x = f32(info[0]);
  const float* __restrict g = f32(info[1]);
  float* __restrict o = f32(info[2]);
  const float lo = info[3].As<Napi::Number>().FloatValue();
  const float hi = info[4].As<Napi::Number>().FloatValue();
  const int64_t n = len(info[0]);
  need(int64_t(len(info[1])) == n && int64_t(len(info[2])) == n, env, "boxFeasibleGradient: sizes");
  applyThreads();
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float xi = x[i], gi = g[i];
    const bool blocked = (xi <= lo && gi > 0.f) || (xi >= hi && gi < 0.f);
    o[i] = blocked ? 0.f : gi;
  }
  return env.Undefined();
}

}  // namespace

void initBoxGrad(Napi::Env env, Napi::Object exports) {
  exportKernel<BoxFeasibleGradient>(env, exports, "boxFeasibleGradient");
}

}  // namespace arcal
