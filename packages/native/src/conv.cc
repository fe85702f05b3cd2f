// 2-D convolution on oneDNN: forward (optionally fused with bias and relu), gradient w.r.t. the input
// and gradient w.r.t. the filter. Activations stay NHWC (oneDNN reads them in place); filters arrive in
// tfjs's HWIO layout and are reordered into the layout each primitive prefers. Primitives and their
// weight buffers are cached per shape, per thread.
#include "common.h"
#include <dnnl.hpp>
#include <omp.h>
#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace arcal {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& eng() {
  static thread_local dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& strm() {
  static thread_local dnnl::stream s(eng());
  return s;
}

// Shape of one convolution: [N, H, W, C, KH, KW, O, OH, OW, sh, sw, pt, pb, pl, pr].
struct Geom {
  int64_t N, H, W, C, KH, KW, O, OH, OW, sh, sw, pt, pb, pl, pr;
  static Geom from(const Napi::Value& v) {
    auto a = v.As<Napi::Int32Array>();
    if (a.ElementLength() != 15) throw Napi::RangeError::New(v.Env(), "conv geometry needs 15 integers");
    const int32_t* p = a.Data();
    return {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14]};
  }
  std::string key(char kind, int flags) const {
    std::string k(reinterpret_cast<const char*>(this), sizeof(Geom));
    k.push_back(kind);
    k.push_back(static_cast<char>(flags));
    return k;
  }
  memory::desc src() const { return {{N, C, H, W}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{N, O, OH, OW}, dt::f32, tag::nhwc}; }
  memory::desc wUser() const { return {{O, C, KH, KW}, dt::f32, tag::hwio}; }
  memory::desc wAny() const { return {{O, C, KH, KW}, dt::f32, tag::any}; }
  memory::desc bias() const { return {{O}, dt::f32, tag::x}; }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
  size_t xSize() const { return size_t(N * H * W * C); }
  size_t ySize() const { return size_t(N * OH * OW * O); }
  size_t wSize() const { return size_t(KH * KW * C * O); }
};

dnnl::convolution_forward::primitive_desc fwdDesc(const Geom& g, bool bias, bool relu, dnnl::prop_kind pk) {
  dnnl::convolution_forward::desc d =
      bias ? dnnl::convolution_forward::desc(pk, dnnl::algorithm::convolution_direct, g.src(), g.wAny(), g.bias(),
                                             g.dst(), g.strides(), g.padL(), g.padR())
           : dnnl::convolution_forward::desc(pk, dnnl::algorithm::convolution_direct, g.src(), g.wAny(), g.dst(),
                                             g.strides(), g.padL(), g.padR());
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops po;
    po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
  }
  return dnnl::convolution_forward::primitive_desc(d, attr, eng());
}

// One cached primitive plus the weight buffer in the primitive's layout (with the reorder that fills or
// drains it when that layout differs from HWIO).
struct Entry {
  dnnl::primitive prim;
  std::string impl;
  memory::desc wDesc;
  bool reorderW = false;
  std::unique_ptr<memory> wMem;
  dnnl::reorder wReorder;
};

std::unordered_map<std::string, std::unique_ptr<Entry>>& cache() {
  static thread_local std::unordered_map<std::string, std::unique_ptr<Entry>> c;
  return c;
}

template <class PD>
void attachWeights(Entry& e, const Geom& g, const PD& pd, memory::desc wd, bool toUser) {
  e.impl = pd.impl_info_str();
  e.wDesc = wd;
  e.reorderW = wd != g.wUser();
  if (e.reorderW) {
    e.wMem = std::make_unique<memory>(wd, eng());
    e.wReorder = toUser ? dnnl::reorder(*e.wMem, memory(g.wUser(), eng(), DNNL_MEMORY_NONE))
                        : dnnl::reorder(memory(g.wUser(), eng(), DNNL_MEMORY_NONE), *e.wMem);
  }
}

Entry& fwdEntry(const Geom& g, bool bias, bool relu) {
  auto key = g.key('f', (bias ? 1 : 0) | (relu ? 2 : 0));
  auto& c = cache();
  auto it = c.find(key);
  if (it != c.end()) return *it->second;
  auto pd = fwdDesc(g, bias, relu, dnnl::prop_kind::forward_inference);
  auto e = std::make_unique<Entry>();
  e->prim = dnnl::convolution_forward(pd);
  attachWeights(*e, g, pd, pd.weights_desc(), false);
  return *(c[key] = std::move(e));
}

