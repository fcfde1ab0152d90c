// The N-API surface of the addon (node-addon-api). The only file that knows about JavaScript:
// it unpacks arguments, checks that every operand's extent lies inside its typed array (a
// wrong layout from the caller becomes a RangeError, never a stray write) and calls the plain
// C++ kernels. Kernels run synchronously on the calling thread plus the addon's thread pool,
// reading and writing the tensors' typed arrays in place (zero copy).
//
// Calling convention (ABI kDlAbi, mirrored by src/backend/native/addon.ts): buffers are passed
// as typed arrays; every size, offset and stride as a number in one Float64Array `P` (the JS
// side reuses a single one, so a call allocates nothing). Offsets and strides are in elements.
//
// The CUDA backend (issue 6) adds its own files (src/cuda/...) and registers its functions
// in Init below, under a `cuda` object, when compiled with DL_WITH_CUDA.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "blas.h"
#include "conv.h"
#include "cpu_features.h"
#include "elementwise.h"
#include "gemm.h"
#include "loss.h"
#include "norm.h"
#include "optim.h"
#include "pool.h"
#include "reduce.h"
#include "thread_pool.h"

#ifndef DL_ADDON_VERSION
#define DL_ADDON_VERSION "dev"
#endif
#ifndef DL_BUILD_FLAGS
#define DL_BUILD_FLAGS ""
#endif
#ifndef DL_BUILD_DATE
#define DL_BUILD_DATE __DATE__ " " __TIME__
#endif

#ifdef DL_WITH_CUDA
/** Creates exports.cuda (src/cuda/binding_cuda.cc). */
void dl_cuda_init(Napi::Env env, Napi::Object exports);
#endif

namespace {

using dl::i64;

/** Bumped whenever a function's arguments or op codes change; the loader refuses a binary of another ABI. */
constexpr int kDlAbi = 7;

struct Arr {
  void* data;
  i64 len;
  napi_typedarray_type type;
};

[[noreturn]] void throw_type(const Napi::Env& env, const std::string& msg) {
  throw Napi::TypeError::New(env, "dl_native: " + msg);
}
[[noreturn]] void throw_range(const Napi::Env& env, const std::string& msg) {
  throw Napi::RangeError::New(env, "dl_native: " + msg);
}

Arr typed(const Napi::Env& env, const Napi::Value& v, const char* what) {
  napi_typedarray_type t;
  size_t len = 0;
  void* data = nullptr;
  napi_value ab;
  size_t off = 0;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off) != napi_ok) {
    // Clear the pending N-API error (a non-typed-array argument) and throw ours.
    const napi_extended_error_info* info;
    napi_get_last_error_info(env, &info);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
    }
    throw_type(env, std::string(what) + " must be a typed array");
  }
  return {data, static_cast<i64>(len), t};
}

struct Params {
  const double* p;
  i64 n;
  i64 i(int k) const { return static_cast<i64>(p[k]); }
  double d(int k) const { return p[k]; }
};

Params params(const Napi::Env& env, const Napi::Value& v, i64 need) {
  Arr a = typed(env, v, "P");
  if (a.type != napi_float64_array) throw_type(env, "P must be a Float64Array");
  if (a.len < need) throw_range(env, "P holds " + std::to_string(a.len) + " numbers, expected " + std::to_string(need));
  return {static_cast<const double*>(a.data), a.len};
}

/** The element at offset `off` of a typed array, as T (the caller checked the array's type). */
template <typename T>
T* at(const Arr& a, i64 off) {
  return static_cast<T*>(a.data) + off;
}

const char* type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint8_array: return "Uint8Array";
    default: return "another typed array";
  }
}

/** Throws unless every element of the strided view lies inside the array. */
void check_extent(const Napi::Env& env, const Arr& a, i64 off, int nd, const i64* shape, const i64* strides,
                  const char* what) {
  i64 lo = off, hi = off;
  for (int d = 0; d < nd; d++) {
    if (shape[d] < 0) throw_range(env, std::string(what) + ": negative size");
    if (shape[d] == 0) return;  // empty: nothing is touched
    const i64 span = (shape[d] - 1) * strides[d];
    if (span > 0) hi += span;
    else lo += span;
  }
  if (lo < 0 || hi >= a.len) {
    throw_range(env, std::string(what) + " reaches elements [" + std::to_string(lo) + ", " + std::to_string(hi) +
                         "] of a buffer of " + std::to_string(a.len));
  }
}

void check_extent4(const Napi::Env& env, const Arr& a, i64 off, i64 s0, i64 s1, i64 s2, i64 s3, i64 n0, i64 n1,
                   i64 n2, i64 n3, const char* what) {
  const i64 shape[4] = {n0, n1, n2, n3};
  const i64 strides[4] = {s0, s1, s2, s3};
  check_extent(env, a, off, 4, shape, strides, what);
}

void same_float(const Napi::Env& env, std::initializer_list<Arr> xs, const char* op) {
  napi_typedarray_type t = xs.begin()->type;
  if (t != napi_float32_array && t != napi_float64_array)
    throw_type(env, std::string(op) + ": expected Float32Array or Float64Array, got " + type_name(t));
  for (const Arr& a : xs)
    if (a.type != t) throw_type(env, std::string(op) + ": operands of different types");
}

// ------------------------------------------------------------------ info

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("abi", kDlAbi);
  o.Set("version", DL_ADDON_VERSION);
  Napi::Object build = Napi::Object::New(env);
#if defined(__clang__)
  build.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  build.Set("compiler", std::string("g++ ") + __VERSION__);
#else
  build.Set("compiler", "unknown");
#endif
  build.Set("flags", DL_BUILD_FLAGS);
  build.Set("date", DL_BUILD_DATE);
  build.Set("napiVersion", NAPI_VERSION);
#ifdef DL_WITH_CUDA
  build.Set("cuda", true);
#else
  build.Set("cuda", false);
#endif
  o.Set("build", build);
  const dl::CpuFeatures& f = dl::cpu_features();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("vendor", f.vendor);
  cpu.Set("brand", f.brand);
  cpu.Set("sse2", f.sse2);
  cpu.Set("avx", f.avx);
  cpu.Set("fma", f.fma);
  cpu.Set("avx2", f.avx2);
  cpu.Set("avx512f", f.avx512f);
  cpu.Set("avx512bw", f.avx512bw);
  cpu.Set("avx512vl", f.avx512vl);
  o.Set("cpu", cpu);
  o.Set("gemmKernel", dl::gemm_kernel_name());
  o.Set("convKernel", dl::kernels_use_avx512() ? "avx512" : dl::gemm_kernel_name());
  o.Set("threads", dl::ThreadPool::configured_threads());
  o.Set("threadsSource", dl::ThreadPool::threads_source());
  return o;
}

// Loads the system BLAS on first use (dlopen; OpenBLAS starts its threads then), so only
// doctor() and DL_BLAS=openblas pay for it.
Napi::Value ProbeBlas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dl::SystemBlas& b = dl::system_blas();
  Napi::Object blas = Napi::Object::New(env);
  blas.Set("found", b.loaded());
  blas.Set("path", b.loaded() ? Napi::Value(Napi::String::New(env, b.path)) : env.Null());
  blas.Set("error", b.loaded() ? env.Null() : Napi::Value(Napi::String::New(env, b.error)));
  blas.Set("inUse", dl::use_system_blas());
  return blas;
}

Napi::Value SetGemmKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw_type(env, "setGemmKernel: expected 'auto', 'portable' or 'avx2'");
  return Napi::Boolean::New(env, dl::set_gemm_kernel(info[0].As<Napi::String>().Utf8Value().c_str()));
}

