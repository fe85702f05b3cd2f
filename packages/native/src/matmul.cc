// Batched matrix product on oneDNN's sgemm, with an optional bias row and relu fused in:
// out[b] = act(op(A[b]) · op(B[b]) + bias), where op transposes when asked and a batch of one broadcasts.
#include "common.h"
#include <dnnl.hpp>
#include <cstring>

namespace arcal {
namespace {

// matmul(a, b, out, [batchA, batchB, M, N, K, transA, transB], bias | null, relu)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* a = f32(info[0]);
  const float* b = f32(info[1]);
  float* out = f32(info[2]);
  auto pa = info[3].As<Napi::Int32Array>();
  need(pa.ElementLength() == 7, env, "matmul: geometry needs 7 integers");
  const int32_t* p = pa.Data();
  const int64_t bA = p[0], bB = p[1], M = p[2], N = p[3], K = p[4];
  const bool tA = p[5] != 0, tB = p[6] != 0;
  const bool hasBias = !info[4].IsNull() && !info[4].IsUndefined();
  const float* bias = hasBias ? f32(info[4]) : nullptr;
  const bool relu = info[5].ToBoolean();
  need(bA == bB || bA == 1 || bB == 1, env, "matmul: batch sizes do not broadcast");
  const int64_t batch = bA > bB ? bA : bB;
  need(len(info[0]) == size_t(bA * M * K) && len(info[1]) == size_t(bB * K * N) &&
           len(info[2]) == size_t(batch * M * N) && (!hasBias || len(info[4]) == size_t(N)),
       env, "matmul: sizes");
  applyThreads();
  const int64_t lda = tA ? M : K, ldb = tB ? K : N;
  for (int64_t i = 0; i < batch; ++i) {
    const float* ai = a + (bA == 1 ? 0 : i * M * K);
    const float* bi = b + (bB == 1 ? 0 : i * K * N);
    float* ci = out + i * M * N;
    if (hasBias) {
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < M; ++r) std::memcpy(ci + r * N, bias, sizeof(float) * N);
    }
    if (M > 0 && N > 0) {
      if (K == 0) {
        if (!hasBias) std::memset(ci, 0, sizeof(float) * M * N);
      } else if (dnnl_sgemm(tA ? 'T' : 'N', tB ? 'T' : 'N', M, N, K, 1.0f, ai, lda, bi, ldb, hasBias ? 1.0f : 0.0f,
                            ci, N) != dnnl_success) {
        throw Napi::Error::New(env, "matmul: sgemm failed");
      }
    }
  }
  if (relu) {
    const int64_t n = batch * M * N;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = out[i] > 0.f ? out[i] : (out[i] != out[i] ? out[i] : 0.f);
  }
  return env.Undefined();
}

}  // namespace

void initMatmul(Napi::Env env, Napi::Object exports) { exportKernel<Matmul>(env, exports, "matmul"); }

}  // namespace arcal
