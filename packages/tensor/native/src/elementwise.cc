#include "elementwise.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "gemm.h"
#include "thread_pool.h"

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
// exp, tanh, sigmoid, erf, gelu, sign and round are written once over GCC vector types of W
// doubles: every case is computed and the right one picked lane by lane, so they run W
// elements at a time without branches. W = 2 (SSE2, NEON) in the portable build; W = 4 in a
// copy built for AVX2 + FMA, picked at run time like the GEMM micro-kernels (cpuid, unless
// DL_CPU_KERNELS=portable). A float32 operand is widened and its result rounded once, as the
// TypeScript kernels compute in double and store.

// The vector functions are always inlined into their row loop, so 32-byte vectors never cross
// a call; GCC still warns that returning them without AVX changes the ABI, at the end of the
// file (hence no push/pop). They take vectors by reference: the note GCC gives about passing
// them by value cannot be silenced.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace {

#define DL_INLINE inline __attribute__((always_inline))

template <int W>
struct Vec;
template <>
struct Vec<2> {
  typedef double D __attribute__((vector_size(16)));
  typedef std::uint64_t U __attribute__((vector_size(16)));
  typedef float F __attribute__((vector_size(8)));
};
template <>
struct Vec<4> {
  typedef double D __attribute__((vector_size(32)));
  typedef std::uint64_t U __attribute__((vector_size(32)));
  typedef float F __attribute__((vector_size(16)));
};

/** 1 / k! for k <= 13, correctly rounded (k! is exact in a double). */
struct InvFactorials {
  double c[14];
};
constexpr InvFactorials inv_factorials() {
  InvFactorials t{};
  double f = 1;
  for (int k = 0; k < 14; k++) {
    if (k > 1) f *= k;
    t.c[k] = 1 / f;
  }
  return t;
}
constexpr InvFactorials kInvFact = inv_factorials();

template <int W>
struct VecMath {
  using D = typename Vec<W>::D;
  using U = typename Vec<W>::U;
  using F = typename Vec<W>::F;

  static constexpr double kLog2e = 1.4426950408889634;
  static constexpr double kLn2Hi = 0x1.62e42feep-1;  // 32 significant bits: n kLn2Hi is exact for |n| < 2^21
  static constexpr double kLn2Lo = 1.9082149292705877e-10;
  static constexpr double kRoundShift = 6755399441055744.0;  // 1.5 * 2^52: (v + it) - it rounds v to an integer
  static constexpr std::uint64_t kSignBit = 0x8000000000000000ull;

  static DL_INLINE D splat(double v) { return D{} + v; }

  static DL_INLINE D load(const double* p) {
    D v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static DL_INLINE D load(const float* p) {
    F v;
    std::memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, D);
  }
  static DL_INLINE void store(double* p, const D& v) { std::memcpy(p, &v, sizeof v); }
  static DL_INLINE void store(float* p, const D& v) {
    const F f = __builtin_convertvector(v, F);  // rounded once, to nearest
    std::memcpy(p, &f, sizeof f);
  }

  static DL_INLINE D abs(const D& x) { return (D)((U)x & ~kSignBit); }
  /** |m| with the sign of s. */
  static DL_INLINE D copysign(const D& m, const D& s) { return (D)(((U)m & ~kSignBit) | ((U)s & kSignBit)); }
  /** 2^n for integer-valued n in [-1022, 1023] (its low bits after adding kRoundShift). */
  static DL_INLINE D pow2(const D& n) { return (D)(((U)(n + kRoundShift) + 1023) << 52); }
  static DL_INLINE D round_int(const D& v) { return (v + kRoundShift) - kRoundShift; }

  /**
   * exp(x), within about 1 ulp. x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2,
   * exp(r) by its Taylor series to r^13 (the next term is below 6e-18 relative), scaled by
   * 2^n = 2^m 2^(n - m), m = round(n / 2): p 2^m is exact and the second product rounds once,
   * reaching inf or the subnormals only when the result does. Outside [-746, 710] (where n
   * would leave [-1076, 1024]) the result is 0 or inf; NaN gives NaN.
   */
  static DL_INLINE D exp(const D& x) {
    const D n = round_int(x * kLog2e);
    const D r = (x - n * kLn2Hi) - n * kLn2Lo;
    D p = splat(kInvFact.c[13]);
    for (int k = 12; k >= 0; k--) p = p * r + kInvFact.c[k];
    const D m = round_int(n * 0.5);
    const D y = p * pow2(m) * pow2(n - m);
    return x > 710.0 ? splat(std::numeric_limits<double>::infinity()) : x < -746.0 ? D{} : y;
  }

  /**
   * tanh(x) = sign(x) * -e / (2 + e), e = expm1(-2|x|) = (2^n - 1) + 2^n expm1(r) for
   * -2|x| = n ln2 + r (expm1(r) by its Taylor series, as exp), so small |x| keeps its relative
   * accuracy (a few ulp). Above |x| = 20, tanh is 1 to double precision: -2|x| is held at -40.
   * Keeps -0 and NaN; +-inf give +-1.
   */
  static DL_INLINE D tanh(const D& x) {
    const D a = abs(x);
    const D u = a > 20.0 ? splat(-40.0) : -2 * a;
    const D n = round_int(u * kLog2e);
    const D r = (u - n * kLn2Hi) - n * kLn2Lo;
    D q = splat(kInvFact.c[13]);
    for (int k = 12; k >= 1; k--) q = q * r + kInvFact.c[k];
    q = q * r;
    const D s = pow2(n);
    const D e = (s - 1) + s * q;
    return copysign(-e / (2 + e), x);
  }