// ------------------------------------------------------------------ gemm

// P: batch, M, N, K, aOff, sA, rsA, csA, bOff, sB, rsB, csB, cOff, sC, rsC, csC, alpha, beta
template <typename T>
void gemm_typed(const Arr& a, const Arr& b, const Arr& c, const Params& p) {
  const i64 batch = p.i(0), M = p.i(1), N = p.i(2), K = p.i(3);
  const T* A = static_cast<const T*>(a.data) + p.i(4);
  const T* B = static_cast<const T*>(b.data) + p.i(8);
  T* C = static_cast<T*>(c.data) + p.i(12);
  const T alpha = static_cast<T>(p.d(16)), beta = static_cast<T>(p.d(17));
  if (dl::use_system_blas() && batch == 1 && M > 0 && N > 0 && K > 0 && p.i(15) == 1 && p.i(14) >= N &&
      (p.i(7) == 1 || p.i(6) == 1) && (p.i(11) == 1 || p.i(10) == 1) && M < (1LL << 31) && N < (1LL << 31) &&
      K < (1LL << 31)) {
    const dl::SystemBlas& s = dl::system_blas();
    const bool ta = p.i(7) != 1, tb = p.i(11) != 1;
    const i64 lda = ta ? p.i(7) : p.i(6), ldb = tb ? p.i(11) : p.i(10);
    if (lda >= (ta ? M : K) && ldb >= (tb ? K : N) && lda < (1LL << 31) && ldb < (1LL << 31)) {
      if constexpr (sizeof(T) == 4)
        s.sgemm(101, ta ? 112 : 111, tb ? 112 : 111, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C,
                (int)p.i(14));
      else
        s.dgemm(101, ta ? 112 : 111, tb ? 112 : 111, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C,
                (int)p.i(14));
      return;
    }
  }
  dl::gemm_batched<T>(batch, M, N, K, alpha, A, p.i(5), p.i(6), p.i(7), B, p.i(9), p.i(10), p.i(11), beta, C, p.i(13),
                      p.i(14), p.i(15));
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr a = typed(env, info[0], "a"), b = typed(env, info[1], "b"), c = typed(env, info[2], "c");
  Params p = params(env, info[3], 18);
  same_float(env, {a, b, c}, "gemm");
  const i64 batch = p.i(0), M = p.i(1), N = p.i(2), K = p.i(3);
  {
    const i64 sh[3] = {batch, M, K}, st[3] = {p.i(5), p.i(6), p.i(7)};
    check_extent(env, a, p.i(4), 3, sh, st, "gemm: a");
  }
  {
    const i64 sh[3] = {batch, K, N}, st[3] = {p.i(9), p.i(10), p.i(11)};
    check_extent(env, b, p.i(8), 3, sh, st, "gemm: b");
  }
  {
    const i64 sh[3] = {batch, M, N}, st[3] = {p.i(13), p.i(14), p.i(15)};
    check_extent(env, c, p.i(12), 3, sh, st, "gemm: c");
  }
  if (a.type == napi_float32_array) gemm_typed<float>(a, b, c, p);
  else gemm_typed<double>(a, b, c, p);
  return env.Undefined();
}

// ------------------------------------------------------------------ conv

// P: N, C, H, W, O, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, G,
//    aOff, as0..as3, bOff, bs0..bs3, biasOff, biasStride, outOff
constexpr int kConvP = 29;

dl::ConvGeom conv_geom(const Napi::Env& env, const Params& p) {
  dl::ConvGeom g{p.i(0), p.i(1), p.i(2), p.i(3), p.i(4), p.i(5), p.i(6), p.i(7), p.i(8),
                 p.i(9), p.i(10), p.i(11), p.i(12), p.i(13), p.i(14), p.i(15)};
  const bool ok = g.N >= 0 && g.C >= 0 && g.H >= 0 && g.W >= 0 && g.O >= 0 && g.kh >= 1 && g.kw >= 1 && g.oh >= 0 &&
                  g.ow >= 0 && g.sh >= 1 && g.sw >= 1 && g.ph >= 0 && g.pw >= 0 && g.dh >= 1 && g.dw >= 1 && g.G >= 1 &&
                  g.C % g.G == 0 && g.O % g.G == 0;
  if (!ok) throw_range(env, "conv2d: invalid geometry");
  // Every window must lie inside the (padded) input: the packers read without bounds tests.
  if ((g.oh > 0 && (g.oh - 1) * g.sh + (g.kh - 1) * g.dh > g.H + 2 * g.ph - 1) ||
      (g.ow > 0 && (g.ow - 1) * g.sw + (g.kw - 1) * g.dw > g.W + 2 * g.pw - 1))
    throw_range(env, "conv2d: the output size does not fit the input, kernel, stride, padding and dilation");
  return g;
}

dl::Strides4 s4(const Params& p, int k) { return {p.i(k), p.i(k + 1), p.i(k + 2), p.i(k + 3)}; }

Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr x = typed(env, info[0], "x"), w = typed(env, info[1], "w"), y = typed(env, info[3], "y");
  const bool hasBias = !info[2].IsUndefined() && !info[2].IsNull();
  Arr bias = hasBias ? typed(env, info[2], "bias") : Arr{nullptr, 0, x.type};
  Params p = params(env, info[4], kConvP);
  same_float(env, {x, w, y, bias}, "conv2d");
  const dl::ConvGeom g = conv_geom(env, p);
  const i64 Cg = g.C / g.G;
  check_extent4(env, x, p.i(16), p.i(17), p.i(18), p.i(19), p.i(20), g.N, g.C, g.H, g.W, "conv2d: x");
  check_extent4(env, w, p.i(21), p.i(22), p.i(23), p.i(24), p.i(25), g.O, Cg, g.kh, g.kw, "conv2d: w");
  if (hasBias) {
    const i64 sh[1] = {g.O}, st[1] = {p.i(27)};
    check_extent(env, bias, p.i(26), 1, sh, st, "conv2d: bias");
  }
  check_extent4(env, y, p.i(28), g.O * g.oh * g.ow, g.oh * g.ow, g.ow, 1, g.N, g.O, g.oh, g.ow, "conv2d: y");
  if (x.type == napi_float32_array) {
    dl::conv2d_forward<float>(g, static_cast<const float*>(x.data) + p.i(16), s4(p, 17),
                              static_cast<const float*>(w.data) + p.i(21), s4(p, 22),
                              hasBias ? static_cast<const float*>(bias.data) + p.i(26) : nullptr, p.i(27),
                              static_cast<float*>(y.data) + p.i(28));
  } else {
    dl::conv2d_forward<double>(g, static_cast<const double*>(x.data) + p.i(16), s4(p, 17),
                               static_cast<const double*>(w.data) + p.i(21), s4(p, 22),
                               hasBias ? static_cast<const double*>(bias.data) + p.i(26) : nullptr, p.i(27),
                               static_cast<double*>(y.data) + p.i(28));
  }
  return env.Undefined();
}

