// Batch normalisation over the rows of a channels-last tensor (N·H·W rows of C channels), on OpenMP:
// per-channel batch statistics, the normalise + scale/shift (+ relu) pass, and the two passes of the
// backward. Per-channel coefficients are computed by the caller (C values, in JavaScript); these kernels do
// the full-size passes. Channel sums are accumulated in double in per-thread partials that are added in
// thread order, so results do not depend on timing.
#include "common.h"
#include <omp.h>
#include <algorithm>
#include <cstring>
#include <vector>

namespace arcal {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

// out[k] = Σ over rows r of what rowFn(r, acc) adds into acc[k], acc being a per-thread accumulator of `width`
// doubles (k < width). The thread count depends on the size only, and partials are added in thread order.
template <class RowFn>
void rowSums(int64_t rows, int64_t C, int64_t width, std::vector<double>& out, RowFn rowFn) {
  const int nt = rows * C >= kParallelMin ? omp_get_max_threads() : 1;
  std::vector<double> part(size_t(nt) * width, 0.0);
#pragma omp parallel num_threads(nt)
  {
    double* acc = part.data() + size_t(omp_get_thread_num()) * width;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) rowFn(r, acc);
  }
  out.assign(size_t(width), 0.0);
  for (int t = 0; t < nt; ++t)
    for (int64_t k = 0; k < width; ++k) out[size_t(k)] += part[size_t(t) * width + k];
}

// The mask of tfjs's relu gradient, step(y), as 0.f or 1.f built from bits: written as `y > 0 ? 1 : 0`, GCC
// turns `g * mask` into a branch around a multiply, which does not vectorise and mispredicts on random signs
// (measured 15-20x slower).
inline float mask(float y) {
  const uint32_t bits = -uint32_t(y > 0.f) & 0x3f800000u;
  float m;
  std::memcpy(&m, &bits, sizeof m);
  return m;
}

// One row of bnStats: a1[c] += x − s, a2[c] += (x − s)², in double.
inline void statsRow(const float* __restrict x, const float* __restrict s, double* __restrict a1,
                     double* __restrict a2, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    const double d = double(x[c]) - double(s[c]);
    a1[c] += d;
    a2[c] += d * d;
  }
}

// One row of bnGradSums: a1[c] += g, a2[c] += g · x̂ (the product of two floats is exact in double).
template <bool kRelu>
inline void gradSumsRow(const float* __restrict dy, const float* __restrict x, const float* __restrict y,
                        const float* __restrict mean, const float* __restrict invstd, double* __restrict a1,
                        double* __restrict a2, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    const float g = kRelu ? dy[c] * mask(y[c]) : dy[c];
    const float xh = (x[c] - mean[c]) * invstd[c];
    a1[c] += double(g);
    a2[c] += double(g) * double(xh);
  }
}

// One row of bnGradApply.
template <bool kRelu, bool kAffine>
inline void gradApplyRow(const float* __restrict dy, const float* __restrict y, const float* __restrict a,
                         const float* __restrict x, const float* __restrict mean, const float* __restrict b,
                         const float* __restrict e, float* __restrict dx, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    const float g = kRelu ? dy[c] * mask(y[c]) : dy[c];
    dx[c] = kAffine ? a[c] * g + b[c] * (x[c] - mean[c]) + e[c] : a[c] * g;
  }
}

template <bool kRelu, bool kAffine>
void gradApplyRows(const float* dy, const float* y, const float* a, const float* x, const float* mean,
                   const float* b, const float* e, float* dx, int64_t rows, int64_t C) {
#pragma omp parallel for schedule(static) if (rows * C >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r)
    gradApplyRow<kRelu, kAffine>(dy + r * C, kRelu ? y + r * C : nullptr, a, kAffine ? x + r * C : nullptr, mean, b,
                                 e, dx + r * C, C);
}

// bnStats(x, mean, variance): per-channel mean and biased variance (mean of squared deviations, as
// tf.moments) over the rows of x, C = |mean|. One pass over x: sums of (x − s) and (x − s)² in double
// around a per-channel shift s (the first row), which keeps the variance accurate when |mean| ≫ std.
Napi::Value BnStats(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* x = f32(info[0]);
  float* mean = f32(info[1]);
  float* var = f32(info[2]);
  const int64_t n = len(info[0]), C = len(info[1]);
  need(C > 0 && n > 0 && n % C == 0 && len(info[2]) == size_t(C), env, "bnStats: sizes");
  const int64_t rows = n / C;
  applyThreads();
  std::vector<float> shift(x, x + C);
  const float* s = shift.data();
  std::vector<double> sums;
  rowSums(rows, C, 2 * C, sums, [&](int64_t r, double* acc) { statsRow(x + r * C, s, acc, acc + C, C); });
  for (int64_t c = 0; c < C; ++c) {
    const double m = sums[size_t(c)] / double(rows);
    double v = sums[size_t(C + c)] / double(rows) - m * m;
    mean[c] = float(double(s[c]) + m);
    var[c] = float(v < 0 ? 0 : v);
  }
  return env.Undefined();
}

// bnApply(x, mean, scale, offset, y, relu): y = act((x − mean[c]) · scale[c] + offset[c]).
Napi::Value BnApply(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* x = f32(info[0]);
  const float* mean = f32(info[1]);
  const float* scale = f32(info[2]);
  const float* offset = f32(info[3]);
  float* y = f32(info[4]);
  const bool relu = info[5].As<Napi::Boolean>().Value();
  const int64_t n = len(info[0]), C = len(info[1]);
  need(C > 0 && n % C == 0 && len(info[2]) == size_t(C) && len(info[3]) == size_t(C) && len(info[4]) == size_t(n),
       env, "bnApply: sizes");
  const int64_t rows = n / C;
  applyThreads();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict xr = x + r * C;
    float* __restrict yr = y + r * C;
    if (relu) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        const float v = (xr[c] - mean[c]) * scale[c] + offset[c];
        yr[c] = v > 0.f ? v : (v != v ? v : 0.f);  // NaN passes through, as tfjs's relu
      }
    } else {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - mean[c]) * scale[c] + offset[c];
    }
  }
  return env.Undefined();
}

