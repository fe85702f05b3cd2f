// Softmax cross-entropy with soft targets over the rows of [N, K] logits (see softmax-xent.ts in @arcal/native):
//   forward   L_i = −Σ_k t_ik · log softmax(z_i)_k,  log softmax(z_i)_k = (z_ik − m_i) − log Σ_j exp(z_ij − m_i)
//   backward  ∂L/∂z_ik = (softmax(z_i)_k · Σ_j t_ij − t_ik) · dy_i
// with m_i the row maximum, so no exponential overflows; sums and logarithms in double, results rounded once.
#include "common.h"
#include <omp.h>
#include <cmath>

namespace arcal {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

// The row's maximum and log Σ exp(z − max), in double.
inline void rowShift(const float* z, int64_t k, double& m, double& logSum) {
  float mx = z[0];
  for (int64_t j = 1; j < k; ++j) mx = z[j] > mx ? z[j] : mx;
  double s = 0;
  for (int64_t j = 0; j < k; ++j) s += std::exp(double(z[j]) - double(mx));
  m = mx;
  logSum = std::log(s);
}

// softmaxXent(z, t, loss, rows, cols): loss[i] = L_i.
Napi::Value SoftmaxXent(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* __restrict z = f32(info[0]);
  const float* __restrict t = f32(info[1]);
  float* __restrict loss = f32(info[2]);
  const int64_t rows = i64(info[3]), cols = i64(info[4]);
  need(rows >= 0 && cols > 0, env, "softmaxXent: shape");
  need(int64_t(len(info[0])) == rows * cols && int64_t(len(info[1])) == rows * cols, env, "softmaxXent: sizes");
  need(int64_t(len(info[2])) == rows, env, "softmaxXent: output size");
  applyThreads();
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t i = 0; i < rows; ++i) {
    const float* zi = z + i * cols;
    const float* ti = t + i * cols;
    double m, logSum;
    rowShift(zi, cols, m, logSum);
    double acc = 0;
    for (int64_t j = 0; j < cols; ++j) acc += double(ti[j]) * ((double(zi[j]) - m) - logSum);
    loss[i] = float(-acc);
  }
  return env.Undefined();
}

// softmaxXentGrad(z, t, dy, dz, rows, cols): dz[i, k] = (softmax(z_i)_k · Σ_j t_ij − t_ik) · dy[i].
Napi::Value SoftmaxXentGrad(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* __restrict z = f32(info[0]);
  const float* __restrict t = f32(info[1]);
  const float* __restrict dy = f32(info[2]);
  float* __restrict dz = f32(info[3]);
  const int64_t rows = i64(info[4]), cols = i64(info[5]);
  need(rows >= 0 && cols > 0, env, "softmaxXentGrad: shape");
  need(int64_t(len(info[0])) == rows * cols && int64_t(len(info[1])) == rows * cols, env, "softmaxXentGrad: sizes");
  need(int64_t(len(info[2])) == rows && int64_t(len(info[3])) == rows * cols, env, "softmaxXentGrad: sizes");
  applyThreads();
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t i = 0; i < rows; ++i) {
    const float* zi = z + i * cols;
    const float* ti = t + i * cols;
    float* gi = dz + i * cols;
    double m, logSum;
    rowShift(zi, cols, m, logSum);
    double tSum = 0;
    for (int64_t j = 0; j < cols; ++j) tSum += ti[j];
    const double d = dy[i];
    for (int64_t j = 0; j < cols; ++j) {
      const double p = std::exp((double(zi[j]) - m) - logSum);
      gi[j] = float((p * tSum - double(ti[j])) * d);
    }
  }
  return env.Undefined();
}

}  // namespace

void initSoftmaxXent(Napi::Env env, Napi::Object exports) {
  exportKernel<SoftmaxXent>(env, exports, "softmaxXent");
  exportKernel<SoftmaxXentGrad>(env, exports, "softmaxXentGrad");
}

}  // namespace arcal