Napi::Value Conv2dBackwardInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr gy = typed(env, info[0], "gy"), w = typed(env, info[1], "w"), gx = typed(env, info[2], "gx");
  Params p = params(env, info[3], kConvP);
  same_float(env, {gy, w, gx}, "conv2dBackwardInput");
  const dl::ConvGeom g = conv_geom(env, p);
  check_extent4(env, gy, p.i(16), p.i(17), p.i(18), p.i(19), p.i(20), g.N, g.O, g.oh, g.ow, "conv2dBackwardInput: gy");
  check_extent4(env, w, p.i(21), p.i(22), p.i(23), p.i(24), p.i(25), g.O, g.C / g.G, g.kh, g.kw, "conv2dBackwardInput: w");
  check_extent4(env, gx, p.i(28), g.C * g.H * g.W, g.H * g.W, g.W, 1, g.N, g.C, g.H, g.W, "conv2dBackwardInput: gx");
  if (gy.type == napi_float32_array) {
    dl::conv2d_backward_input<float>(g, static_cast<const float*>(gy.data) + p.i(16), s4(p, 17),
                                     static_cast<const float*>(w.data) + p.i(21), s4(p, 22),
                                     static_cast<float*>(gx.data) + p.i(28));
  } else {
    dl::conv2d_backward_input<double>(g, static_cast<const double*>(gy.data) + p.i(16), s4(p, 17),
                                      static_cast<const double*>(w.data) + p.i(21), s4(p, 22),
                                      static_cast<double*>(gx.data) + p.i(28));
  }
  return env.Undefined();
}

Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr gy = typed(env, info[0], "gy"), x = typed(env, info[1], "x"), gw = typed(env, info[2], "gw");
  Params p = params(env, info[3], kConvP);
  same_float(env, {gy, x, gw}, "conv2dBackwardWeight");
  const dl::ConvGeom g = conv_geom(env, p);
  const i64 Cg = g.C / g.G;
  check_extent4(env, gy, p.i(16), p.i(17), p.i(18), p.i(19), p.i(20), g.N, g.O, g.oh, g.ow, "conv2dBackwardWeight: gy");
  check_extent4(env, x, p.i(21), p.i(22), p.i(23), p.i(24), p.i(25), g.N, g.C, g.H, g.W, "conv2dBackwardWeight: x");
  check_extent4(env, gw, p.i(28), Cg * g.kh * g.kw, g.kh * g.kw, g.kw, 1, g.O, Cg, g.kh, g.kw, "conv2dBackwardWeight: gw");
  if (gy.type == napi_float32_array) {
    dl::conv2d_backward_weight<float>(g, static_cast<const float*>(gy.data) + p.i(16), s4(p, 17),
                                      static_cast<const float*>(x.data) + p.i(21), s4(p, 22),
                                      static_cast<float*>(gw.data) + p.i(28));
  } else {
    dl::conv2d_backward_weight<double>(g, static_cast<const double*>(gy.data) + p.i(16), s4(p, 17),
                                       static_cast<const double*>(x.data) + p.i(21), s4(p, 22),
                                       static_cast<double*>(gw.data) + p.i(28));
  }
  return env.Undefined();
}

// ------------------------------------------------------------------ pooling

// P: N, C, H, W, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, xOff, xs0..xs3, yOff, iOff
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr x = typed(env, info[0], "x"), y = typed(env, info[1], "y"), ind = typed(env, info[2], "indices");
  Params p = params(env, info[3], 21);
  same_float(env, {x, y}, "maxPool2d");
  if (ind.type != napi_int32_array) throw_type(env, "maxPool2d: indices must be an Int32Array");
  const dl::PoolGeom g{p.i(0), p.i(1), p.i(2), p.i(3), p.i(4), p.i(5), p.i(6),
                       p.i(7), p.i(8), p.i(9), p.i(10), p.i(11), p.i(12), p.i(13)};
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || g.ph < 0 || g.pw < 0 ||
      (g.N * g.C * g.oh * g.ow > 0 && g.H * g.W == 0))
    throw_range(env, "maxPool2d: invalid geometry");
  check_extent4(env, x, p.i(14), p.i(15), p.i(16), p.i(17), p.i(18), g.N, g.C, g.H, g.W, "maxPool2d: x");
  const i64 o = g.oh * g.ow;
  check_extent4(env, y, p.i(19), g.C * o, o, g.ow, 1, g.N, g.C, g.oh, g.ow, "maxPool2d: y");
  check_extent4(env, ind, p.i(20), g.C * o, o, g.ow, 1, g.N, g.C, g.oh, g.ow, "maxPool2d: indices");
  auto* I = static_cast<std::int32_t*>(ind.data) + p.i(20);
  if (x.type == napi_float32_array)
    dl::max_pool2d<float>(g, static_cast<const float*>(x.data) + p.i(14), s4(p, 15), static_cast<float*>(y.data) + p.i(19), I);
  else
    dl::max_pool2d<double>(g, static_cast<const double*>(x.data) + p.i(14), s4(p, 15), static_cast<double*>(y.data) + p.i(19), I);
  return env.Undefined();
}

// P: N, C, H, W, oh, ow, gOff, gs0..gs3, iOff, is0..is3, gxOff
Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr gy = typed(env, info[0], "gy"), ind = typed(env, info[1], "indices"), gx = typed(env, info[2], "gx");
  Params p = params(env, info[3], 17);
  same_float(env, {gy, gx}, "maxPool2dBackward");
  if (ind.type != napi_int32_array) throw_type(env, "maxPool2dBackward: indices must be an Int32Array");
  dl::PoolGeom g{p.i(0), p.i(1), p.i(2), p.i(3), p.i(4), p.i(5), 1, 1, 1, 1, 0, 0, 1, 1};
  check_extent4(env, gy, p.i(6), p.i(7), p.i(8), p.i(9), p.i(10), g.N, g.C, g.oh, g.ow, "maxPool2dBackward: gy");
  check_extent4(env, ind, p.i(11), p.i(12), p.i(13), p.i(14), p.i(15), g.N, g.C, g.oh, g.ow, "maxPool2dBackward: indices");
  check_extent4(env, gx, p.i(16), g.C * g.H * g.W, g.H * g.W, g.W, 1, g.N, g.C, g.H, g.W, "maxPool2dBackward: gx");
  // Indices are scattered to without bounds tests: check them first.
  const auto* I = static_cast<const std::int32_t*>(ind.data) + p.i(11);
  const i64 plane = g.H * g.W;
  for (i64 n = 0; n < g.N; n++)
    for (i64 c = 0; c < g.C; c++)
      for (i64 a = 0; a < g.oh; a++)
        for (i64 b = 0; b < g.ow; b++) {
          const std::int32_t v = I[n * p.i(12) + c * p.i(13) + a * p.i(14) + b * p.i(15)];
          if (v < 0 || v >= plane)
            throw_range(env, "maxPool2dBackward: index " + std::to_string(v) + " is outside a plane of " + std::to_string(plane));
        }
  if (gy.type == napi_float32_array)
    dl::max_pool2d_backward<float>(g, static_cast<const float*>(gy.data) + p.i(6), s4(p, 7), I, s4(p, 12),
                                   static_cast<float*>(gx.data) + p.i(16));
  else
    dl::max_pool2d_backward<double>(g, static_cast<const double*>(gy.data) + p.i(6), s4(p, 7), I, s4(p, 12),
                                    static_cast<double*>(gx.data) + p.i(16));
  return env.Undefined();
}

