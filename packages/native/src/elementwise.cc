// Elementwise kernels on OpenMP: binary arithmetic where one side may repeat with a period (a scalar or a
// trailing block such as a bias vector), unary activations, and sums over a leading or trailing block of
// axes (accumulated in double, as tfjs's reference kernel does).
#include "common.h"
#include <omp.h>
#include <cmath>
#include <vector>

namespace arcal {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

template <class Op>
void binaryLoop(const float* a, int64_t na, const float* b, int64_t nb, float* o, int64_t n, Op op) {
  if (na == n && nb == n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], b[i]);
  } else if (na == n && nb == 1) {
    const float s = b[0];
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], s);
  } else if (nb == n && na == 1) {
    const float s = a[0];
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) o[i] = op(s, b[i]);
  } else if (na == n) {
    const int64_t rows = n / nb;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const float* ar = a + r * nb;
      float* orow = o + r * nb;
#pragma omp simd
      for (int64_t j = 0; j < nb; ++j) orow[j] = op(ar[j], b[j]);
    }
  } else {
    const int64_t rows = n / na;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const float* br = b + r * na;
      float* orow = o + r * na;
#pragma omp simd
      for (int64_t j = 0; j < na; ++j) orow[j] = op(a[j], br[j]);
    }
  }
}

// binary(op, a, b, out): out[i] = a[i mod |a|] op b[i mod |b|], where each of |a|, |b| is |out| or divides it.
Napi::Value Binary(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const int op = static_cast<int>(i64(info[0]));
  const float* a = f32(info[1]);
  const float* b = f32(info[2]);
  float* o = f32(info[3]);
  const int64_t na = len(info[1]), nb = len(info[2]), n = len(info[3]);
  need(na > 0 && nb > 0 && (na == n || nb == n) && n % na == 0 && n % nb == 0, env, "binary: sizes");
  applyThreads();
  switch (op) {
    case kAdd: binaryLoop(a, na, b, nb, o, n, [](float x, float y) { return x + y; }); break;
    case kSub: binaryLoop(a, na, b, nb, o, n, [](float x, float y) { return x - y; }); break;
    case kMul: binaryLoop(a, na, b, nb, o, n, [](float x, float y) { return x * y; }); break;
    case kDiv: binaryLoop(a, na, b, nb, o, n, [](float x, float y) { return x / y; }); break;
    default: throw Napi::RangeError::New(env, "binary: unknown op");
  }
  return env.Undefined();
}

template <class Op>
void binaryMidLoop(const float* full, const float* small, bool smallFirst, float* o, int64_t outer, int64_t mid,
                   int64_t inner, Op op) {
  const int64_t rows = outer * mid;
#pragma omp parallel for schedule(static) if (rows * inner >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict fr = full + r * inner;
    const float* __restrict sr = small + (r / mid) * inner;
    float* __restrict orow = o + r * inner;
    if (inner == 1) {
      orow[0] = smallFirst ? op(sr[0], fr[0]) : op(fr[0], sr[0]);
    } else if (smallFirst) {
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) orow[j] = op(sr[j], fr[j]);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) orow[j] = op(fr[j], sr[j]);
    }
  }
}