Entry& bwdDataEntry(const Geom& g) {
  auto key = g.key('d', 0);
  auto& c = cache();
  auto it = c.find(key);
  if (it != c.end()) return *it->second;
  auto hint = fwdDesc(g, false, false, dnnl::prop_kind::forward_training);
  dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, g.src(), g.wAny(), g.dst(),
                                          g.strides(), g.padL(), g.padR());
  dnnl::convolution_backward_data::primitive_desc pd(d, eng(), hint);
  auto e = std::make_unique<Entry>();
  e->prim = dnnl::convolution_backward_data(pd);
  attachWeights(*e, g, pd, pd.weights_desc(), false);
  return *(c[key] = std::move(e));
}

// `alone`: the primitive is built and run by one thread inside arcal's own parallel region (see
// Conv2dBackpropFilter), with that thread's OpenMP count set to 1 first, so oneDNN plans it for one thread. It has
// its own cache key: a primitive planned for several threads must never run where oneDNN's parallel() is nested
// (it then runs thread 0's share only).
Entry& bwdFilterEntry(const Geom& g, bool alone = false) {
  auto key = g.key('w', alone ? 1 : 0);
  auto& c = cache();
  auto it = c.find(key);
  if (it != c.end()) return *it->second;
  auto hint = fwdDesc(g, false, false, dnnl::prop_kind::forward_training);
  dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, g.src(), g.wAny(), g.dst(),
                                             g.strides(), g.padL(), g.padR());
  dnnl::convolution_backward_weights::primitive_desc pd(d, eng(), hint);
  // oneDNN 2.6's jit_1x1 weight gradient of a strided 1×1 convolution over an NHWC source with fewer channels
  // than one SIMD block (3, 4 or 5 on AVX2, padded to 8) returns sums wrong by up to the gradient's own size,
  // and differently from call to call on the same data (one thread too); 8, 12 and 16 channels come out right.
  // Counts that are not a multiple of AVX-512's block of 16 take the next implementation (or, when none is
  // left, the caller's reference kernel).
  if (g.KH == 1 && g.KW == 1 && (g.sh > 1 || g.sw > 1) && g.C % 16 != 0) {
    while (std::string(pd.impl_info_str()).find("1x1") != std::string::npos)
      if (!pd.next_impl()) throw dnnl::error(dnnl_unimplemented, "no usable weight-gradient implementation");
  }
  auto e = std::make_unique<Entry>();
  e->prim = dnnl::convolution_backward_weights(pd);
  attachWeights(*e, g, pd, pd.diff_weights_desc(), true);
  return *(c[key] = std::move(e));
}

// Runs `body`; a oneDNN refusal (unsupported geometry) returns false so the caller can use its
// reference kernel, while argument errors propagate as exceptions.
template <class F>
Napi::Value guarded(const Napi::CallbackInfo& info, F body) {
  applyThreads();
  try {
    body();
  } catch (const dnnl::error&) {
    return Napi::Boolean::New(info.Env(), false);
  }
  return Napi::Boolean::New(info.Env(), true);
}

// conv2d(x, w, bias | null, y, geom, relu): y = act(conv(x, w) + bias)
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  Geom g = Geom::from(info[4]);
  float* x = f32(info[0]);
  float* w = f32(info[1]);
  bool hasBias = !info[2].IsNull() && !info[2].IsUndefined();
  float* b = hasBias ? f32(info[2]) : nullptr;
  float* y = f32(info[3]);
  bool relu = info[5].ToBoolean();
  auto env = info.Env();
  need(len(info[0]) == g.xSize() && len(info[1]) == g.wSize() && len(info[3]) == g.ySize(), env, "conv2d: sizes");
  need(!hasBias || len(info[2]) == size_t(g.O), env, "conv2d: bias size");
  return guarded(info, [&] {
    Entry& e = fwdEntry(g, hasBias, relu);
    auto& s = strm();
    memory wU(g.wUser(), eng(), w);
    if (e.reorderW) e.wReorder.execute(s, wU, *e.wMem);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(g.src(), eng(), x)},
                                         {DNNL_ARG_WEIGHTS, e.reorderW ? *e.wMem : wU},
                                         {DNNL_ARG_DST, memory(g.dst(), eng(), y)}};
    if (hasBias) args.emplace(DNNL_ARG_BIAS, memory(g.bias(), eng(), b));
    e.prim.execute(s, args);
    s.wait();
  });
}