// P: N, C, H, W, oh, ow, kh, kw, sh, sw, ph, pw, countIncludePad, divisorOverride (0: none),
//    inOff, is0..is3, outOff      (forward: in = x, out = y; backward: in = gy, out = gx)
dl::PoolGeom avg_geom(const Napi::Env& env, const Params& p) {
  dl::PoolGeom g{p.i(0), p.i(1), p.i(2), p.i(3), p.i(4), p.i(5), p.i(6), p.i(7), p.i(8), p.i(9), p.i(10), p.i(11), 1, 1};
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.ph < 0 || g.pw < 0 ||
      (g.N * g.C * g.oh * g.ow > 0 && g.H * g.W == 0))
    throw_range(env, "avgPool2d: invalid geometry");
  return g;
}

Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr x = typed(env, info[0], "x"), y = typed(env, info[1], "y");
  Params p = params(env, info[2], 20);
  same_float(env, {x, y}, "avgPool2d");
  const dl::PoolGeom g = avg_geom(env, p);
  check_extent4(env, x, p.i(14), p.i(15), p.i(16), p.i(17), p.i(18), g.N, g.C, g.H, g.W, "avgPool2d: x");
  const i64 o = g.oh * g.ow;
  check_extent4(env, y, p.i(19), g.C * o, o, g.ow, 1, g.N, g.C, g.oh, g.ow, "avgPool2d: y");
  if (x.type == napi_float32_array)
    dl::avg_pool2d<float>(g, p.d(12) != 0, p.d(13), static_cast<const float*>(x.data) + p.i(14), s4(p, 15),
                          static_cast<float*>(y.data) + p.i(19));
  else
    dl::avg_pool2d<double>(g, p.d(12) != 0, p.d(13), static_cast<const double*>(x.data) + p.i(14), s4(p, 15),
                           static_cast<double*>(y.data) + p.i(19));
  return env.Undefined();
}

Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr gy = typed(env, info[0], "gy"), gx = typed(env, info[1], "gx");
  Params p = params(env, info[2], 20);
  same_float(env, {gy, gx}, "avgPool2dBackward");
  const dl::PoolGeom g = avg_geom(env, p);
  check_extent4(env, gy, p.i(14), p.i(15), p.i(16), p.i(17), p.i(18), g.N, g.C, g.oh, g.ow, "avgPool2dBackward: gy");
  check_extent4(env, gx, p.i(19), g.C * g.H * g.W, g.H * g.W, g.W, 1, g.N, g.C, g.H, g.W, "avgPool2dBackward: gx");
  if (gy.type == napi_float32_array)
    dl::avg_pool2d_backward<float>(g, p.d(12) != 0, p.d(13), static_cast<const float*>(gy.data) + p.i(14), s4(p, 15),
                                   static_cast<float*>(gx.data) + p.i(19));
  else
    dl::avg_pool2d_backward<double>(g, p.d(12) != 0, p.d(13), static_cast<const double*>(gy.data) + p.i(14), s4(p, 15),
                                    static_cast<double*>(gx.data) + p.i(19));
  return env.Undefined();
}

// ------------------------------------------------------------------ elementwise

void check_run(const Napi::Env& env, const Arr& a, i64 off, i64 n, i64 s, const char* what) {
  if (s != 0 && s != 1) throw_range(env, std::string(what) + ": stride must be 0 or 1");
  const i64 sh[1] = {n}, st[1] = {s};
  check_extent(env, a, off, 1, sh, st, what);
}

/**
 * The layout of a strided elementwise call over operands ops (y first):
 * P = rank, each operand's offset, the sizes (innermost first), then each operand's strides.
 * Every operand's reach is checked against its buffer; y must not repeat elements (a zero
 * stride where the size is above 1), since chunks of it are written in parallel.
 */
dl::Strided strided_params(const Napi::Env& env, const Napi::Value& v, std::initializer_list<const Arr*> ops,
                           std::initializer_list<const char*> names, i64* offsets, const char* op) {
  const int K = static_cast<int>(ops.size());
  Params p = params(env, v, 1);
  const i64 rank = p.i(0);
  if (rank < 1 || rank > dl::kMaxDims)
    throw_range(env, std::string(op) + ": rank " + std::to_string(rank) + " outside [1, " + std::to_string(dl::kMaxDims) + "]");
  if (p.n < 1 + K + rank * (1 + K)) throw_range(env, std::string(op) + ": P too short for rank " + std::to_string(rank));
  dl::Strided it{};
  it.rank = static_cast<int>(rank);
  const i64 sizes = 1 + K;
  for (int d = 0; d < rank; d++) it.size[d] = p.i(static_cast<int>(sizes + d));
  int k = 0;
  auto name = names.begin();
  for (const Arr* a : ops) {
    offsets[k] = p.i(1 + k);
    const i64 base = sizes + rank * (1 + k);
    for (int d = 0; d < rank; d++) it.stride[k][d] = p.i(static_cast<int>(base + d));
    check_extent(env, *a, offsets[k], it.rank, it.size, it.stride[k], (std::string(op) + ": " + *name).c_str());
    k++;
    ++name;
  }
  for (int d = 0; d < rank; d++)
    if (it.size[d] > 1 && it.stride[0][d] == 0) throw_range(env, std::string(op) + ": y has a zero stride (it would be written twice)");
  return it;
}

// binary(op, a, b, y, P): P = strided_params over y, a, b
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int op = info[0].As<Napi::Number>().Int32Value();
  Arr a = typed(env, info[1], "a"), b = typed(env, info[2], "b"), y = typed(env, info[3], "y");
  if (op < 0 || op >= dl::kBinaryOps) throw_range(env, "binary: unknown op");
  if (a.type != b.type || a.type != y.type) throw_type(env, "binary: operands of different types");
  i64 o[3];
  const dl::Strided it = strided_params(env, info[4], {&y, &a, &b}, {"y", "a", "b"}, o, "binary");
  switch (a.type) {
    case napi_float32_array:
      dl::binary<float>(op, it, at<const float>(a, o[1]), at<const float>(b, o[2]), at<float>(y, o[0]));
      break;
    case napi_float64_array:
      dl::binary<double>(op, it, at<const double>(a, o[1]), at<const double>(b, o[2]), at<double>(y, o[0]));
      break;
    case napi_int32_array:
      if (op == dl::kDiv || op == dl::kGeluBackward) throw_type(env, "binary: integer division and geluBackward are not kernels");
      dl::binary<std::int32_t>(op, it, at<const std::int32_t>(a, o[1]), at<const std::int32_t>(b, o[2]), at<std::int32_t>(y, o[0]));
      break;
    default:
      throw_type(env, std::string("binary: unsupported ") + type_name(a.type));
  }
  return env.Undefined();
}

// compare(op, a, b, y, P): P = strided_params over y, a, b; y is a Uint8Array (bool)
Napi::Value Compare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int op = info[0].As<Napi::Number>().Int32Value();
  Arr a = typed(env, info[1], "a"), b = typed(env, info[2], "b"), y = typed(env, info[3], "y");
  if (op < 0 || op >= dl::kCompareOps) throw_range(env, "compare: unknown op");
  if (a.type != b.type) throw_type(env, "compare: operands of different types");
  if (y.type != napi_uint8_array) throw_type(env, "compare: y must be a Uint8Array");
  i64 o[3];
  const dl::Strided it = strided_params(env, info[4], {&y, &a, &b}, {"y", "a", "b"}, o, "compare");
  std::uint8_t* Y = at<std::uint8_t>(y, o[0]);
  switch (a.type) {
    case napi_float32_array:
      dl::compare<float>(op, it, at<const float>(a, o[1]), at<const float>(b, o[2]), Y);
      break;
    case napi_float64_array:
      dl::compare<double>(op, it, at<const double>(a, o[1]), at<const double>(b, o[2]), Y);
      break;
    case napi_int32_array:
      dl::compare<std::int32_t>(op, it, at<const std::int32_t>(a, o[1]), at<const std::int32_t>(b, o[2]), Y);
      break;
    case napi_uint8_array:
      dl::compare<std::uint8_t>(op, it, at<const std::uint8_t>(a, o[1]), at<const std::uint8_t>(b, o[2]), Y);
      break;
    default:
      throw_type(env, std::string("compare: unsupported ") + type_name(a.type));
  }
  return env.Undefined();
}

