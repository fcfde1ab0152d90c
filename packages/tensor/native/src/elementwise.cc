#include "elementwise.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "gemm.h"
#include "thread_pool.h"
#include "vec_math.h"

namespace dl {

namespace {

constexpr i64 kGrain = 1 << 15;  // elements per parallel chunk at least

template <typename T>
struct Ops {
  static T add(T a, T b) {
    if constexpr (std::is_integral<T>::value)
      return static_cast<T>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
    else
      return a + b;
  }
  static T sub(T a, T b) {
    if constexpr (std::is_integral<T>::value)
      return static_cast<T>(static_cast<std::uint32_t>(a) - static_cast<std::uint32_t>(b));
    else
      return a - b;
  }
  static T mul(T a, T b) {
    if constexpr (std::is_integral<T>::value)
      return static_cast<T>(static_cast<std::uint32_t>(a) * static_cast<std::uint32_t>(b));
    else
      return a * b;
  }
  static T div(T a, T b) { return a / b; }
  // NaN in either operand wins (as the TypeScript kernels and PyTorch).
  static T maximum(T a, T b) {
    if constexpr (std::is_integral<T>::value) return a > b ? a : b;
    else return (a > b || a != a) ? a : b;
  }
  static T minimum(T a, T b) {
    if constexpr (std::is_integral<T>::value) return a < b ? a : b;
    else return (a < b || a != a) ? a : b;
  }
  // The gradient g where relu's output y is positive, else 0 (NaN in y gives 0).
  static T relu_backward(T g, T y) { return y > T(0) ? g : T(0); }
};

/**
 * Calls seg(off, m) over runs of the innermost dim: off[k] is operand k's element offset of the
 * run's first element, m its length (the inner strides are it.stride[k][0]). The elements are cut
 * into chunks over the pool by count, so one long row and many short ones split alike.
 */
template <int K, class Seg>
void for_runs(const Strided& it, Seg&& seg) {
  i64 total = 1;
  for (int d = 0; d < it.rank; d++) total *= it.size[d];
  if (total == 0) return;
  const i64 n = it.rank > 0 ? it.size[0] : 1;
  parallel_chunks(total, kGrain, [&](i64 s, i64 e) {
    i64 idx[kMaxDims] = {0};
    i64 off[K] = {0};
    i64 rem = s;
    for (int d = 0; d < it.rank; d++) {
      idx[d] = rem % it.size[d];
      rem /= it.size[d];
      for (int k = 0; k < K; k++) off[k] += idx[d] * it.stride[k][d];
    }
    for (i64 i = s; i < e;) {
      const i64 m = imin(n - idx[0], e - i);
      seg(off, m);
      i += m;
      if (i == e) break;
      // m reached the end of the row: step to the next one (odometer over the outer dims).
      for (int k = 0; k < K; k++) off[k] -= idx[0] * it.stride[k][0];
      idx[0] = 0;
      for (int d = 1; d < it.rank; d++) {
        for (int k = 0; k < K; k++) off[k] += it.stride[k][d];
        if (++idx[d] < it.size[d]) break;
        for (int k = 0; k < K; k++) off[k] -= it.size[d] * it.stride[k][d];
        idx[d] = 0;
      }
    }
  });
}

// One loop per inner-stride combination, so that each is a plain vectorisable loop.
template <typename A, typename Y, class F>
void run2(const Strided& it, const A* a, const A* b, Y* y, F f) {
  const i64 sy = it.stride[0][0], sa = it.stride[1][0], sb = it.stride[2][0];
  for_runs<3>(it, [&](const i64* off, i64 m) {
    Y* yr = y + off[0];
    const A* ar = a + off[1];
    const A* br = b + off[2];
    if (sy == 1 && sa == 1 && sb == 1) {
      for (i64 i = 0; i < m; i++) yr[i] = f(ar[i], br[i]);
    } else if (sy == 1 && sa == 1 && sb == 0) {
      const A bv = br[0];
      for (i64 i = 0; i < m; i++) yr[i] = f(ar[i], bv);
    } else if (sy == 1 && sa == 0 && sb == 1) {
      const A av = ar[0];
      for (i64 i = 0; i < m; i++) yr[i] = f(av, br[i]);
    } else if (sy == 1 && sa == 0 && sb == 0) {
      const Y v = f(ar[0], br[0]);
      for (i64 i = 0; i < m; i++) yr[i] = v;
    } else {
      for (i64 i = 0; i < m; i++) yr[i * sy] = f(ar[i * sa], br[i * sb]);
    }
  });
}

/** y = g * gelu'(x), vectorised over VecMath (defined with the float math ops below). */
template <typename T>
void gelu_backward(const Strided& it, const T* g, const T* x, T* y);

}  // namespace

template <typename T>
void binary(int op, const Strided& it, const T* a, const T* b, T* y) {
  switch (op) {
    case kAdd: return run2(it, a, b, y, [](T u, T v) { return Ops<T>::add(u, v); });
    case kSub: return run2(it, a, b, y, [](T u, T v) { return Ops<T>::sub(u, v); });
    case kMul: return run2(it, a, b, y, [](T u, T v) { return Ops<T>::mul(u, v); });
    case kDiv: return run2(it, a, b, y, [](T u, T v) { return Ops<T>::div(u, v); });
    case kMaximum: return run2(it, a, b, y, [](T u, T v) { return Ops<T>::maximum(u, v); });
    case kMinimum: return run2(it, a, b, y, [](T u, T v) { return Ops<T>::minimum(u, v); });
    case kReluBackward: return run2(it, a, b, y, [](T u, T v) { return Ops<T>::relu_backward(u, v); });
    case kGeluBackward:
      if constexpr (!std::is_integral<T>::value) gelu_backward(it, a, b, y);
      return;
    default: return;
  }
}

template <typename T>
void compare(int op, const Strided& it, const T* a, const T* b, std::uint8_t* y) {
  using U = std::uint8_t;
  switch (op) {
    case kEq: return run2(it, a, b, y, [](T u, T v) { return static_cast<U>(u == v); });
    case kNe: return run2(it, a, b, y, [](T u, T v) { return static_cast<U>(u != v); });
    case kLt: return run2(it, a, b, y, [](T u, T v) { return static_cast<U>(u < v); });
    case kLe: return run2(it, a, b, y, [](T u, T v) { return static_cast<U>(u <= v); });
    case kGt: return run2(it, a, b, y, [](T u, T v) { return static_cast<U>(u > v); });
    case kGe: return run2(it, a, b, y, [](T u, T v) { return static_cast<U>(u >= v); });
    default: return;
  }
}

// Same-size unsigned integer, to select bit patterns without branches (a relu mask is a coin
// flip per element: a branch would mispredict half the time).
template <typename T>
struct Bits;
template <>
struct Bits<float> { using U = std::uint32_t; };
template <>
struct Bits<double> { using U = std::uint64_t; };
template <>
struct Bits<std::int32_t> { using U = std::uint32_t; };
template <>
struct Bits<std::uint8_t> { using U = std::uint8_t; };

template <typename T>
inline T select_bits(std::uint8_t c, T a, T b) {
  using U = typename Bits<T>::U;
  U ua, ub;
  std::memcpy(&ua, &a, sizeof(T));
  std::memcpy(&ub, &b, sizeof(T));
  const U mask = static_cast<U>(0) - static_cast<U>(c != 0);
  const U r = (ua & mask) | (ub & ~mask);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}

template <typename T>
void where(const Strided& it, const std::uint8_t* c, const T* a, const T* b, T* y) {
  const i64 sy = it.stride[0][0], sc = it.stride[1][0], sa = it.stride[2][0], sb = it.stride[3][0];
  for_runs<4>(it, [&](const i64* off, i64 m) {
    T* yr = y + off[0];
    const std::uint8_t* cr = c + off[1];
    const T* ar = a + off[2];
    const T* br = b + off[3];
    if (sy == 1 && sc == 1 && sa == 1 && sb == 1) {
      for (i64 i = 0; i < m; i++) yr[i] = select_bits(cr[i], ar[i], br[i]);
    } else if (sy == 1 && sc == 1 && sa == 1 && sb == 0) {
      const T bv = br[0];
      for (i64 i = 0; i < m; i++) yr[i] = select_bits(cr[i], ar[i], bv);
    } else if (sy == 1 && sc == 1 && sa == 0 && sb == 1) {
      const T av = ar[0];
      for (i64 i = 0; i < m; i++) yr[i] = select_bits(cr[i], av, br[i]);
    } else {
      for (i64 i = 0; i < m; i++) yr[i * sy] = select_bits(cr[i * sc], ar[i * sa], br[i * sb]);
    }
  });
}

template <typename T, class F>
void run1(const Strided& it, const T* x, T* y, F f) {
  const i64 sy = it.stride[0][0], sx = it.stride[1][0];
  for_runs<2>(it, [&](const i64* off, i64 m) {
    T* yr = y + off[0];
    const T* xr = x + off[1];
    if (sy == 1 && sx == 1) {
      for (i64 i = 0; i < m; i++) yr[i] = f(xr[i]);
    } else {
      for (i64 i = 0; i < m; i++) yr[i * sy] = f(xr[i * sx]);
    }
  });
}

// ---------------------------------------------------------------- float math ops
//
// exp, tanh, sigmoid, erf, gelu, sign and round branch-free over VecMath (vec_math.h): W = 2
// doubles, or 4 in the copy of each row loop built for AVX2 + FMA and picked at run time.

namespace {

/** op(x) for the float math ops of unary(). */
template <int OP, int W>
DL_INLINE typename VecMath<W>::D apply(const typename VecMath<W>::D& x) {
  using V = VecMath<W>;
  if constexpr (OP == kExp) return V::exp(x);
  else if constexpr (OP == kTanh) return V::tanh(x);
  else if constexpr (OP == kSigmoid) return V::sigmoid(x);
  else if constexpr (OP == kErf) return V::template erf_fit<V::kErf>(x);
  else if constexpr (OP == kGelu) return V::template erf_fit<V::kGelu>(x);
  else if constexpr (OP == kSign) return V::sign(x);
  else return V::round(x);
}

/** y = op(x) over a row of m elements, W at a time (the tail and strided rows lane by lane). */
template <typename T, int OP, int W>
DL_INLINE void vec_row(const T* x, i64 sx, T* y, i64 sy, i64 m) {
  using V = VecMath<W>;
  i64 i = 0;
  if (sx == 1 && sy == 1) {
    for (; i + W <= m; i += W) V::store(y + i, apply<OP, W>(V::load(x + i)));
  }
  for (; i < m; i += W) {
    const i64 k = imin(W, m - i);
    V::store(y + i * sy, sy, apply<OP, W>(V::load(x + i * sx, sx, k)), k);
  }
}

template <typename T, int OP>
void vec_row_portable(const T* x, i64 sx, T* y, i64 sy, i64 m) {
  vec_row<T, OP, 2>(x, sx, y, sy, m);
}

#if defined(__x86_64__)
template <typename T, int OP>
__attribute__((target("avx2,fma"))) void vec_row_avx2(const T* x, i64 sx, T* y, i64 sy, i64 m) {
  vec_row<T, OP, 4>(x, sx, y, sy, m);
}
#endif

template <typename T, int OP>
void run_vec(const Strided& it, const T* x, T* y) {
  void (*row)(const T*, i64, T*, i64, i64) = vec_row_portable<T, OP>;
#if defined(__x86_64__)
  if (kernels_use_avx2()) row = vec_row_avx2<T, OP>;
#endif
  const i64 sy = it.stride[0][0], sx = it.stride[1][0];
  for_runs<2>(it, [&](const i64* off, i64 m) { row(x + off[1], sx, y + off[0], sy, m); });
}

/** y = g * gelu'(x) over a row of m elements, W at a time (the tail and strided rows lane by lane). */
template <typename T, int W>
DL_INLINE void gelu_backward_row(const T* g, i64 sg, const T* x, i64 sx, T* y, i64 sy, i64 m) {
  using V = VecMath<W>;
  i64 i = 0;
  if (sg == 1 && sx == 1 && sy == 1) {
    for (; i + W <= m; i += W) V::store(y + i, V::load(g + i) * V::template erf_fit<V::kGeluGrad>(V::load(x + i)));
  }
  for (; i < m; i += W) {
    const i64 k = imin(W, m - i);
    V::store(y + i * sy, sy, V::load(g + i * sg, sg, k) * V::template erf_fit<V::kGeluGrad>(V::load(x + i * sx, sx, k)), k);
  }
}

template <typename T>
void gelu_backward_row_portable(const T* g, i64 sg, const T* x, i64 sx, T* y, i64 sy, i64 m) {
  gelu_backward_row<T, 2>(g, sg, x, sx, y, sy, m);
}

#if defined(__x86_64__)
template <typename T>
__attribute__((target("avx2,fma"))) void gelu_backward_row_avx2(const T* g, i64 sg, const T* x, i64 sx, T* y, i64 sy, i64 m) {
  gelu_backward_row<T, 4>(g, sg, x, sx, y, sy, m);
}
#endif

template <typename T>
void gelu_backward(const Strided& it, const T* g, const T* x, T* y) {
  void (*row)(const T*, i64, const T*, i64, T*, i64, i64) = gelu_backward_row_portable<T>;
#if defined(__x86_64__)
  if (kernels_use_avx2()) row = gelu_backward_row_avx2<T>;
#endif
  const i64 sy = it.stride[0][0], sg = it.stride[1][0], sx = it.stride[2][0];
  for_runs<3>(it, [&](const i64* off, i64 m) { row(g + off[1], sg, x + off[2], sx, y + off[0], sy, m); });
}

}  // namespace

template <typename T>
void unary(int op, const Strided& it, const T* x, T* y) {
  if constexpr (std::is_integral<T>::value) {
    using U = std::uint32_t;
    switch (op) {
      case kRelu: return run1(it, x, y, [](T v) { return v > 0 ? v : T(0); });
      case kNeg: return run1(it, x, y, [](T v) { return static_cast<T>(U(0) - static_cast<U>(v)); });
      case kAbs: return run1(it, x, y, [](T v) { return v < 0 ? static_cast<T>(U(0) - static_cast<U>(v)) : v; });
      case kSign: return run1(it, x, y, [](T v) { return static_cast<T>((v > 0) - (v < 0)); });
      case kFloor:
      case kCeil:
      case kRound:
      case kCopy: return run1(it, x, y, [](T v) { return v; });
      default: return;
    }
  } else {
    switch (op) {
      case kRelu: return run1(it, x, y, [](T v) { return (v > T(0) || v != v) ? v : T(0); });
      case kNeg: return run1(it, x, y, [](T v) { return -v; });
      case kAbs: return run1(it, x, y, [](T v) { return std::fabs(v); });
      case kSqrt: return run1(it, x, y, [](T v) { return static_cast<T>(std::sqrt(static_cast<double>(v))); });
      case kRsqrt: return run1(it, x, y, [](T v) { return static_cast<T>(1.0 / std::sqrt(static_cast<double>(v))); });
      case kExp: return run_vec<T, kExp>(it, x, y);
      case kTanh: return run_vec<T, kTanh>(it, x, y);
      case kSigmoid: return run_vec<T, kSigmoid>(it, x, y);
      case kGelu: return run_vec<T, kGelu>(it, x, y);
      case kErf: return run_vec<T, kErf>(it, x, y);
      case kSign: return run_vec<T, kSign>(it, x, y);
      case kRound: return run_vec<T, kRound>(it, x, y);
      // The C library, in double (float32 rounded once); floor and ceil are exact in T.
      case kLog: return run1(it, x, y, [](T v) { return static_cast<T>(std::log(static_cast<double>(v))); });
      case kSin: return run1(it, x, y, [](T v) { return static_cast<T>(std::sin(static_cast<double>(v))); });
      case kCos: return run1(it, x, y, [](T v) { return static_cast<T>(std::cos(static_cast<double>(v))); });
      case kFloor: return run1(it, x, y, [](T v) { return std::floor(v); });
      case kCeil: return run1(it, x, y, [](T v) { return std::ceil(v); });
      case kCopy: return run1(it, x, y, [](T v) { return v; });
      default: return;
    }
  }
}

template void binary<float>(int, const Strided&, const float*, const float*, float*);
template void binary<double>(int, const Strided&, const double*, const double*, double*);
template void binary<std::int32_t>(int, const Strided&, const std::int32_t*, const std::int32_t*, std::int32_t*);
template void compare<float>(int, const Strided&, const float*, const float*, std::uint8_t*);
template void compare<double>(int, const Strided&, const double*, const double*, std::uint8_t*);
template void compare<std::int32_t>(int, const Strided&, const std::int32_t*, const std::int32_t*, std::uint8_t*);
template void compare<std::uint8_t>(int, const Strided&, const std::uint8_t*, const std::uint8_t*, std::uint8_t*);
template void where<float>(const Strided&, const std::uint8_t*, const float*, const float*, float*);
template void where<double>(const Strided&, const std::uint8_t*, const double*, const double*, double*);
template void where<std::int32_t>(const Strided&, const std::uint8_t*, const std::int32_t*, const std::int32_t*, std::int32_t*);
template void where<std::uint8_t>(const Strided&, const std::uint8_t*, const std::uint8_t*, const std::uint8_t*, std::uint8_t*);
template void unary<float>(int, const Strided&, const float*, float*);
template void unary<double>(int, const Strided&, const double*, double*);
template void unary<std::int32_t>(int, const Strided&, const std::int32_t*, std::int32_t*);

}  // namespace dl
