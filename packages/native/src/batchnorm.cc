// Batch normalisation over the rows of a channels-last tensor (N·H·W rows of C channels), on OpenMP.
//
// Training mode is one call each way, per-channel coefficients included: bnTrain (batch statistics, then the
// normalise + scale/shift (+ relu) pass) and bnTrainGrad (the per-channel sums Σg and Σg·x̂, then dx in closed
// form; it reads dy and x only, the relu mask recomputed from x). Each is one parallel region: every thread sums
// its part of the rows, waits for the others, computes the C coefficients from all parts' sums itself, and makes
// the second pass over the same part, in reverse order of row blocks so that it starts on the rows the first
// pass left in cache. Inference mode (statistics given) uses bnApply, bnGradSums and bnGradApply with
// coefficients from the caller.
//
// Sums are deterministic, independent of timing and of how many threads the runtime grants: the rows are
// split into a number of contiguous parts that depends on the size only; within a part, values are summed in
// float over blocks of kFold rows, each block's sums added into double; the parts' double sums are added in
// part order.
#include "common.h"
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

namespace arcal {
namespace {

constexpr int64_t kParallelMin = 1 << 15;
// Rows summed in float before their sums are added into the double accumulators.
constexpr int64_t kFold = 16;
// Elements per block of rows in the reversed second pass (256 KiB of floats per array: the last block of the first
// pass is still in a core's L2, and each block is long enough a stream for the hardware prefetchers; 16 KiB blocks
// halved the bandwidth on arrays far larger than the caches).
constexpr int64_t kBlockElems = 1 << 16;

// Number of parts the rows are split into: the thread count for large tensors, 1 below kParallelMin elements.
inline int partsFor(int64_t n) { return n >= kParallelMin ? std::max(1, omp_get_max_threads()) : 1; }
inline int64_t partBegin(int64_t rows, int parts, int p) { return rows * p / parts; }

// Calls f with std::integral_constant<int, C> for the channel counts of the residual nets (the per-row loops are
// then fully unrolled and their accumulators kept in registers), with 0 (runtime C) otherwise.
template <class F>
void withChannels(int64_t C, F f) {
  switch (C) {
    case 16: f(std::integral_constant<int, 16>()); break;
    case 32: f(std::integral_constant<int, 32>()); break;
    case 64: f(std::integral_constant<int, 64>()); break;
    default: f(std::integral_constant<int, 0>()); break;
  }
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

// bnTrain's per-channel scale γ/√(variance + ε) from the variance it outputs, and its pre-activation
// (x − mean)·scale + β: bnTrainGrad recomputes both with these same functions to get the relu mask bit for bit.
inline float trainScale(float gamma, float var, double eps) { return float(double(gamma) / std::sqrt(double(var) + eps)); }
inline float preact(float x, float m, float sc, float o) { return (x - m) * sc + o; }

// Per-thread float accumulators of 2·C values (stack for small C).
class FloatAcc {
 public:
  explicit FloatAcc(int64_t C) : heap_(C > kStack / 2 ? size_t(2 * C) : 0) {
    p_ = heap_.empty() ? stack_ : heap_.data();
  }
  float* data() { return p_; }

 private:
  static constexpr int64_t kStack = 512;
  alignas(64) float stack_[kStack];
  std::vector<float> heap_;
  float* p_;
};

// Σ over rows [r0, r1) of u(r, c) and u(r, c)·v(r, c) into a1[c], a2[c] (double), u and v given by `uv`, which for
// row r fills u[0..C) and v[0..C) — computed here with the row's data in registers: f(r, c, u, v) sets u, v of
// element (r, c). Summed in float over blocks of kFold rows; each block's sums are added into the doubles.
template <int KC, class F>
inline void pairSums(int64_t r0, int64_t r1, int64_t Cr, float* __restrict f1, float* __restrict f2,
                     double* __restrict a1, double* __restrict a2, F f) {
  const int64_t C = KC > 0 ? KC : Cr;
  for (int64_t b = r0; b < r1; b += kFold) {
    const int64_t e = std::min(r1, b + kFold);
    if constexpr (KC > 0) {
      // accumulators as local arrays of constant size: kept in vector registers over the block
      float s1[KC], s2[KC];
      for (int c = 0; c < KC; ++c) s1[c] = s2[c] = 0.f;
      for (int64_t r = b; r < e; ++r) {
#pragma omp simd
        for (int c = 0; c < KC; ++c) {
          float u, v;
          f(r, c, u, v);
          s1[c] += u;
          s2[c] += u * v;
        }
      }
      for (int c = 0; c < KC; ++c) {
        a1[c] += double(s1[c]);
        a2[c] += double(s2[c]);
      }
    } else {
      for (int64_t c = 0; c < C; ++c) f1[c] = f2[c] = 0.f;
      for (int64_t r = b; r < e; ++r) {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) {
          float u, v;
          f(r, c, u, v);
          f1[c] += u;
          f2[c] += u * v;
        }
      }
      for (int64_t c = 0; c < C; ++c) {
        a1[c] += double(f1[c]);
        a2[c] += double(f2[c]);
      }
    }
  }
}

// Calls row(r) for the rows [r0, r1) in blocks of about kBlockElems elements, the last block first (rows in
// order within a block): a pass that follows one over the same rows in order starts where that one ended.
template <class Row>
inline void rowsReversed(int64_t r0, int64_t r1, int64_t C, Row row) {
  const int64_t step = std::max<int64_t>(1, kBlockElems / C);
  for (int64_t e = r1; e > r0;) {
    const int64_t b = std::max(r0, e - step);
    for (int64_t r = b; r < e; ++r) row(r);
    e = b;
  }
}

// The parts' double sums, 2·C per part at a stride of whole cache lines, added in part order into out (2·C).
class PartSums {
 public:
  PartSums(int parts, int64_t C) : C_(C), stride_((2 * C + 7) / 8 * 8), v_(size_t(parts) * stride_, 0.0) {}
  double* part(int p) { return v_.data() + size_t(p) * stride_; }
  void total(int parts, double* out) const {
    std::fill(out, out + 2 * C_, 0.0);
    for (int p = 0; p < parts; ++p)
      for (int64_t k = 0; k < 2 * C_; ++k) out[k] += v_[size_t(p) * stride_ + k];
  }