// where(c, a, b, y, P): P = strided_params over y, c, a, b
Napi::Value Where(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr c = typed(env, info[0], "condition"), a = typed(env, info[1], "a"), b = typed(env, info[2], "b"),
      y = typed(env, info[3], "y");
  if (c.type != napi_uint8_array) throw_type(env, "where: condition must be a Uint8Array");
  if (a.type != b.type || a.type != y.type) throw_type(env, "where: operands of different types");
  i64 o[4];
  const dl::Strided it = strided_params(env, info[4], {&y, &c, &a, &b}, {"y", "condition", "a", "b"}, o, "where");
  const std::uint8_t* C = at<const std::uint8_t>(c, o[1]);
  switch (a.type) {
    case napi_float32_array:
      dl::where<float>(it, C, at<const float>(a, o[2]), at<const float>(b, o[3]), at<float>(y, o[0]));
      break;
    case napi_float64_array:
      dl::where<double>(it, C, at<const double>(a, o[2]), at<const double>(b, o[3]), at<double>(y, o[0]));
      break;
    case napi_int32_array:
      dl::where<std::int32_t>(it, C, at<const std::int32_t>(a, o[2]), at<const std::int32_t>(b, o[3]), at<std::int32_t>(y, o[0]));
      break;
    case napi_uint8_array:
      dl::where<std::uint8_t>(it, C, at<const std::uint8_t>(a, o[2]), at<const std::uint8_t>(b, o[3]), at<std::uint8_t>(y, o[0]));
      break;
    default:
      throw_type(env, std::string("where: unsupported ") + type_name(a.type));
  }
  return env.Undefined();
}

// unary(op, x, y, P): P = strided_params over y, x
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int op = info[0].As<Napi::Number>().Int32Value();
  Arr x = typed(env, info[1], "x"), y = typed(env, info[2], "y");
  if (op < 0 || op >= dl::kUnaryOps) throw_range(env, "unary: unknown op");
  if (x.type != y.type) throw_type(env, "unary: operands of different types");
  i64 o[2];
  const dl::Strided it = strided_params(env, info[3], {&y, &x}, {"y", "x"}, o, "unary");
  switch (x.type) {
    case napi_float32_array:
      dl::unary<float>(op, it, at<const float>(x, o[1]), at<float>(y, o[0]));
      break;
    case napi_float64_array:
      dl::unary<double>(op, it, at<const double>(x, o[1]), at<double>(y, o[0]));
      break;
    case napi_int32_array:
      if (op != dl::kRelu && op != dl::kNeg && op != dl::kAbs && op != dl::kSign && op != dl::kFloor && op != dl::kCeil &&
          op != dl::kRound && op != dl::kCopy) {
        throw_type(env, "unary: only relu, neg, abs, sign, floor, ceil, round and copy take int32");
      }
      dl::unary<std::int32_t>(op, it, at<const std::int32_t>(x, o[1]), at<std::int32_t>(y, o[0]));
      break;
    default:
      throw_type(env, std::string("unary: unsupported ") + type_name(x.type));
  }
  return env.Undefined();
}

// ------------------------------------------------------------------ reductions

// sum(x, y, P): P = nd, xOff, yOff, shape[nd], xs[nd], ys[nd]   (keepdim form, ys 0 on reduced dims)
Napi::Value Sum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr x = typed(env, info[0], "x"), y = typed(env, info[1], "y");
  Params p = params(env, info[2], 3);
  same_float(env, {x, y}, "sum");
  const i64 nd = p.i(0);
  if (nd < 0 || nd > 16) throw_range(env, "sum: at most 16 dims");
  if (p.n < 3 + 3 * nd) throw_range(env, "sum: P too short");
  i64 shape[16], xs[16], ys[16];
  for (i64 d = 0; d < nd; d++) {
    shape[d] = p.i(3 + d);
    xs[d] = p.i(3 + nd + d);
    ys[d] = p.i(3 + 2 * nd + d);
  }
  check_extent(env, x, p.i(1), static_cast<int>(nd), shape, xs, "sum: x");
  i64 yshape[16];
  for (i64 d = 0; d < nd; d++) yshape[d] = ys[d] == 0 ? 1 : shape[d];
  check_extent(env, y, p.i(2), static_cast<int>(nd), yshape, ys, "sum: y");
  if (x.type == napi_float32_array)
    dl::sum_reduce<float>(static_cast<int>(nd), shape, static_cast<const float*>(x.data) + p.i(1), xs,
                          static_cast<float*>(y.data) + p.i(2), ys);
  else
    dl::sum_reduce<double>(static_cast<int>(nd), shape, static_cast<const double*>(x.data) + p.i(1), xs,
                           static_cast<double*>(y.data) + p.i(2), ys);
  return env.Undefined();
}

// softmax(x, y, P, log): P = outer, len, inner, xOff, yOff (contiguous x and y)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr x = typed(env, info[0], "x"), y = typed(env, info[1], "y");
  Params p = params(env, info[2], 5);
  const bool log = info[3].ToBoolean().Value();
  same_float(env, {x, y}, "softmax");
  const i64 outer = p.i(0), len = p.i(1), inner = p.i(2);
  check_run(env, x, p.i(3), outer * len * inner, 1, "softmax: x");
  check_run(env, y, p.i(4), outer * len * inner, 1, "softmax: y");
  if (x.type == napi_float32_array)
    dl::softmax<float>(log, outer, len, inner, static_cast<const float*>(x.data) + p.i(3), static_cast<float*>(y.data) + p.i(4));
  else
    dl::softmax<double>(log, outer, len, inner, static_cast<const double*>(x.data) + p.i(3), static_cast<double*>(y.data) + p.i(4));
  return env.Undefined();
}

// ------------------------------------------------------------------ losses

/** Throws unless the n elements a[off + i * s] lie inside the array (any stride). */
void check_vec(const Napi::Env& env, const Arr& a, i64 off, i64 n, i64 s, const char* what) {
  const i64 sh[1] = {n}, st[1] = {s};
  check_extent(env, a, off, 1, sh, st, what);
}

/** Targets index x and the weight without bounds tests: each must lie in [0, C) or be ignore_index. */
void check_targets(const Napi::Env& env, const Arr& t, i64 off, i64 s, i64 N, i64 C, i64 ignore, const char* op) {
  const auto* T = at<const std::int32_t>(t, off);
  for (i64 n = 0; n < N; n++) {
    const i64 v = T[n * s];
    if (v != ignore && (v < 0 || v >= C))
      throw_range(env, std::string(op) + ": target " + std::to_string(v) + " is outside [0, " + std::to_string(C) + ")");
  }
}

/** ignoreIndex as an integer a target may equal: a value outside int32 matches none (-2^31 - 1). */
i64 ignore_index(double v) { return v >= -2147483648.0 && v <= 2147483647.0 ? static_cast<i64>(v) : -2147483649LL; }

template <typename T>
dl::StridedVec<const T> vec_of(const Arr& a, bool present, const Params& p, int k) {
  return present ? dl::StridedVec<const T>{at<const T>(a, p.i(k)), p.i(k + 1)} : dl::StridedVec<const T>{nullptr, 0};
}