// bnGradSums(dy, x, y, mean, invstd, sumG, sumGXhat): with g = dy · step(y) (or dy when y is null),
// sumG[c] = Σ g and sumGXhat[c] = Σ g · (x − mean[c]) · invstd[c], over the rows; C = |mean|.
Napi::Value BnGradSums(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* dy = f32(info[0]);
  const float* x = f32(info[1]);
  const bool relu = !info[2].IsNull();
  const float* y = relu ? f32(info[2]) : nullptr;
  const float* mean = f32(info[3]);
  const float* invstd = f32(info[4]);
  float* sumG = f32(info[5]);
  float* sumGX = f32(info[6]);
  const int64_t n = len(info[0]), C = len(info[3]);
  need(C > 0 && n % C == 0 && len(info[1]) == size_t(n) && (!relu || len(info[2]) == size_t(n)) &&
           len(info[4]) == size_t(C) && len(info[5]) == size_t(C) && len(info[6]) == size_t(C),
       env, "bnGradSums: sizes");
  const int64_t rows = n / C;
  applyThreads();
  std::vector<double> sums;
  rowSums(rows, C, 2 * C, sums, [&](int64_t r, double* acc) {
    if (relu) gradSumsRow<true>(dy + r * C, x + r * C, y + r * C, mean, invstd, acc, acc + C, C);
    else gradSumsRow<false>(dy + r * C, x + r * C, nullptr, mean, invstd, acc, acc + C, C);
  });
  for (int64_t c = 0; c < C; ++c) {
    sumG[c] = float(sums[size_t(c)]);
    sumGX[c] = float(sums[size_t(C + c)]);
  }
  return env.Undefined();
}

// bnGradApply(dy, y, a, x, mean, b, e, dx): dx = a[c] · g + b[c] · (x − mean[c]) + e[c], g = dy · step(y) (or dy
// when y is null). With x null only dx = a[c] · g (mean, b, e are then ignored and may be null).
Napi::Value BnGradApply(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* dy = f32(info[0]);
  const bool relu = !info[1].IsNull();
  const float* y = relu ? f32(info[1]) : nullptr;
  const float* a = f32(info[2]);
  const bool affine = !info[3].IsNull();
  const float* x = affine ? f32(info[3]) : nullptr;
  const float* mean = affine ? f32(info[4]) : nullptr;
  const float* b = affine ? f32(info[5]) : nullptr;
  const float* e = affine ? f32(info[6]) : nullptr;
  float* dx = f32(info[7]);
  const int64_t n = len(info[0]), C = len(info[2]);
  need(C > 0 && n % C == 0 && len(info[7]) == size_t(n) && (!relu || len(info[1]) == size_t(n)), env,
       "bnGradApply: sizes");
  need(!affine || (len(info[3]) == size_t(n) && len(info[4]) == size_t(C) && len(info[5]) == size_t(C) &&
                   len(info[6]) == size_t(C)),
       env, "bnGradApply: sizes");
  const int64_t rows = n / C;
  applyThreads();
  if (affine && relu) gradApplyRows<true, true>(dy, y, a, x, mean, b, e, dx, rows, C);
  else if (affine) gradApplyRows<false, true>(dy, y, a, x, mean, b, e, dx, rows, C);
  else if (relu) gradApplyRows<true, false>(dy, y, a, x, mean, b, e, dx, rows, C);
  else gradApplyRows<false, false>(dy, y, a, x, mean, b, e, dx, rows, C);
  return env.Undefined();
}

// sumMiddle(x, out, outer, mid, inner): out[o·inner + i] = Σ_m x[(o·mid + m)·inner + i], in double
// (a sum over a contiguous block of axes in the middle, e.g. a global average pool over H, W of NHWC).
Napi::Value SumMiddle(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  const int64_t outer = i64(info[2]), mid = i64(info[3]), inner = i64(info[4]);
  need(outer > 0 && mid > 0 && inner > 0 && len(info[0]) == size_t(outer * mid * inner) &&
           len(info[1]) == size_t(outer * inner),
       env, "sumMiddle: sizes");
  applyThreads();
#pragma omp parallel if (outer * mid * inner >= kParallelMin)
  {
    std::vector<double> acc(static_cast<size_t>(inner), 0.0);
#pragma omp for schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* xo = x + o * mid * inner;
      for (int64_t m = 0; m < mid; ++m) {
        const float* xr = xo + m * inner;
        for (int64_t i = 0; i < inner; ++i) acc[size_t(i)] += xr[i];
      }
      for (int64_t i = 0; i < inner; ++i) out[o * inner + i] = float(acc[size_t(i)]);
    }
  }
  return env.Undefined();
}

}  // namespace

void initBatchNorm(Napi::Env env, Napi::Object exports) {
  exportKernel<BnStats>(env, exports, "bnStats");
  exportKernel<BnApply>(env, exports, "bnApply");
  exportKernel<BnGradSums>(env, exports, "bnGradSums");
  exportKernel<BnGradApply>(env, exports, "bnGradApply");
  exportKernel<SumMiddle>(env, exports, "sumMiddle");
}

}  // namespace arcal