// For a stride-1 convolution the input gradient is itself a stride-1 convolution: of dy with the filter flipped
// in space and with its channel axes swapped, padded by K − 1 − p on each side. oneDNN 2.6 runs that forward
// convolution on its brgemm kernels, 1.2–2× faster than its backward-data kernel on NHWC (measured on the
// residual nets' shapes, AVX-512). The geometry of that convolution, or false when a pad would be negative.
bool transposedGeom(const Geom& g, Geom& t) {
  if (g.sh != 1 || g.sw != 1) return false;
  t = {g.N, g.OH, g.OW, g.O, g.KH, g.KW, g.C, g.H, g.W, 1, 1,
       g.KH - 1 - g.pt, g.KH - 1 - g.pb, g.KW - 1 - g.pl, g.KW - 1 - g.pr};
  return t.pt >= 0 && t.pb >= 0 && t.pl >= 0 && t.pr >= 0 && t.OH + t.pt + t.pb - t.KH + 1 == t.H &&
         t.OW + t.pl + t.pr - t.KW + 1 == t.W;
}

// conv2dBackpropInput(dy, w, dx, geom): dx = ∂(Σ dy·conv(x, w))/∂x
Napi::Value Conv2dBackpropInput(const Napi::CallbackInfo& info) {
  Geom g = Geom::from(info[3]);
  float* dy = f32(info[0]);
  float* w = f32(info[1]);
  float* dx = f32(info[2]);
  need(len(info[0]) == g.ySize() && len(info[1]) == g.wSize() && len(info[2]) == g.xSize(), info.Env(),
       "conv2dBackpropInput: sizes");
  Geom t;
  if (transposedGeom(g, t)) {
    applyThreads();
    bool ok = true;
    try {
      Entry& e = fwdEntry(t, false, false);
      // wt[kh][kw][o][c] = w[KH−1−kh][KW−1−kw][c][o] (HWIO of the transposed convolution)
      static thread_local std::vector<float> wt;
      wt.resize(g.wSize());
      const int64_t KH = g.KH, KW = g.KW, C = g.C, O = g.O;
      float* wtp = wt.data();  // the calling thread's buffer (a thread_local named inside the region is per thread)
#pragma omp parallel for schedule(static) if (g.wSize() >= 65536)
      for (int64_t k = 0; k < KH * KW; ++k) {
        const int64_t kh = k / KW, kw = k % KW;
        const float* src = w + ((KH - 1 - kh) * KW + (KW - 1 - kw)) * C * O;
        float* dst = wtp + k * O * C;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t o = 0; o < O; ++o) dst[o * C + c] = src[c * O + o];
      }
      auto& s = strm();
      memory wU(t.wUser(), eng(), wt.data());
      if (e.reorderW) e.wReorder.execute(s, wU, *e.wMem);
      e.prim.execute(s, {{DNNL_ARG_SRC, memory(t.src(), eng(), dy)},
                         {DNNL_ARG_WEIGHTS, e.reorderW ? *e.wMem : wU},
                         {DNNL_ARG_DST, memory(t.dst(), eng(), dx)}});
      s.wait();
    } catch (const dnnl::error&) {
      ok = false;  // oneDNN declined the forward geometry: its backward-data primitive below
    }
    if (ok) return Napi::Boolean::New(info.Env(), true);
  }
  return guarded(info, [&] {
    Entry& e = bwdDataEntry(g);
    auto& s = strm();
    memory wU(g.wUser(), eng(), w);
    if (e.reorderW) e.wReorder.execute(s, wU, *e.wMem);
    e.prim.execute(s, {{DNNL_ARG_DIFF_DST, memory(g.dst(), eng(), dy)},
                       {DNNL_ARG_WEIGHTS, e.reorderW ? *e.wMem : wU},
                       {DNNL_ARG_DIFF_SRC, memory(g.src(), eng(), dx)}});
    s.wait();
  });
}