// crossEntropy(x, target, weight | undefined, loss, lse, P):
//   P = N, C, xOff, xsN, xsC, tOff, ts, wOff, ws, lossOff, lseOff, ignoreIndex, labelSmoothing
//   (loss and lse contiguous)
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr x = typed(env, info[0], "x"), t = typed(env, info[1], "target"), loss = typed(env, info[3], "loss"),
      lse = typed(env, info[4], "lse");
  const bool hasW = !info[2].IsUndefined() && !info[2].IsNull();
  Arr w = hasW ? typed(env, info[2], "weight") : Arr{nullptr, 0, x.type};
  Params p = params(env, info[5], 13);
  same_float(env, {x, w, loss, lse}, "crossEntropy");
  if (t.type != napi_int32_array) throw_type(env, "crossEntropy: target must be an Int32Array");
  const dl::CrossEntropyAttrs a{p.i(0), p.i(1), ignore_index(p.d(11)), p.d(12)};
  {
    const i64 sh[2] = {a.N, a.C}, st[2] = {p.i(3), p.i(4)};
    check_extent(env, x, p.i(2), 2, sh, st, "crossEntropy: x");
  }
  check_vec(env, t, p.i(5), a.N, p.i(6), "crossEntropy: target");
  if (hasW) check_vec(env, w, p.i(7), a.C, p.i(8), "crossEntropy: weight");
  check_run(env, loss, p.i(9), a.N, 1, "crossEntropy: loss");
  check_run(env, lse, p.i(10), a.N, 1, "crossEntropy: lse");
  check_targets(env, t, p.i(5), p.i(6), a.N, a.C, a.ignore_index, "crossEntropy");
  const dl::StridedVec<const std::int32_t> target{at<const std::int32_t>(t, p.i(5)), p.i(6)};
  if (x.type == napi_float32_array)
    dl::cross_entropy<float>(a, {at<const float>(x, p.i(2)), p.i(3), p.i(4)}, target, vec_of<float>(w, hasW, p, 7),
                             at<float>(loss, p.i(9)), at<float>(lse, p.i(10)));
  else
    dl::cross_entropy<double>(a, {at<const double>(x, p.i(2)), p.i(3), p.i(4)}, target, vec_of<double>(w, hasW, p, 7),
                              at<double>(loss, p.i(9)), at<double>(lse, p.i(10)));
  return env.Undefined();
}

// crossEntropyBackward(gy, x, target, lse, weight | undefined, gx, P):
//   P = N, C, gyOff, gys, xOff, xsN, xsC, tOff, ts, lseOff, lses, wOff, ws, gxOff, ignoreIndex, labelSmoothing
//   (gx contiguous (N, C))
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr gy = typed(env, info[0], "gy"), x = typed(env, info[1], "x"), t = typed(env, info[2], "target"),
      lse = typed(env, info[3], "lse"), gx = typed(env, info[5], "gx");
  const bool hasW = !info[4].IsUndefined() && !info[4].IsNull();
  Arr w = hasW ? typed(env, info[4], "weight") : Arr{nullptr, 0, x.type};
  Params p = params(env, info[6], 16);
  same_float(env, {gy, x, lse, w, gx}, "crossEntropyBackward");
  if (t.type != napi_int32_array) throw_type(env, "crossEntropyBackward: target must be an Int32Array");
  const dl::CrossEntropyAttrs a{p.i(0), p.i(1), ignore_index(p.d(14)), p.d(15)};
  check_vec(env, gy, p.i(2), a.N, p.i(3), "crossEntropyBackward: gy");
  {
    const i64 sh[2] = {a.N, a.C}, st[2] = {p.i(5), p.i(6)};
    check_extent(env, x, p.i(4), 2, sh, st, "crossEntropyBackward: x");
    const i64 gst[2] = {a.C, 1};
    check_extent(env, gx, p.i(13), 2, sh, gst, "crossEntropyBackward: gx");
  }
  check_vec(env, t, p.i(7), a.N, p.i(8), "crossEntropyBackward: target");
  check_vec(env, lse, p.i(9), a.N, p.i(10), "crossEntropyBackward: lse");
  if (hasW) check_vec(env, w, p.i(11), a.C, p.i(12), "crossEntropyBackward: weight");
  check_targets(env, t, p.i(7), p.i(8), a.N, a.C, a.ignore_index, "crossEntropyBackward");
  const dl::StridedVec<const std::int32_t> target{at<const std::int32_t>(t, p.i(7)), p.i(8)};
  if (x.type == napi_float32_array)
    dl::cross_entropy_backward<float>(a, vec_of<float>(gy, true, p, 2), {at<const float>(x, p.i(4)), p.i(5), p.i(6)},
                                      target, vec_of<float>(lse, true, p, 9), vec_of<float>(w, hasW, p, 11),
                                      at<float>(gx, p.i(13)));
  else
    dl::cross_entropy_backward<double>(a, vec_of<double>(gy, true, p, 2), {at<const double>(x, p.i(4)), p.i(5), p.i(6)},
                                       target, vec_of<double>(lse, true, p, 9), vec_of<double>(w, hasW, p, 11),
                                       at<double>(gx, p.i(13)));
  return env.Undefined();
}

// ------------------------------------------------------------------ normalization

/** The optional operand at info[k]: present unless undefined or null. */
Arr optional(const Napi::Env& env, const Napi::Value& v, const char* name, napi_typedarray_type type) {
  return v.IsUndefined() || v.IsNull() ? Arr{nullptr, 0, type} : typed(env, v, name);
}

/** Element 0 of a contiguous run checked by check_run, or null for an absent operand. */
template <typename T>
T* run_or_null(const Arr& a, i64 off) {
  return a.data ? at<T>(a, off) : nullptr;
}

// layerNorm(x, weight | undefined, bias | undefined, y, mean, rstd, P):
//   P = R, C, eps, xOff, wOff, bOff, yOff, meanOff, rstdOff (every operand contiguous)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr x = typed(env, info[0], "x"), y = typed(env, info[3], "y"), mean = typed(env, info[4], "mean"),
      rstd = typed(env, info[5], "rstd");
  Arr w = optional(env, info[1], "weight", x.type), b = optional(env, info[2], "bias", x.type);
  Params p = params(env, info[6], 9);
  same_float(env, {x, w, b, y, mean, rstd}, "layerNorm");
  const i64 R = p.i(0), C = p.i(1);
  if (R < 0 || C < 0) throw_range(env, "layerNorm: negative R or C");
  check_run(env, x, p.i(3), R * C, 1, "layerNorm: x");
  if (w.data) check_run(env, w, p.i(4), C, 1, "layerNorm: weight");
  if (b.data) check_run(env, b, p.i(5), C, 1, "layerNorm: bias");
  check_run(env, y, p.i(6), R * C, 1, "layerNorm: y");
  check_run(env, mean, p.i(7), R, 1, "layerNorm: mean");
  check_run(env, rstd, p.i(8), R, 1, "layerNorm: rstd");
  if (x.type == napi_float32_array)
    dl::layer_norm<float>(R, C, p.d(2), at<const float>(x, p.i(3)), run_or_null<const float>(w, p.i(4)),
                          run_or_null<const float>(b, p.i(5)), at<float>(y, p.i(6)), at<float>(mean, p.i(7)), at<float>(rstd, p.i(8)));
  else
    dl::layer_norm<double>(R, C, p.d(2), at<const double>(x, p.i(3)), run_or_null<const double>(w, p.i(4)),
                           run_or_null<const double>(b, p.i(5)), at<double>(y, p.i(6)), at<double>(mean, p.i(7)),
                           at<double>(rstd, p.i(8)));
  return env.Undefined();
}