// binaryMid(op, a, b, out, outer, mid, inner): one operand has the output's size (as [outer, mid, inner]), the
// other is [outer, 1, inner] broadcast along the middle (e.g. [N,1,1,C] against [N,H,W,C], or one value per
// sample [N,1,1,1] against [N,H,W,C] with inner = 1).
Napi::Value BinaryMid(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const int op = static_cast<int>(i64(info[0]));
  const float* a = f32(info[1]);
  const float* b = f32(info[2]);
  float* o = f32(info[3]);
  const int64_t outer = i64(info[4]), mid = i64(info[5]), inner = i64(info[6]);
  const int64_t n = outer * mid * inner, na = len(info[1]), nb = len(info[2]);
  need(outer > 0 && mid > 0 && inner > 0 && len(info[3]) == size_t(n), env, "binaryMid: sizes");
  const bool aFull = na == n && nb == outer * inner;
  need(aFull || (nb == n && na == outer * inner), env, "binaryMid: sizes");
  const float* full = aFull ? a : b;
  const float* small = aFull ? b : a;
  applyThreads();
  switch (op) {
    case kAdd: binaryMidLoop(full, small, !aFull, o, outer, mid, inner, [](float x, float y) { return x + y; }); break;
    case kSub: binaryMidLoop(full, small, !aFull, o, outer, mid, inner, [](float x, float y) { return x - y; }); break;
    case kMul: binaryMidLoop(full, small, !aFull, o, outer, mid, inner, [](float x, float y) { return x * y; }); break;
    case kDiv: binaryMidLoop(full, small, !aFull, o, outer, mid, inner, [](float x, float y) { return x / y; }); break;
    default: throw Napi::RangeError::New(env, "binaryMid: unknown op");
  }
  return env.Undefined();
}

enum UnaryOp { kRelu = 0, kStep = 1, kExp = 2, kLog = 3, kNeg = 4, kSqrt = 5, kSquare = 6 };

// unary(op, x, out, alpha)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const int op = static_cast<int>(i64(info[0]));
  const float* x = f32(info[1]);
  float* o = f32(info[2]);
  const float alpha = info.Length() > 3 ? info[3].As<Napi::Number>().FloatValue() : 0.f;
  const int64_t n = len(info[1]);
  need(len(info[2]) == size_t(n), env, "unary: sizes");
  applyThreads();
  switch (op) {
    case kRelu:  // NaN passes through, as Math.max(0, NaN) does
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) o[i] = x[i] > 0.f ? x[i] : (x[i] != x[i] ? x[i] : 0.f);
      break;
    case kStep:
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) o[i] = x[i] > 0.f ? 1.f : (x[i] != x[i] ? x[i] : alpha);
      break;
    case kExp:
#pragma omp parallel for schedule(static) if (n >= kParallelMin / 4)
      for (int64_t i = 0; i < n; ++i) o[i] = std::exp(x[i]);
      break;
    case kLog:
#pragma omp parallel for schedule(static) if (n >= kParallelMin / 4)
      for (int64_t i = 0; i < n; ++i) o[i] = std::log(x[i]);
      break;
    case kNeg:
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) o[i] = -x[i];
      break;
    case kSqrt:
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) o[i] = std::sqrt(x[i]);
      break;
    case kSquare:
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) o[i] = x[i] * x[i];
      break;
    default: throw Napi::RangeError::New(env, "unary: unknown op");
  }
  return env.Undefined();
}

// sumInner(x, out, rows, cols): out[r] = Σ_c x[r·cols + c]
Napi::Value SumInner(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* o = f32(info[1]);
  const int64_t rows = i64(info[2]), cols = i64(info[3]);
  need(len(info[0]) == size_t(rows * cols) && len(info[1]) == size_t(rows), info.Env(), "sumInner: sizes");
  applyThreads();
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += xr[c];
    o[r] = float(s);
  }
  return info.Env().Undefined();
}

// acc[c] += x[c] for one row.
inline void addRow(const float* __restrict x, double* __restrict acc, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) acc[c] += x[c];
}

// out[c] = Σ_r row_r[c] in double: rowFn(r, acc) adds row r into a per-thread accumulator of `cols` doubles,
// and the threads' accumulators are added in thread order (so the result does not depend on timing).
template <class RowFn>
void columnSums(int64_t rows, int64_t cols, float* out, RowFn rowFn) {
  const int nt = rows * cols >= kParallelMin ? omp_get_max_threads() : 1;
  std::vector<double> part(size_t(nt) * cols, 0.0);
#pragma omp parallel num_threads(nt)
  {
    double* acc = part.data() + size_t(omp_get_thread_num()) * cols;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) rowFn(r, acc);
  }
  for (int64_t c = 0; c < cols; ++c) {
    double s = 0;
    for (int t = 0; t < nt; ++t) s += part[size_t(t) * cols + c];
    out[c] = float(s);
  }
}

