// Module entry: thread control, allocator tuning, and the kernel groups.
#include "common.h"
#include <malloc.h>
#include <omp.h>
#include <dnnl.hpp>

namespace arcal {

int g_threads = 1;
void applyThreads() {
  if (omp_get_max_threads() != g_threads) omp_set_num_threads(g_threads);
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = static_cast<int>(i64(info[0]));
  g_threads = n < 1 ? 1 : n;
  applyThreads();
  return Napi::Number::New(info.Env(), g_threads);
}

static Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), g_threads);
}

static Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* v = dnnl_version();
  char buf[96];
  snprintf(buf, sizeof buf, "oneDNN %d.%d.%d (cpu runtime %s)", v->major, v->minor, v->patch,
           v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
  return Napi::String::New(info.Env(), buf);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Large activations would otherwise come from fresh mmaps that page-fault on first touch and are
  // returned to the kernel on free; keeping them in the heap lets freed blocks be reused warm.
  // 32 MiB is glibc's ceiling for the mmap threshold on 64-bit.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  g_threads = omp_get_max_threads();
  exportKernel<SetThreads>(env, exports, "setThreads");
  exportKernel<GetThreads>(env, exports, "getThreads");
  exportKernel<Version>(env, exports, "version");
  initConv(env, exports);
  initPool(env, exports);
  initMatmul(env, exports);
  initElementwise(env, exports);
  initBatchNorm(env, exports);
  initOptimizer(env, exports);
  initSoftmaxXent(env, exports);
  initBoxGrad(env, exports);
  return exports;
}

}  // namespace arcal

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return arcal::Init(env, exports); }

NODE_API_MODULE(arcal_native, InitModule)