// layerNormBackward(gy, x, mean, rstd, weight | undefined, gx, gw, gb, P):
//   P = R, C, gyOff, xOff, meanOff, rstdOff, wOff, gxOff, gwOff, gbOff (every operand contiguous)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr gy = typed(env, info[0], "gy"), x = typed(env, info[1], "x"), mean = typed(env, info[2], "mean"),
      rstd = typed(env, info[3], "rstd"), gx = typed(env, info[5], "gx"), gw = typed(env, info[6], "gw"),
      gb = typed(env, info[7], "gb");
  Arr w = optional(env, info[4], "weight", x.type);
  Params p = params(env, info[8], 10);
  same_float(env, {gy, x, mean, rstd, w, gx, gw, gb}, "layerNormBackward");
  const i64 R = p.i(0), C = p.i(1);
  if (R < 0 || C < 0) throw_range(env, "layerNormBackward: negative R or C");
  check_run(env, gy, p.i(2), R * C, 1, "layerNormBackward: gy");
  check_run(env, x, p.i(3), R * C, 1, "layerNormBackward: x");
  check_run(env, mean, p.i(4), R, 1, "layerNormBackward: mean");
  check_run(env, rstd, p.i(5), R, 1, "layerNormBackward: rstd");
  if (w.data) check_run(env, w, p.i(6), C, 1, "layerNormBackward: weight");
  check_run(env, gx, p.i(7), R * C, 1, "layerNormBackward: gx");
  check_run(env, gw, p.i(8), C, 1, "layerNormBackward: gw");
  check_run(env, gb, p.i(9), C, 1, "layerNormBackward: gb");
  if (x.type == napi_float32_array)
    dl::layer_norm_backward<float>(R, C, at<const float>(gy, p.i(2)), at<const float>(x, p.i(3)), at<const float>(mean, p.i(4)),
                                   at<const float>(rstd, p.i(5)), run_or_null<const float>(w, p.i(6)), at<float>(gx, p.i(7)),
                                   at<float>(gw, p.i(8)), at<float>(gb, p.i(9)));
  else
    dl::layer_norm_backward<double>(R, C, at<const double>(gy, p.i(2)), at<const double>(x, p.i(3)),
                                    at<const double>(mean, p.i(4)), at<const double>(rstd, p.i(5)),
                                    run_or_null<const double>(w, p.i(6)), at<double>(gx, p.i(7)), at<double>(gw, p.i(8)),
                                    at<double>(gb, p.i(9)));
  return env.Undefined();
}

// batchNorm(x, weight | undefined, bias | undefined, y, mean, var, P):
//   P = N, C, S, eps, xOff, wOff, bOff, yOff, meanOff, varOff (every operand contiguous; x is [N, C, S])
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr x = typed(env, info[0], "x"), y = typed(env, info[3], "y"), mean = typed(env, info[4], "mean"),
      var = typed(env, info[5], "var");
  Arr w = optional(env, info[1], "weight", x.type), b = optional(env, info[2], "bias", x.type);
  Params p = params(env, info[6], 10);
  same_float(env, {x, w, b, y, mean, var}, "batchNorm");
  const i64 N = p.i(0), C = p.i(1), S = p.i(2);
  if (N < 0 || C < 0 || S < 0) throw_range(env, "batchNorm: negative N, C or S");
  check_run(env, x, p.i(4), N * C * S, 1, "batchNorm: x");
  if (w.data) check_run(env, w, p.i(5), C, 1, "batchNorm: weight");
  if (b.data) check_run(env, b, p.i(6), C, 1, "batchNorm: bias");
  check_run(env, y, p.i(7), N * C * S, 1, "batchNorm: y");
  check_run(env, mean, p.i(8), C, 1, "batchNorm: mean");
  check_run(env, var, p.i(9), C, 1, "batchNorm: var");
  if (x.type == napi_float32_array)
    dl::batch_norm<float>(N, C, S, p.d(3), at<const float>(x, p.i(4)), run_or_null<const float>(w, p.i(5)),
                          run_or_null<const float>(b, p.i(6)), at<float>(y, p.i(7)), at<float>(mean, p.i(8)), at<float>(var, p.i(9)));
  else
    dl::batch_norm<double>(N, C, S, p.d(3), at<const double>(x, p.i(4)), run_or_null<const double>(w, p.i(5)),
                           run_or_null<const double>(b, p.i(6)), at<double>(y, p.i(7)), at<double>(mean, p.i(8)),
                           at<double>(var, p.i(9)));
  return env.Undefined();
}

// batchNormBackward(gy, x, mean, var, weight | undefined, gx, gw, gb, P):
//   P = N, C, S, eps, gyOff, xOff, meanOff, varOff, wOff, gxOff, gwOff, gbOff (every operand contiguous)
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arr gy = typed(env, info[0], "gy"), x = typed(env, info[1], "x"), mean = typed(env, info[2], "mean"),
      var = typed(env, info[3], "var"), gx = typed(env, info[5], "gx"), gw = typed(env, info[6], "gw"),
      gb = typed(env, info[7], "gb");
  Arr w = optional(env, info[4], "weight", x.type);
  Params p = params(env, info[8], 12);
  same_float(env, {gy, x, mean, var, w, gx, gw, gb}, "batchNormBackward");
  const i64 N = p.i(0), C = p.i(1), S = p.i(2);
  if (N < 0 || C < 0 || S < 0) throw_range(env, "batchNormBackward: negative N, C or S");
  check_run(env, gy, p.i(4), N * C * S, 1, "batchNormBackward: gy");
  check_run(env, x, p.i(5), N * C * S, 1, "batchNormBackward: x");
  check_run(env, mean, p.i(6), C, 1, "batchNormBackward: mean");
  check_run(env, var, p.i(7), C, 1, "batchNormBackward: var");
  if (w.data) check_run(env, w, p.i(8), C, 1, "batchNormBackward: weight");
  check_run(env, gx, p.i(9), N * C * S, 1, "batchNormBackward: gx");
  check_run(env, gw, p.i(10), C, 1, "batchNormBackward: gw");
  check_run(env, gb, p.i(11), C, 1, "batchNormBackward: gb");
  if (x.type == napi_float32_array)
    dl::batch_norm_backward<float>(N, C, S, p.d(3), at<const float>(gy, p.i(4)), at<const float>(x, p.i(5)),
                                   at<const float>(mean, p.i(6)), at<const float>(var, p.i(7)),
                                   run_or_null<const float>(w, p.i(8)), at<float>(gx, p.i(9)), at<float>(gw, p.i(10)),
                                   at<float>(gb, p.i(11)));
  else
    dl::batch_norm_backward<double>(N, C, S, p.d(3), at<const double>(gy, p.i(4)), at<const double>(x, p.i(5)),
                                    at<const double>(mean, p.i(6)), at<const double>(var, p.i(7)),
                                    run_or_null<const double>(w, p.i(8)), at<double>(gx, p.i(9)), at<double>(gw, p.i(10)),
                                    at<double>(gb, p.i(11)));
  return env.Undefined();
}

// ------------------------------------------------------------------ fused optimizers

/** The typed arrays of a JS array argument, `count` of them (-1: any number). */
std::vector<Arr> typed_list(const Napi::Env& env, const Napi::Value& v, const char* what, i64 count) {
  if (!v.IsArray()) throw_type(env, std::string(what) + " must be an array of typed arrays");
  Napi::Array a = v.As<Napi::Array>();
  const i64 n = a.Length();
  if (count >= 0 && n != count)
    throw_range(env, std::string(what) + " holds " + std::to_string(n) + " arrays, expected " + std::to_string(count));
  std::vector<Arr> out;
  out.reserve(static_cast<std::size_t>(n));
  for (i64 i = 0; i < n; i++) out.push_back(typed(env, a.Get(static_cast<uint32_t>(i)), what));
  return out;
}

