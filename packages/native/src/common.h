// Shared helpers for the arcal native kernels: argument access and the OpenMP thread count.
// Every kernel works on caller-owned float32 memory (tfjs's Float32Array values) and writes every
// element of its output, so outputs may come from a pool of recycled buffers.
#pragma once
#include <napi.h>
#include <cstddef>
#include <cstdint>

namespace arcal {

// Thread count chosen by setThreads; applied at each entry point because OpenMP's thread-count setting
// belongs to the calling thread.
extern int g_threads;
void applyThreads();

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

}  // namespace arcal
