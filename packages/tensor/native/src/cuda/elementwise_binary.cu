// Binary elementwise ops and where over any strides (broadcast operands have stride 0).
//
// As the CPU backend (backend/cpu/elementwise.ts): arithmetic keeps the operands' dtype and
// wraps on int32/uint8 (int32 through uint32 arithmetic, so no signed overflow); pow on
// integers is integer power (negative exponents: 1 for base 1, +-1 for base -1, else 0);
// maximum/minimum propagate NaN; bool arithmetic is stored as (result != 0), which makes add
// an or and sub a xor; comparisons and logical ops give bool. div is float only.
#include "common.cuh"

namespace dl::cuda {

namespace {

/** base^e with int32 wrap-around (PyTorch's integer pow). */
__device__ inline int32_t int_pow(int32_t base, int32_t e) {
  if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint32_t r = 1, b = static_cast<uint32_t>(base);
  for (uint32_t k = static_cast<uint32_t>(e); k != 0; k >>= 1) {
    if (k & 1) r *= b;
    b *= b;
  }
  return static_cast<int32_t>(r);
}

constexpr bool is_bool_result(int op) {
  return op == kOp_eq || op == kOp_ne || op == kOp_lt || op == kOp_le || op == kOp_gt || op == kOp_ge ||
         op == kOp_logicalAnd || op == kOp_logicalOr;
}

template <int OP, int DT>
struct BinaryOp {
  using T = storage_t<DT>;
  using Out = std::conditional_t<is_bool_result(OP), uint8_t, T>;
  __device__ Out operator()(T a, T b) const {
    if constexpr (OP == kOp_eq) return a == b;
    else if constexpr (OP == kOp_ne) return a != b;
    else if constexpr (OP == kOp_lt) return a < b;
    else if constexpr (OP == kOp_le) return a <= b;
    else if constexpr (OP == kOp_gt) return a > b;
    else if constexpr (OP == kOp_ge) return a >= b;
    else if constexpr (OP == kOp_logicalAnd) return a != 0 && b != 0;
    else if constexpr (OP == kOp_logicalOr) return a != 0 || b != 0;
    else if constexpr (is_float_dt(DT)) {
      if constexpr (OP == kOp_add) return a + b;
      else if constexpr (OP == kOp_sub) return a - b;
      else if constexpr (OP == kOp_mul) return a * b;
      else if constexpr (OP == kOp_div) return a / b;
      else if constexpr (OP == kOp_pow) { if constexpr (DT == kFloat32) return powf(a, b); else return pow(a, b); }
      else if constexpr (OP == kOp_maximum) return (a > b || a != a) ? a : b;
      else if constexpr (OP == kOp_minimum) return (a < b || a != a) ? a : b;
      else if constexpr (OP == kOp_reluBackward) return b > T(0) ? a : T(0);  // NaN in b gives 0
      else if constexpr (OP == kOp_geluBackward) {
        // a * (Phi(b) + b phi(b)); 1 + erf(z) = erfc(-z), exact in the tail, for z < -1 (as gelu);
        // the density term is 0 where its exp is (its limit, also at +-inf).
        if constexpr (DT == kFloat32) {
          const float z = b * 0.70710678118654752f;
          const float h = z < -1.0f ? erfcf(-z) : 1.0f + erff(z);
          const float d = expf(-0.5f * b * b);
          return a * (0.5f * h + (d == 0.0f ? 0.0f : b * (d * 0.39894228040143268f)));
        } else {
          const double z = b * 0.70710678118654752440;
          const double h = z < -1.0 ? erfc(-z) : 1.0 + erf(z);
          const double d = exp(-0.5 * b * b);
          return a * (0.5 * h + (d == 0.0 ? 0.0 : b * (d * 0.39894228040143268)));
        }
      } else static_assert(OP < 0, "not a float binary op");
    } else {
      // Integers and bool: exact in int32 arithmetic (uint32 for the wrap), then stored as T.
      const uint32_t ua = static_cast<uint32_t>(a), ub = static_cast<uint32_t>(b);
      int32_t r;
      if constexpr (OP == kOp_add) r = static_cast<int32_t>(ua + ub);
      else if constexpr (OP == kOp_sub) r = static_cast<int32_t>(ua - ub);
      else if constexpr (OP == kOp_mul) r = static_cast<int32_t>(ua * ub);
      else if constexpr (OP == kOp_pow) r = int_pow(static_cast<int32_t>(a), static_cast<int32_t>(b));
      else if constexpr (OP == kOp_maximum) r = a > b ? a : b;
      else if constexpr (OP == kOp_minimum) r = a < b ? a : b;
      else if constexpr (OP == kOp_reluBackward) r = b > 0 ? a : 0;
      else static_assert(OP < 0, "not an integer binary op");
      if constexpr (DT == kBool) return r != 0 ? 1 : 0;
      else return static_cast<T>(r);
    }
  }
};

template <int OP, int DT>
struct BinaryAt {
  using T = storage_t<DT>;
  using Out = typename BinaryOp<OP, DT>::Out;
  const T* a;
  const T* b;
  Out* y;
  __device__ void operator()(const int64_t (&o)[3]) const { y[o[0]] = BinaryOp<OP, DT>{}(a[o[1]], b[o[2]]); }
};

template <int DT>
struct WhereAt {
  using T = storage_t<DT>;
  const uint8_t* c;
  const T* a;
  const T* b;
  T* y;
  __device__ void operator()(const int64_t (&o)[4]) const { y[o[0]] = c[o[1]] != 0 ? a[o[2]] : b[o[3]]; }
};

template <int OP, int DT>
void run(const Ctx& c, const Tensor& a, const Tensor& b, const Tensor& y) {
  using T = storage_t<DT>;
  using Out = typename BinaryOp<OP, DT>::Out;
  const Iter<3> it = make_iter<3>(y.rank, y.shape, {y.strides, a.strides, b.strides});
  launch_elementwise(c, it, BinaryAt<OP, DT>{a.as<const T>(), b.as<const T>(), y.as<Out>()});
}

#define DL_BINARY_ANY(OP) \
  case OP: DL_SWITCH_ALL(op_name(OP), DT, a.dtype, run<OP, DT>(c, a, b, y)) break;

}  // namespace

void binary(const Ctx& c, int op, const Tensor& a, const Tensor& b, const Tensor& y) {
  switch (op) {
    DL_BINARY_ANY(kOp_add)
    DL_BINARY_ANY(kOp_sub)
    DL_BINARY_ANY(kOp_mul)
    case kOp_div: DL_SWITCH_FLOAT("div", DT, a.dtype, run<kOp_div, DT>(c, a, b, y)) break;
    DL_BINARY_ANY(kOp_pow)
    DL_BINARY_ANY(kOp_maximum)
    DL_BINARY_ANY(kOp_minimum)
    DL_BINARY_ANY(kOp_reluBackward)
    case kOp_geluBackward: DL_SWITCH_FLOAT("geluBackward", DT, a.dtype, run<kOp_geluBackward, DT>(c, a, b, y)) break;
    DL_BINARY_ANY(kOp_eq)
    DL_BINARY_ANY(kOp_ne)
    DL_BINARY_ANY(kOp_lt)
    DL_BINARY_ANY(kOp_le)
    DL_BINARY_ANY(kOp_gt)
    DL_BINARY_ANY(kOp_ge)
    DL_BINARY_ANY(kOp_logicalAnd)
    DL_BINARY_ANY(kOp_logicalOr)
    default:
      throw Error(std::string("binary: ") + op_name(op) + " is not a binary op");
  }
}

void where(const Ctx& c, const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& y) {
  const Iter<4> it = make_iter<4>(y.rank, y.shape, {y.strides, cond.strides, a.strides, b.strides});
  DL_SWITCH_ALL("where", DT, a.dtype,
                launch_elementwise(c, it,
                                   WhereAt<DT>{cond.as<const uint8_t>(), a.as<const storage_t<DT>>(),
                                               b.as<const storage_t<DT>>(), y.as<storage_t<DT>>()}))
}

}  // namespace dl::cuda
