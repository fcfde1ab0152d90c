// Unary elementwise ops and clamp over any strides (the generic kernel of common.cuh).
//
// Semantics are the CPU backend's (backend/cpu/elementwise.ts): float-only ops (exp ... erf)
// take float32/float64 and compute in the input's precision (float32 with the CUDA float
// functions); integer ops wrap like int32/uint8 in C; round is half to even (rint); sign and
// relu keep NaN and give +0 for -0; gelu is the exact erf form, with erfc for the negative tail.
// Ops that are the identity on integers (floor, ceil, round) or bool (abs, neg, relu, sign)
// still copy. logicalNot gives bool.
#include "common.cuh"

namespace dl::cuda {

namespace {

template <int OP, int DT>
struct UnaryOp {
  using T = storage_t<DT>;
  __device__ T operator()(T x) const {
    if constexpr (is_float_dt(DT)) {
      constexpr bool F = DT == kFloat32;
      if constexpr (OP == kOp_neg) return -x;
      else if constexpr (OP == kOp_abs) { if constexpr (F) return fabsf(x); else return fabs(x); }
      else if constexpr (OP == kOp_exp) { if constexpr (F) return expf(x); else return exp(x); }
      else if constexpr (OP == kOp_log) { if constexpr (F) return logf(x); else return log(x); }
      else if constexpr (OP == kOp_sqrt) { if constexpr (F) return sqrtf(x); else return sqrt(x); }
      else if constexpr (OP == kOp_rsqrt) { if constexpr (F) return rsqrtf(x); else return rsqrt(x); }
      else if constexpr (OP == kOp_sin) { if constexpr (F) return sinf(x); else return sin(x); }
      else if constexpr (OP == kOp_cos) { if constexpr (F) return cosf(x); else return cos(x); }
      else if constexpr (OP == kOp_tanh) { if constexpr (F) return tanhf(x); else return tanh(x); }
      else if constexpr (OP == kOp_sigmoid) {
        // exp of a non-positive number only: no overflow for large |x|; NaN stays NaN.
        if constexpr (F) {
          if (x >= 0) return 1.0f / (1.0f + expf(-x));
          const float e = expf(x);
          return e / (1.0f + e);
        } else {
          if (x >= 0) return 1.0 / (1.0 + exp(-x));
          const double e = exp(x);
          return e / (1.0 + e);
        }
      } else if constexpr (OP == kOp_relu) return (x > 0 || x != x) ? x : T(0);
      else if constexpr (OP == kOp_gelu) {
        // x/2 * (1 + erf(z)), z = x/sqrt(2); 1 + erf(z) = erfc(-z), exact in the tail, for z < -1.
        if constexpr (F) {
          const float z = x * 0.70710678118654752f;
          const float h = z < -1.0f ? erfcf(-z) : 1.0f + erff(z);
          return x * 0.5f * h;
        } else {
          const double z = x * 0.70710678118654752440;
          const double h = z < -1.0 ? erfc(-z) : 1.0 + erf(z);
          return x * 0.5 * h;
        }
      } else if constexpr (OP == kOp_erf) { if constexpr (F) return erff(x); else return erf(x); }
      else if constexpr (OP == kOp_sign) return x > 0 ? T(1) : x < 0 ? T(-1) : x == 0 ? T(0) : x;
      else if constexpr (OP == kOp_floor) { if constexpr (F) return floorf(x); else return floor(x); }
      else if constexpr (OP == kOp_ceil) { if constexpr (F) return ceilf(x); else return ceil(x); }
      else if constexpr (OP == kOp_round) { if constexpr (F) return rintf(x); else return rint(x); }
      else static_assert(OP < 0, "not a float unary op");
    } else if constexpr (DT == kInt32) {
      const uint32_t u = static_cast<uint32_t>(x);
      if constexpr (OP == kOp_neg) return static_cast<int32_t>(0u - u);
      else if constexpr (OP == kOp_abs) return x < 0 ? static_cast<int32_t>(0u - u) : x;
      else if constexpr (OP == kOp_relu) return x > 0 ? x : 0;
      else if constexpr (OP == kOp_sign) return (x > 0) - (x < 0);
      else if constexpr (OP == kOp_floor || OP == kOp_ceil || OP == kOp_round) return x;
      else static_assert(OP < 0, "not an int32 unary op");
    } else if constexpr (DT == kUInt8) {
      if constexpr (OP == kOp_neg) return static_cast<uint8_t>(0u - x);
      else if constexpr (OP == kOp_sign) return x > 0 ? 1 : 0;
      else if constexpr (OP == kOp_abs || OP == kOp_relu || OP == kOp_floor || OP == kOp_ceil || OP == kOp_round) return x;
      else static_assert(OP < 0, "not a uint8 unary op");
    } else {
      // bool: every one of these maps 0 to 0 and 1 to a nonzero value, stored as 1.
      if constexpr (OP == kOp_neg || OP == kOp_abs || OP == kOp_relu || OP == kOp_sign || OP == kOp_floor ||
                    OP == kOp_ceil || OP == kOp_round)
        return x != 0 ? 1 : 0;
      else static_assert(OP < 0, "not a bool unary op");
    }
  }
};

template <int OP, int DT>
struct UnaryAt {
  using T = storage_t<DT>;
  const T* x;
  T* y;
  __device__ void operator()(const int64_t (&o)[2]) const { y[o[0]] = UnaryOp<OP, DT>{}(x[o[1]]); }
};

template <int DT>
struct LogicalNotAt {
  const storage_t<DT>* x;
  uint8_t* y;
  __device__ void operator()(const int64_t (&o)[2]) const { y[o[0]] = x[o[1]] == 0 ? 1 : 0; }
};

template <int DT>
struct ClampAt {
  using T = storage_t<DT>;
  const T* x;
  T* y;
  double lo, hi;
  // min(max(x, lo), hi) in doubles like Math.min/Math.max (NaN wins), then stored as DT.
  __device__ void operator()(const int64_t (&o)[2]) const {
    const double v = static_cast<double>(x[o[1]]);
    double r = v;
    if (v == v) {
      r = v > lo ? v : lo;
      r = r < hi ? r : hi;
    }
    y[o[0]] = from_double<DT>(r);
  }
};

Iter<2> iter2(const Tensor& y, const Tensor& x) { return make_iter<2>(y.rank, y.shape, {y.strides, x.strides}); }

template <int OP, int DT>
void run(const Ctx& c, const Tensor& x, const Tensor& y) {
  using T = storage_t<DT>;
  launch_elementwise(c, iter2(y, x), UnaryAt<OP, DT>{x.as<const T>(), y.as<T>()});
}

#define DL_UNARY_ANY(OP) \
  case OP: DL_SWITCH_ALL(op_name(OP), DT, x.dtype, run<OP, DT>(c, x, y)) break;
#define DL_UNARY_FLOAT(OP) \
  case OP: DL_SWITCH_FLOAT(op_name(OP), DT, x.dtype, run<OP, DT>(c, x, y)) break;

}  // namespace

void unary(const Ctx& c, int op, const Tensor& x, const Tensor& y) {
  switch (op) {
    DL_UNARY_ANY(kOp_neg)
    DL_UNARY_ANY(kOp_abs)
    DL_UNARY_FLOAT(kOp_exp)
    DL_UNARY_FLOAT(kOp_log)
    DL_UNARY_FLOAT(kOp_sqrt)
    DL_UNARY_FLOAT(kOp_rsqrt)
    DL_UNARY_FLOAT(kOp_sin)
    DL_UNARY_FLOAT(kOp_cos)
    DL_UNARY_FLOAT(kOp_tanh)
    DL_UNARY_FLOAT(kOp_sigmoid)
    DL_UNARY_ANY(kOp_relu)
    DL_UNARY_FLOAT(kOp_gelu)
    DL_UNARY_FLOAT(kOp_erf)
    DL_UNARY_ANY(kOp_sign)
    DL_UNARY_ANY(kOp_floor)
    DL_UNARY_ANY(kOp_ceil)
    DL_UNARY_ANY(kOp_round)
    case kOp_logicalNot:
      DL_SWITCH_ALL("logicalNot", DT, x.dtype,
                    launch_elementwise(c, iter2(y, x), LogicalNotAt<DT>{x.as<const storage_t<DT>>(), y.as<uint8_t>()}))
      break;
    default:
      throw Error(std::string("unary: ") + op_name(op) + " is not a unary op");
  }
}

void clamp(const Ctx& c, const Tensor& x, const Tensor& y, double lo, double hi) {
  DL_SWITCH_ALL("clamp", DT, x.dtype,
                launch_elementwise(c, iter2(y, x),
                                   ClampAt<DT>{x.as<const storage_t<DT>>(), y.as<storage_t<DT>>(), lo, hi}))
}

}  // namespace dl::cuda