// One thread's filter gradient over its share of the batch, into `out` (HWIO).
void filterGradRows(const Geom& g, const float* x, const float* dy, float* out, bool alone) {
  Entry& e = bwdFilterEntry(g, alone);
  auto& s = strm();
  memory wU(g.wUser(), eng(), out);
  e.prim.execute(s, {{DNNL_ARG_SRC, memory(g.src(), eng(), const_cast<float*>(x))},
                     {DNNL_ARG_DIFF_DST, memory(g.dst(), eng(), const_cast<float*>(dy))},
                     {DNNL_ARG_DIFF_WEIGHTS, e.reorderW ? *e.wMem : wU}});
  if (e.reorderW) e.wReorder.execute(s, *e.wMem, wU);
  s.wait();
}

// conv2dBackpropFilter(x, dy, dw, geom): dw = ∂(Σ dy·conv(x, w))/∂w, written in HWIO.
//
// With several threads the batch is split into one contiguous share per thread; each thread runs a one-thread
// oneDNN weight gradient over its share into its own buffer, and the buffers are added in thread order (so the
// result depends on the thread count only, not on timing). oneDNN's own multi-threaded weight gradient took about
// 4 ms or more per call on a loaded machine (load 3 on 2 cores) whatever the size, against 0.15-2.4 ms with one
// thread; the likely reason is that it synchronises its threads inside the kernel with a barrier that spins, so a
// thread spinning there while the other waits for a core costs a scheduler time slice. Here the only
// synchronisation is the end of the OpenMP region, where a finished thread sleeps (passive wait).
Napi::Value Conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  Geom g = Geom::from(info[3]);
  float* x = f32(info[0]);
  float* dy = f32(info[1]);
  float* dw = f32(info[2]);
  need(len(info[0]) == g.xSize() && len(info[1]) == g.ySize() && len(info[2]) == g.wSize(), info.Env(),
       "conv2dBackpropFilter: sizes");
  applyThreads();
  const int nt = int(std::min<int64_t>(omp_get_max_threads(), g.N));
  if (nt <= 1) return guarded(info, [&] { filterGradRows(g, x, dy, dw, false); });
  const size_t ws = g.wSize();
  static thread_local std::vector<float> parts;
  parts.resize(ws * size_t(nt - 1));
  float* partp = parts.data();  // the calling thread's buffer: thread t > 0 writes partp + (t − 1)·ws
  std::vector<char> ok(size_t(nt), 1);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    Geom gt = g;
    const int64_t n0 = g.N * t / nt, n1 = g.N * (t + 1) / nt;
    gt.N = n1 - n0;
    try {
      filterGradRows(gt, x + n0 * g.H * g.W * g.C, dy + n0 * g.OH * g.OW * g.O,
                     t == 0 ? dw : partp + size_t(t - 1) * ws, true);
    } catch (const dnnl::error&) {
      ok[size_t(t)] = 0;
    }
    omp_set_num_threads(before);
  }
  for (int t = 0; t < nt; ++t)
    if (!ok[size_t(t)]) return guarded(info, [&] { filterGradRows(g, x, dy, dw, false); });
  for (int t = 1; t < nt; ++t) {
    const float* p = partp + size_t(t - 1) * ws;
    for (size_t i = 0; i < ws; ++i) dw[i] += p[i];
  }
  return Napi::Boolean::New(info.Env(), true);
}

// convImpl(geom, kind): oneDNN's implementation name for a geometry ('f', 'd' or 'w'), for diagnostics.
Napi::Value ConvImpl(const Napi::CallbackInfo& info) {
  Geom g = Geom::from(info[0]);
  std::string kind = info[1].As<Napi::String>();
  try {
    Entry& e = kind == "d" ? bwdDataEntry(g) : kind == "w" ? bwdFilterEntry(g) : fwdEntry(g, false, false);
    return Napi::String::New(info.Env(), e.impl);
  } catch (const dnnl::error& err) {
    return Napi::String::New(info.Env(), std::string("unsupported: ") + err.what());
  }
}

}  // namespace

void initConv(Napi::Env env, Napi::Object exports) {
  exportKernel<Conv2d>(env, exports, "conv2d");
  exportKernel<Conv2dBackpropInput>(env, exports, "conv2dBackpropInput");
  exportKernel<Conv2dBackpropFilter>(env, exports, "conv2dBackpropFilter");
  exportKernel<ConvImpl>(env, exports, "convImpl");
}

}  // namespace arcal
