// Branch-free vector math in double over GCC vector types, shared by the float kernels of
// elementwise.cc (exp, tanh, sigmoid, erf, gelu, sign, round), reduce.cc (softmax,
// logSoftmax) and loss.cc (cross-entropy). VecMath<W> works on W doubles at a time: every case
// is computed and the right one picked lane by lane, without branches. W = 2 (SSE2, NEON) in
// the portable build; W = 4 in the kernels' copies built with
// __attribute__((target("avx2,fma"))) and picked at run time like the GEMM micro-kernels
// (kernels_use_avx2(): cpuid, unless DL_CPU_KERNELS=portable). Everything here is always
// inlined, so it is compiled for the target of the kernel that calls it. A float32 operand is
// widened on load and its result rounded once on store, as the TypeScript kernels compute in
// double and store.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

#include "common.h"

// The vector functions are always inlined into their row loops, so 32-byte vectors never cross
// a call; GCC still warns that returning them without AVX changes the ABI, at the end of the
// translation unit (hence no push/pop: this stays in force in every file that includes this
// one). They take vectors by reference: the note GCC gives about passing them by value cannot
// be silenced.
#pragma GCC diagnostic ignored "-Wpsabi"

#define DL_INLINE inline __attribute__((always_inline))

namespace dl {

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
inline constexpr InvFactorials kInvFact = inv_factorials();

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

  /** x[0], x[s], ..., x[(k - 1) s] (k <= W; the lanes from k on are 0). */
  template <typename T>
  static DL_INLINE D load(const T* x, i64 s, i64 k) {
    if (s == 1 && k == W) return load(x);
    T in[W] = {};
    for (i64 j = 0; j < k; j++) in[j] = x[j * s];
    return load(in);
  }
  /** Lanes 0 .. k - 1 of v to y[0], y[s], ..., y[(k - 1) s]. */
  template <typename T>
  static DL_INLINE void store(T* y, i64 s, const D& v, i64 k) {
    if (s == 1 && k == W) return store(y, v);
    T out[W];
    store(out, v);
    for (i64 j = 0; j < k; j++) y[j * s] = out[j];
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

  /** What erf_fit computes: erf(v), gelu(v), or gelu'(v) = Phi(v) + v phi(v). */
  enum ErfMode { kErf, kGelu, kGeluGrad };

  /**
   * erf(v), or with kGelu gelu(v) = v * 0.5 * (1 + erf(v / sqrt(2))), by the fit of
   * backend/cpu/erf.ts (see its header: about 3e-16 relative; 1 + erf(z) is erfc(|z|) for
   * z <= -1, so gelu keeps its relative accuracy in the negative tail down to v ~ -8.5, and is
   * -0 below, where 1 + erf(z) rounds to 0). The same operations in the same order as erfRow,
   * so the results agree with the TypeScript kernel's, special values included (gelu(-inf) is
   * NaN, as PyTorch's formula gives). kGeluGrad gives gelu's derivative from the same
   * 1 + erf(z): 0.5 (1 + erf(z)) + v exp(-v^2 / 2) / sqrt(2 pi), whose second term is 0 where
   * the exp is (so gelu'(+-inf) is 1 and 0, where PyTorch's formula gives inf * 0 = NaN).
   */
  template <int kMode>
  static DL_INLINE D erf_fit(const D& v) {
    const D z = kMode != kErf ? v * 0.7071067811865476 : v;
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
    if constexpr (kMode == kErf) return e;
    const D h = mid ? (neg ? c : 2 - c) : 1 + e;  // 1 + erf(z)
    if constexpr (kMode == kGelu) return v * 0.5 * h;
    const D d = exp(-0.5 * v * v);  // 0 from |v| ~ 38.6 on: the density term's limit, also at +-inf
    return 0.5 * h + (d == 0.0 ? D{} : v * (d * 0.3989422804014327));
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

  /** max of x[0], x[s], ..., x[(n - 1) s] in double, -inf for n = 0; a NaN wins. */
  template <typename T>
  static DL_INLINE double max_row(const T* x, i64 s, i64 n) {
    D mv = splat(-std::numeric_limits<double>::infinity());
    i64 i = 0;
    for (; i + W <= n; i += W) {
      const D v = load(x + i * s, s, W);
      mv = (v > mv) | (v != v) ? v : mv;
    }
    double m = mv[0];
    for (int j = 1; j < W; j++)
      if (mv[j] > m || mv[j] != mv[j]) m = mv[j];
    for (; i < n; i++) {
      const double v = x[i * s];
      if (v > m || v != v) m = v;
    }
    return m;
  }

  /**
   * sum of exp(x[i s] - m) over i < n, added in order in double; each exp is also stored to
   * e[i] when e is not null.
   */
  template <typename T>
  static DL_INLINE double sum_exp_row(const T* x, i64 s, i64 n, double m, double* e) {
    const D mv = splat(m);
    double t = 0;
    i64 i = 0;
    for (; i + W <= n; i += W) {
      const D v = exp(load(x + i * s, s, W) - mv);
      if (e) store(e + i, v);
      for (int j = 0; j < W; j++) t += v[j];
    }
    if (i < n) {
      const i64 k = n - i;
      const D v = exp(load(x + i * s, s, k) - mv);
      if (e) store(e + i, 1, v, k);
      for (i64 j = 0; j < k; j++) t += v[j];
    }
    return t;
  }
};

}  // namespace dl