bool present(const Napi::Value& v) { return !v.IsUndefined() && !v.IsNull(); }

// sgdStep(params[], grads[], momentumBufs[] | undefined, P):
//   P = lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep,
//       then per parameter: pOff, gOff, bufOff, n   (every tensor contiguous)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<Arr> ps = typed_list(env, info[0], "sgdStep: params", -1);
  const i64 count = static_cast<i64>(ps.size());
  const std::vector<Arr> gs = typed_list(env, info[1], "sgdStep: grads", count);
  const bool hasBuf = present(info[2]);
  const std::vector<Arr> bs = hasBuf ? typed_list(env, info[2], "sgdStep: momentumBufs", count) : std::vector<Arr>{};
  Params p = params(env, info[3], 7 + 4 * count);
  const dl::SgdAttrs a{p.d(0), p.d(1), p.d(2), p.d(3), p.d(4) != 0, p.d(5) != 0, p.d(6) != 0};
  std::vector<dl::SgdTensor<float>> f32;
  std::vector<dl::SgdTensor<double>> f64;
  for (std::size_t k = 0; k < ps.size(); k++) {
    const int q = 7 + 4 * static_cast<int>(k);
    const i64 n = p.i(q + 3);
    same_float(env, {ps[k], gs[k]}, "sgdStep");
    check_run(env, ps[k], p.i(q), n, 1, "sgdStep: param");
    check_run(env, gs[k], p.i(q + 1), n, 1, "sgdStep: grad");
    if (hasBuf) {
      same_float(env, {ps[k], bs[k]}, "sgdStep");
      check_run(env, bs[k], p.i(q + 2), n, 1, "sgdStep: momentum buffer");
    }
    if (ps[k].type == napi_float32_array)
      f32.push_back({at<float>(ps[k], p.i(q)), at<const float>(gs[k], p.i(q + 1)),
                     hasBuf ? at<float>(bs[k], p.i(q + 2)) : nullptr, n});
    else
      f64.push_back({at<double>(ps[k], p.i(q)), at<const double>(gs[k], p.i(q + 1)),
                     hasBuf ? at<double>(bs[k], p.i(q + 2)) : nullptr, n});
  }
  if (!f32.empty()) dl::sgd_step(a, f32);
  if (!f64.empty()) dl::sgd_step(a, f64);
  return env.Undefined();
}

// adamStep(params[], grads[], expAvgs[], expAvgSqs[], maxExpAvgSqs[] | undefined, P):
//   P = lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay, maximize, stepSize, biasCorrection2Sqrt,
//       then per parameter: pOff, gOff, mOff, vOff, vmaxOff, n   (every tensor contiguous)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<Arr> ps = typed_list(env, info[0], "adamStep: params", -1);
  const i64 count = static_cast<i64>(ps.size());
  const std::vector<Arr> gs = typed_list(env, info[1], "adamStep: grads", count);
  const std::vector<Arr> ms = typed_list(env, info[2], "adamStep: expAvgs", count);
  const std::vector<Arr> vs = typed_list(env, info[3], "adamStep: expAvgSqs", count);
  const bool hasMax = present(info[4]);
  const std::vector<Arr> xs = hasMax ? typed_list(env, info[4], "adamStep: maxExpAvgSqs", count) : std::vector<Arr>{};
  Params p = params(env, info[5], 9 + 6 * count);
  const dl::AdamAttrs a{p.d(0), p.d(1), p.d(2), p.d(3), p.d(4), p.d(5) != 0, p.d(6) != 0, p.d(7), p.d(8)};
  std::vector<dl::AdamTensor<float>> f32;
  std::vector<dl::AdamTensor<double>> f64;
  for (std::size_t k = 0; k < ps.size(); k++) {
    const int q = 9 + 6 * static_cast<int>(k);
    const i64 n = p.i(q + 5);
    same_float(env, {ps[k], gs[k], ms[k], vs[k]}, "adamStep");
    check_run(env, ps[k], p.i(q), n, 1, "adamStep: param");
    check_run(env, gs[k], p.i(q + 1), n, 1, "adamStep: grad");
    check_run(env, ms[k], p.i(q + 2), n, 1, "adamStep: expAvg");
    check_run(env, vs[k], p.i(q + 3), n, 1, "adamStep: expAvgSq");
    if (hasMax) {
      same_float(env, {ps[k], xs[k]}, "adamStep");
      check_run(env, xs[k], p.i(q + 4), n, 1, "adamStep: maxExpAvgSq");
    }
    if (ps[k].type == napi_float32_array)
      f32.push_back({at<float>(ps[k], p.i(q)), at<const float>(gs[k], p.i(q + 1)), at<float>(ms[k], p.i(q + 2)),
                     at<float>(vs[k], p.i(q + 3)), hasMax ? at<float>(xs[k], p.i(q + 4)) : nullptr, n});
    else
      f64.push_back({at<double>(ps[k], p.i(q)), at<const double>(gs[k], p.i(q + 1)), at<double>(ms[k], p.i(q + 2)),
                     at<double>(vs[k], p.i(q + 3)), hasMax ? at<double>(xs[k], p.i(q + 4)) : nullptr, n});
  }
  if (!f32.empty()) dl::adam_step(a, f32);
  if (!f64.empty()) dl::adam_step(a, f64);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abi", Napi::Number::New(env, kDlAbi));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("probeBlas", Napi::Function::New(env, ProbeBlas, "probeBlas"));
  exports.Set("setGemmKernel", Napi::Function::New(env, SetGemmKernel, "setGemmKernel"));
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("conv2d", Napi::Function::New(env, Conv2d, "conv2d"));
  exports.Set("conv2dBackwardInput", Napi::Function::New(env, Conv2dBackwardInput, "conv2dBackwardInput"));
  exports.Set("conv2dBackwardWeight", Napi::Function::New(env, Conv2dBackwardWeight, "conv2dBackwardWeight"));
  exports.Set("maxPool2d", Napi::Function::New(env, MaxPool2d, "maxPool2d"));
  exports.Set("maxPool2dBackward", Napi::Function::New(env, MaxPool2dBackward, "maxPool2dBackward"));
  exports.Set("avgPool2d", Napi::Function::New(env, AvgPool2d, "avgPool2d"));
  exports.Set("avgPool2dBackward", Napi::Function::New(env, AvgPool2dBackward, "avgPool2dBackward"));
  exports.Set("binary", Napi::Function::New(env, Binary, "binary"));
  exports.Set("compare", Napi::Function::New(env, Compare, "compare"));
  exports.Set("where", Napi::Function::New(env, Where, "where"));
  exports.Set("unary", Napi::Function::New(env, Unary, "unary"));
  exports.Set("sum", Napi::Function::New(env, Sum, "sum"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
  exports.Set("crossEntropy", Napi::Function::New(env, CrossEntropy, "crossEntropy"));
  exports.Set("crossEntropyBackward", Napi::Function::New(env, CrossEntropyBackward, "crossEntropyBackward"));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm, "layerNorm"));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBackward, "layerNormBackward"));
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm, "batchNorm"));
  exports.Set("batchNormBackward", Napi::Function::New(env, BatchNormBackward, "batchNormBackward"));
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep, "sgdStep"));
  exports.Set("adamStep", Napi::Function::New(env, AdamStep, "adamStep"));
#ifdef DL_WITH_CUDA
  dl_cuda_init(env, exports);
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(dl_native, Init)