// sumOuter(x, out, rows, cols): out[c] = Σ_r x[r·cols + c]  (e.g. a bias gradient over N·H·W rows)
Napi::Value SumOuter(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* o = f32(info[1]);
  const int64_t rows = i64(info[2]), cols = i64(info[3]);
  need(len(info[0]) == size_t(rows * cols) && len(info[1]) == size_t(cols), info.Env(), "sumOuter: sizes");
  applyThreads();
  columnSums(rows, cols, o, [&](int64_t r, double* acc) { addRow(x + r * cols, acc, cols); });
  return info.Env().Undefined();
}

// One row of the relu backward: o = g · step(y) (tfjs's relu gradient; a multiply by a 0/1 mask rather than a
// select of g, so it vectorises) and acc += o.
inline void maskRow(const float* __restrict g, const float* __restrict y, float* __restrict o,
                    double* __restrict acc, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    const float m = y[c] > 0.f ? 1.f : 0.f;
    const float v = g[c] * m;
    o[c] = v;
    acc[c] += v;
  }
}

// biasReluGrad(dy, y, out, db): the backward of y = relu(z + bias) (or of z + bias when y is null) in one pass.
// With y: out[i] = dy[i] · step(y[i]) (tfjs's relu gradient); without: out is unused (null).
// db[c] = Σ_r g[r·C + c] over the rows of the masked (or plain) gradient g, accumulated in double.
Napi::Value BiasReluGrad(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* dy = f32(info[0]);
  const bool relu = !info[1].IsNull();
  const float* y = relu ? f32(info[1]) : nullptr;
  float* o = relu ? f32(info[2]) : nullptr;
  float* db = f32(info[3]);
  const int64_t n = len(info[0]), cols = len(info[3]);
  need(cols > 0 && n % cols == 0, env, "biasReluGrad: sizes");
  need(!relu || (len(info[1]) == size_t(n) && len(info[2]) == size_t(n)), env, "biasReluGrad: sizes");
  const int64_t rows = n / cols;
  applyThreads();
  if (relu)
    columnSums(rows, cols, db, [&](int64_t r, double* acc) {
      maskRow(dy + r * cols, y + r * cols, o + r * cols, acc, cols);
    });
  else
    columnSums(rows, cols, db, [&](int64_t r, double* acc) { addRow(dy + r * cols, acc, cols); });
  return env.Undefined();
}

// clip(x, out, lo, hi): out[i] = x > hi ? hi : (x < lo ? lo : x), comparing in double against the bounds as given
// (tfjs's cpu kernel compares the float32 value with the JS numbers, then stores the bound as float32); NaN passes.
Napi::Value Clip(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const float* __restrict x = f32(info[0]);
  float* __restrict o = f32(info[1]);
  const double lo = info[2].As<Napi::Number>().DoubleValue();
  const double hi = info[3].As<Napi::Number>().DoubleValue();
  const int64_t n = len(info[0]);
  need(len(info[1]) == size_t(n), env, "clip: sizes");
  const float loF = float(lo), hiF = float(hi);
  applyThreads();
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    o[i] = v > hi ? hiF : (v < lo ? loF : x[i]);
  }
  return env.Undefined();
}

}  // namespace

void initElementwise(Napi::Env env, Napi::Object exports) {
  exportKernel<Clip>(env, exports, "clip");
  exportKernel<Binary>(env, exports, "binary");
  exportKernel<BinaryMid>(env, exports, "binaryMid");
  exportKernel<Unary>(env, exports, "unary");
  exportKernel<SumInner>(env, exports, "sumInner");
  exportKernel<SumOuter>(env, exports, "sumOuter");
  exportKernel<BiasReluGrad>(env, exports, "biasReluGrad");
}

}  // namespace arcal
