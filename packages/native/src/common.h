// Shared helpers for the arcal native kernels: argument access and the OpenMP thread count.
// Every kernel works on caller-owned float32 memory (tfjs's Float32Array values) and writes every
// element of its output, so outputs may come from a pool of recycled buffers.
#pragma once
#include <napi.h>
#include <pthread.h>
#include <csignal>
#include <cstddef>
#include <cstdint>

namespace arcal {

// Thread count chosen by setThreads; applied at each entry point because OpenMP's thread-count setting
// belongs to the calling thread.
extern int g_threads;
void applyThreads();

// Asynchronous signals are blocked on the calling thread while a kernel runs. A signal handled on a thread
// inside oneDNN's JIT kernels corrupts memory (seen with oneDNN 2.6.3's AVX2 and AVX-512 sgemm, not with its
// SSE4.1 one; likely a kernel that does not keep the stack pointer valid, so the handler's frame lands on live
// data): SIGUSR2 every millisecond during sgemm, or V8's profiler's SIGPROF (`node --cpu-prof`), aborted the
// process with a corrupted heap within seconds. libuv's handlers (SIGCHLD, SIGINT, SIGTERM) run the same way. A
// signal that arrives during a kernel stays pending and is handled when the kernel returns. OpenMP's worker
// threads are created inside kernels, so they start with these signals blocked and keep them so.
class SignalBlock {
 public:
  SignalBlock() {
    sigset_t all;
    sigfillset(&all);
    // faults raised by the kernel itself must still reach their handlers
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&all, s);
    pthread_sigmask(SIG_BLOCK, &all, &old_);
  }
  ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalBlock(const SignalBlock&) = delete;
  SignalBlock& operator=(const SignalBlock&) = delete;

 private:
  sigset_t old_;
};

// A kernel entry point with signals blocked for its whole run (see SignalBlock).
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  SignalBlock block;
  return F(info);
}

// Registers the kernel F under `name`, with signals blocked while it runs.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
void exportKernel(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, Guarded<F>));
}

inline float* f32(const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(v.Env(), "expected a Float32Array");
  return v.As<Napi::Float32Array>().Data();
}
inline size_t len(const Napi::Value& v) { return v.As<Napi::Float32Array>().ElementLength(); }
inline int64_t i64(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
inline int64_t at(const Napi::Value& arr, uint32_t i) { return arr.As<Napi::Array>().Get(i).As<Napi::Number>().Int64Value(); }

inline void need(bool ok, const Napi::Env& env, const char* what) {
  if (!ok) throw Napi::RangeError::New(env, what);
}

void initConv(Napi::Env env, Napi::Object exports);
void initPool(Napi::Env env, Napi::Object exports);
void initMatmul(Napi::Env env, Napi::Object exports);
void initElementwise(Napi::Env env, Napi::Object exports);
void initBatchNorm(Napi::Env env, Napi::Object exports);
void initOptimizer(Napi::Env env, Napi::Object exports);
void initSoftmaxXent(Napi::Env env, Napi::Object exports);
void initBoxGrad(Napi::Env env, Napi::Object exports);

}  // namespace arcal