  // exp of a non-positive number only (no overflow for large |x|): 1 / (1 + exp(-x)) for
  // x >= 0, exp(x) / (1 + exp(x)) below. +-inf give 1 and 0, NaN NaN, -0 0.5.
  static DL_INLINE D sigmoid(const D& x) {
    const D e = exp(-abs(x));
    return (x >= 0.0 ? splat(1.0) : e) / (1 + e);
  }

  /**
   * erf(v), or with kGelu gelu(v) = v * 0.5 * (1 + erf(v / sqrt(2))), by the fit of
   * backend/cpu/erf.ts (see its header: about 3e-16 relative; 1 + erf(z) is erfc(|z|) for
   * z <= -1, so gelu keeps its relative accuracy in the negative tail down to v ~ -8.5, and is
   * -0 below, where 1 + erf(z) rounds to 0). The same operations in the same order as erfRow,
   * so the results agree with the TypeScript kernel's, special values included (gelu(-inf) is
   * NaN, as PyTorch's formula gives).
   */
  template <bool kGelu>
  static DL_INLINE D erf_fit(const D& v) {
    const D z = kGelu ? v * 0.7071067811865476 : v;
    const D az = abs(z);
    // |z| < 1: erf(z) = z P(z^2).
    const D s = z * z;
    const D small =
        z * (1.1283791670955126 + s * (-0.37612638903183754 + s * (0.1128379167095512 + s * (-0.026866170645129854 +
        s * (0.005223977625423455 + s * (-0.0008548327021945428 + s * (0.00012055332903350668 + s * (-1.4925647581008593e-5 +
        s * (1.6462045711013026e-6 + s * (-1.6364645854816389e-7 + s * (1.479243542696247e-8 + s * (-1.2164764337224506e-9 +
        s * (8.709755232851789e-11 + s * -4.2320376764874594e-12)))))))))))));
    // 1 <= |z| < 6: erfc(|z|) = exp(-z^2) G(t), t = ((|z| - 3) / (|z| + 3) + 1/12) * 12/5.
    const D t = ((az - 3) / (az + 3) + 1.0 / 12) * (12.0 / 5);
    const D g =
        0.20798329133342885 + t * (-0.15436117429436919 + t * (0.0496984454033948 + t * (-0.012713147695691885 +
        t * (0.002479314697072364 + t * (-0.00033160296057999636 + t * (1.956358330911832e-5 + t * (2.4255574907734528e-6 +
        t * (-5.541277486699158e-7 + t * (-4.5267543775640776e-9 + t * (1.1340277187747311e-8 + t * (-2.637274148620311e-10 +
        t * (-2.5812754483820615e-10 + t * (5.964757357313207e-12 + t * (6.748923713460816e-12 + t * (4.17650240397811e-14 +
        t * (-1.867773765295233e-13 + t * (-8.766844618747572e-15 + t * 4.418730573272641e-15)))))))))))))))));
    const D c = exp(-az * az) * g;
    const auto neg = z < 0.0;
    const auto inner = az < 1.0;
    const auto mid = (az >= 1.0) & (az < 6.0);
    // |z| >= 6 (or NaN): erf(z) = sign(z) (erfc(6) is below half an ulp of 1).
    const D far = z > 0.0 ? splat(1.0) : neg ? splat(-1.0) : z;
    const D e = inner ? small : mid ? (neg ? c - 1 : 1 - c) : far;  // erf(z)
    if constexpr (!kGelu) return e;
    const D h = mid ? (neg ? c : 2 - c) : 1 + e;  // 1 + erf(z)
    return v * 0.5 * h;
  }

  // -1, 0 or 1; sign(-0) = 0; NaN stays NaN.
  static DL_INLINE D sign(const D& x) { return x > 0.0 ? splat(1.0) : x < 0.0 ? splat(-1.0) : x == 0.0 ? D{} : x; }

  // Half to even: below 2^52, |v| + 2^52 rounds to an integer in the default rounding mode
  // (ties to even); the sign is put back, so (-0.5, -0] gives -0. Larger values, inf and NaN
  // are kept.
  static DL_INLINE D round(const D& x) {
    constexpr double kTwo52 = 4503599627370496.0;
    const D a = abs(x);
    return copysign(a < kTwo52 ? (a + kTwo52) - kTwo52 : a, x);
  }

  template <int OP>
  static DL_INLINE D apply(const D& x) {
    if constexpr (OP == kExp) return exp(x);
    else if constexpr (OP == kTanh) return tanh(x);
    else if constexpr (OP == kSigmoid) return sigmoid(x);
    else if constexpr (OP == kErf) return erf_fit<false>(x);
    else if constexpr (OP == kGelu) return erf_fit<true>(x);
    else if constexpr (OP == kSign) return sign(x);
    else return round(x);
  }
};

/** y = op(x) over a row of m elements, W at a time (the tail and strided rows through a buffer). */
template <typename T, int OP, int W>
DL_INLINE void vec_row(const T* x, i64 sx, T* y, i64 sy, i64 m) {
  using V = VecMath<W>;
  i64 i = 0;
  if (sx == 1 && sy == 1) {
    for (; i + W <= m; i += W) V::store(y + i, V::template apply<OP>(V::load(x + i)));
  }
  for (; i < m; i += W) {
    const i64 k = imin(W, m - i);
    T in[W] = {};
    T out[W];
    for (i64 j = 0; j < k; j++) in[j] = x[(i + j) * sx];
    V::store(out, V::template apply<OP>(V::load(in)));
    for (i64 j = 0; j < k; j++) y[(i + j) * sy] = out[j];
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
      case kRound: return run1(it, x, y, [](T v) { return v; });
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
