#include "elementwise.h"

#include <cmath>
#include <cstring>
#include <type_traits>

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

// One loop per stride combination, so that each is a plain vectorisable loop.
template <typename A, typename Y, class F>
void run2(i64 n, const A* a, int sa, const A* b, int sb, Y* y, F f) {
  parallel_chunks(n, kGrain, [&](i64 s, i64 e) {
    if (sa && sb) {
      for (i64 i = s; i < e; i++) y[i] = f(a[i], b[i]);
    } else if (sa) {
      const A bv = b[0];
      for (i64 i = s; i < e; i++) y[i] = f(a[i], bv);
    } else if (sb) {
      const A av = a[0];
      for (i64 i = s; i < e; i++) y[i] = f(av, b[i]);
    } else {
      const Y v = f(a[0], b[0]);
      for (i64 i = s; i < e; i++) y[i] = v;
    }
  });
}

}  // namespace

template <typename T>
void binary(int op, i64 n, const T* a, int sa, const T* b, int sb, T* y) {
  switch (op) {
    case kAdd: return run2(n, a, sa, b, sb, y, [](T u, T v) { return Ops<T>::add(u, v); });
    case kSub: return run2(n, a, sa, b, sb, y, [](T u, T v) { return Ops<T>::sub(u, v); });
    case kMul: return run2(n, a, sa, b, sb, y, [](T u, T v) { return Ops<T>::mul(u, v); });
    case kDiv: return run2(n, a, sa, b, sb, y, [](T u, T v) { return Ops<T>::div(u, v); });
    case kMaximum: return run2(n, a, sa, b, sb, y, [](T u, T v) { return Ops<T>::maximum(u, v); });
    case kMinimum: return run2(n, a, sa, b, sb, y, [](T u, T v) { return Ops<T>::minimum(u, v); });
    case kReluBackward: return run2(n, a, sa, b, sb, y, [](T u, T v) { return Ops<T>::relu_backward(u, v); });
    default: return;
  }
}

template <typename T>
void compare(int op, i64 n, const T* a, int sa, const T* b, int sb, std::uint8_t* y) {
  using U = std::uint8_t;
  switch (op) {
    case kEq: return run2(n, a, sa, b, sb, y, [](T u, T v) { return static_cast<U>(u == v); });
    case kNe: return run2(n, a, sa, b, sb, y, [](T u, T v) { return static_cast<U>(u != v); });
    case kLt: return run2(n, a, sa, b, sb, y, [](T u, T v) { return static_cast<U>(u < v); });
    case kLe: return run2(n, a, sa, b, sb, y, [](T u, T v) { return static_cast<U>(u <= v); });
    case kGt: return run2(n, a, sa, b, sb, y, [](T u, T v) { return static_cast<U>(u > v); });
    case kGe: return run2(n, a, sa, b, sb, y, [](T u, T v) { return static_cast<U>(u >= v); });
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
void where(i64 n, const std::uint8_t* c, int sc, const T* a, int sa, const T* b, int sb, T* y) {
  parallel_chunks(n, kGrain, [&](i64 s, i64 e) {
    if (sc && sa && sb) {
      for (i64 i = s; i < e; i++) y[i] = select_bits(c[i], a[i], b[i]);
    } else if (sc && sa) {
      const T bv = b[0];
      for (i64 i = s; i < e; i++) y[i] = select_bits(c[i], a[i], bv);
    } else if (sc && sb) {
      const T av = a[0];
      for (i64 i = s; i < e; i++) y[i] = select_bits(c[i], av, b[i]);
    } else {
      for (i64 i = s; i < e; i++) y[i] = select_bits(c[i * sc], a[i * sa], b[i * sb]);
    }
  });
}

template <typename T>
void relu(i64 n, const T* x, T* y) {
  parallel_chunks(n, kGrain, [&](i64 s, i64 e) {
    if constexpr (std::is_integral<T>::value) {
      for (i64 i = s; i < e; i++) y[i] = x[i] > 0 ? x[i] : 0;
    } else {
      for (i64 i = s; i < e; i++) {
        const T v = x[i];
        y[i] = (v > T(0) || v != v) ? v : T(0);
      }
    }
  });
}

template void binary<float>(int, i64, const float*, int, const float*, int, float*);
template void binary<double>(int, i64, const double*, int, const double*, int, double*);
template void binary<std::int32_t>(int, i64, const std::int32_t*, int, const std::int32_t*, int, std::int32_t*);
template void compare<float>(int, i64, const float*, int, const float*, int, std::uint8_t*);
template void compare<double>(int, i64, const double*, int, const double*, int, std::uint8_t*);
template void compare<std::int32_t>(int, i64, const std::int32_t*, int, const std::int32_t*, int, std::uint8_t*);
template void compare<std::uint8_t>(int, i64, const std::uint8_t*, int, const std::uint8_t*, int, std::uint8_t*);
template void where<float>(i64, const std::uint8_t*, int, const float*, int, const float*, int, float*);
template void where<double>(i64, const std::uint8_t*, int, const double*, int, const double*, int, double*);
template void where<std::int32_t>(i64, const std::uint8_t*, int, const std::int32_t*, int, const std::int32_t*, int, std::int32_t*);
template void where<std::uint8_t>(i64, const std::uint8_t*, int, const std::uint8_t*, int, const std::uint8_t*, int, std::uint8_t*);
template void relu<float>(i64, const float*, float*);
template void relu<double>(i64, const double*, double*);
template void relu<std::int32_t>(i64, const std::int32_t*, std::int32_t*);

}  // namespace dl