 private:
  int64_t C_, stride_;
  std::vector<double> v_;
};

// The two-pass skeleton of bnTrain and bnTrainGrad: in one parallel region, sums(p, acc) over each part p,
// a barrier, then finish(totals) on every thread (its own coefficients; same inputs, same result) and apply(p)
// over the thread's parts in reverse order.
template <class Sums, class Finish, class Apply>
void twoPass(int parts, int64_t C, Sums sums, Finish finish, Apply apply) {
  PartSums ps(parts, C);
#pragma omp parallel num_threads(parts)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    FloatAcc acc(C);
    for (int p = tid; p < parts; p += nth) sums(p, acc.data(), ps.part(p));
#pragma omp barrier
    std::vector<double> tot(size_t(2 * C));
    ps.total(parts, tot.data());
    finish(tid, tot.data());
    int last = tid;
    while (last + nth < parts) last += nth;
    for (int p = last; p >= tid; p -= nth) apply(p);
  }
}

// bnTrain(x, gamma, beta, epsilon, relu, y, mean, variance): training-mode batch norm over the rows of x
// (C = |gamma|): mean and biased variance per channel (as tf.moments), then
// y = act((x − mean[c]) · γ[c]/√(variance[c] + ε) + β[c]). The sums are of x − s and (x − s)² around a
// per-channel shift s (the first row), which keeps the variance accurate when |mean| ≫ std.
Napi::Value BnTrain(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* x = f32(info[0]);
  const float* gamma = f32(info[1]);
  const float* beta = f32(info[2]);
  const double eps = info[3].As<Napi::Number>().DoubleValue();
  const bool relu = info[4].As<Napi::Boolean>().Value();
  float* y = f32(info[5]);
  float* mean = f32(info[6]);
  float* var = f32(info[7]);
  const int64_t n = len(info[0]), C = len(info[1]);
  need(C > 0 && n > 0 && n % C == 0 && len(info[2]) == size_t(C) && len(info[5]) == size_t(n) &&
           len(info[6]) == size_t(C) && len(info[7]) == size_t(C),
       env, "bnTrain: sizes");
  const int64_t rows = n / C;
  applyThreads();
  const int parts = partsFor(n);
  // per-thread coefficients: the mean (float, as output) and the scale; offset is β
  std::vector<float> coef(size_t(parts) * 2 * size_t(C));
  withChannels(C, [&](auto kc) {
    constexpr int KC = decltype(kc)::value;
    const int64_t Cn = KC > 0 ? KC : C;
    const float* __restrict s = x;  // the first row
    twoPass(
        parts, Cn,
        [&](int p, float* f, double* acc) {
          pairSums<KC>(partBegin(rows, parts, p), partBegin(rows, parts, p + 1), Cn, f, f + Cn, acc, acc + Cn,
                       [=](int64_t r, int64_t c, float& u, float& v) { u = v = x[r * Cn + c] - s[c]; });
        },
        [&](int tid, const double* tot) {
          float* m = coef.data() + size_t(tid) * 2 * Cn;
          float* sc = m + Cn;
          for (int64_t c = 0; c < Cn; ++c) {
            const double d = tot[c] / double(rows);
            const double v = std::max(0.0, tot[Cn + c] / double(rows) - d * d);
            m[c] = float(double(s[c]) + d);
            sc[c] = trainScale(gamma[c], float(v), eps);
            if (tid == 0) {
              mean[c] = m[c];
              var[c] = float(v);
            }
          }
        },
        [&](int p) {
          const int tid = omp_get_thread_num();
          const float* __restrict m = coef.data() + size_t(tid) * 2 * Cn;
          const float* __restrict sc = m + Cn;
          const float* __restrict o = beta;
          rowsReversed(partBegin(rows, parts, p), partBegin(rows, parts, p + 1), Cn, [=](int64_t r) {
            const float* __restrict xr = x + r * Cn;
            float* __restrict yr = y + r * Cn;
            if (relu) {
#pragma omp simd
              for (int64_t c = 0; c < Cn; ++c) {
                const float v = preact(xr[c], m[c], sc[c], o[c]);
                yr[c] = v > 0.f ? v : (v != v ? v : 0.f);  // NaN passes through, as tfjs's relu
              }
            } else {
#pragma omp simd
              for (int64_t c = 0; c < Cn; ++c) yr[c] = preact(xr[c], m[c], sc[c], o[c]);
            }
          });
        });
  });
  return env.Undefined();
}

// One row of dx = a[c] · g + b[c] · (x − mean[c]) + e[c] (kAffine) or dx = a[c] · g, g = dy · step(y) (kRelu) or dy.
template <bool kRelu, bool kAffine>
inline void gradApplyRow(const float* __restrict dy, const float* __restrict y, const float* __restrict a,
                         const float* __restrict x, const float* __restrict mean, const float* __restrict b,
                         const float* __restrict e, float* __restrict dx, int64_t C) {
#pragma omp simd
  for (int64_t c = 0; c < C; ++c) {
    const float g = kRelu ? dy[c] * mask(y[c]) : dy[c];
    dx[c] = kAffine ? a[c] * g + b[c] * (x[c] - mean[c]) + e[c] : a[c] * g;
  }
}

// Σg and Σg·x̂ over the rows of a part (g = dy · step(y) or dy, x̂ = (x − mean) · invstd) into acc[0..C), acc[C..2C).
template <bool kRelu, int KC>
inline void gradSumsPart(const float* dy, const float* x, const float* y, const float* __restrict mean,
                         const float* __restrict invstd, int64_t r0, int64_t r1, int64_t C, float* f, double* acc) {
  pairSums<KC>(r0, r1, C, f, f + C, acc, acc + C, [=](int64_t r, int64_t c, float& u, float& v) {
    const int64_t i = r * C + c;
    u = kRelu ? dy[i] * mask(y[i]) : dy[i];
    v = (x[i] - mean[c]) * invstd[c];
  });
}

// The gradient flowing into the batch norm of bnTrain: dy · step(pre-activation) with relu, else dy. The
// pre-activation is recomputed from x with bnTrain's own expression and coefficients (trainScale, preact), bit for
// bit what bnTrain computed, so y (a third full-size array) is not read.
template <bool kRelu>
inline float trainG(float dy, float x, float m, float sc, float o) {
  return kRelu ? dy * mask(preact(x, m, sc, o)) : dy;
}

// bnTrainGrad(dy, x, gamma, beta, mean, variance, epsilon, relu, dx, dgamma, dbeta): the gradient of bnTrain from its
// input x and its outputs mean and variance, with σ = √(variance + ε), x̂ = (x − mean)/σ, M rows, and
// g = dy · step(y) with relu (y recomputed from x), dy without:
//   dβ = Σ g,  dγ = Σ g·x̂,  dx = γ/σ · (g − dβ/M − x̂ · dγ/M).
Napi::Value BnTrainGrad(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* dy = f32(info[0]);
  const float* x = f32(info[1]);
  const float* gamma = f32(info[2]);
  const float* beta = f32(info[3]);
  const float* mean = f32(info[4]);
  const float* var = f32(info[5]);
  const double eps = info[6].As<Napi::Number>().DoubleValue();
  const bool relu = info[7].As<Napi::Boolean>().Value();
  float* dx = f32(info[8]);
  float* dgamma = f32(info[9]);
  float* dbeta = f32(info[10]);
  const int64_t n = len(info[0]), C = len(info[2]);
  need(C > 0 && n > 0 && n % C == 0 && len(info[1]) == size_t(n) && len(info[3]) == size_t(C) &&
           len(info[4]) == size_t(C) && len(info[5]) == size_t(C) && len(info[8]) == size_t(n) &&
           len(info[9]) == size_t(C) && len(info[10]) == size_t(C),
       env, "bnTrainGrad: sizes");
  const int64_t rows = n / C;
  applyThreads();
  const int parts = partsFor(n);
  // invstd = 1/σ and the forward's scale γ/σ (for the relu mask)
  std::vector<float> inv(static_cast<size_t>(C)), scale(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    inv[size_t(c)] = float(1.0 / std::sqrt(double(var[c]) + eps));
    scale[size_t(c)] = trainScale(gamma[c], var[c], eps);
  }
  // per-thread coefficients a, b, e of dx = a·g + b·(x − mean) + e
  std::vector<float> coef(size_t(parts) * 3 * size_t(C));
  auto run = [&](auto kc, auto kr) {
    constexpr int KC = decltype(kc)::value;
    constexpr bool kRelu = decltype(kr)::value;
    const int64_t Cn = KC > 0 ? KC : C;
    const float* __restrict m = mean;
    const float* __restrict sc = scale.data();
    const float* __restrict o = beta;
    const float* __restrict is = inv.data();
    twoPass(
        parts, Cn,
        [&](int p, float* f, double* acc) {
          pairSums<KC>(partBegin(rows, parts, p), partBegin(rows, parts, p + 1), Cn, f, f + Cn, acc, acc + Cn,
                       [=](int64_t r, int64_t c, float& u, float& v) {
                         const int64_t i = r * Cn + c;
                         u = trainG<kRelu>(dy[i], x[i], m[c], sc[c], o[c]);
                         v = (x[i] - m[c]) * is[c];
                       });
        },
        [&](int tid, const double* tot) {
          float* a = coef.data() + size_t(tid) * 3 * Cn;
          for (int64_t c = 0; c < Cn; ++c) {
            const double ic = is[c], ac = double(gamma[c]) * ic;
            a[c] = float(ac);
            a[Cn + c] = float(-ac * ic * tot[Cn + c] / double(rows));
            a[2 * Cn + c] = float(-ac * tot[c] / double(rows));
            if (tid == 0) {
              dbeta[c] = float(tot[c]);
              dgamma[c] = float(tot[Cn + c]);
            }
          }
        },
        [&](int p) {
          const float* __restrict a = coef.data() + size_t(omp_get_thread_num()) * 3 * Cn;
          const float* __restrict b = a + Cn;
          const float* __restrict e = a + 2 * Cn;
          rowsReversed(partBegin(rows, parts, p), partBegin(rows, parts, p + 1), Cn, [=](int64_t r) {
            const float* __restrict dyr = dy + r * Cn;
            const float* __restrict xr = x + r * Cn;
            float* __restrict dxr = dx + r * Cn;
#pragma omp simd
            for (int64_t c = 0; c < Cn; ++c) {
              const float g = trainG<kRelu>(dyr[c], xr[c], m[c], sc[c], o[c]);
              dxr[c] = a[c] * g + b[c] * (xr[c] - m[c]) + e[c];
            }
          });
        });
  };
  withChannels(C, [&](auto kc) {
    if (relu) run(kc, std::true_type());
    else run(kc, std::false_type());
  });
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
  const int parts = partsFor(n);
  PartSums ps(parts, C);
#pragma omp parallel num_threads(parts)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    FloatAcc acc(C);
    for (int p = tid; p < parts; p += nth) {
      const int64_t r0 = partBegin(rows, parts, p), r1 = partBegin(rows, parts, p + 1);
      if (relu) gradSumsPart<true, 0>(dy, x, y, mean, invstd, r0, r1, C, acc.data(), ps.part(p));
      else gradSumsPart<false, 0>(dy, x, nullptr, mean, invstd, r0, r1, C, acc.data(), ps.part(p));
    }
  }
  std::vector<double> tot(size_t(2 * C));
  ps.total(parts, tot.data());
  for (int64_t c = 0; c < C; ++c) {
    sumG[c] = float(tot[size_t(c)]);
    sumGX[c] = float(tot[size_t(C + c)]);
  }
  return env.Undefined();
}

template <bool kRelu, bool kAffine>
void gradApplyRows(const float* dy, const float* y, const float* a, const float* x, const float* mean,
                   const float* b, const float* e, float* dx, int64_t rows, int64_t C) {
#pragma omp parallel for schedule(static) if (rows * C >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r)
    gradApplyRow<kRelu, kAffine>(dy + r * C, kRelu ? y + r * C : nullptr, a, kAffine ? x + r * C : nullptr, mean,
                                    b, e, dx + r * C, C);
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
  exportKernel<BnTrain>(env, exports, "bnTrain");
  exportKernel<BnTrainGrad>(env, exports, "bnTrainGrad");
  exportKernel<BnApply>(env, exports, "bnApply");
  exportKernel<BnGradSums>(env, exports, "bnGradSums");
  exportKernel<BnGradApply>(env, exports, "bnGradApply");
  exportKernel<SumMiddle>(env, exports, "sumMiddle");
}

}  // namespace arcal
