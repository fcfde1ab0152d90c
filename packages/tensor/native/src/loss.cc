#include "loss.h"

#include <cmath>
#include <limits>

#include "gemm.h"
#include "thread_pool.h"
#include "vec_math.h"

namespace dl {

namespace {

/** Rows per parallel chunk: about 8 Ki elements. */
i64 row_grain(i64 C) { return imax(1, 8192 / imax(1, C)); }

/**
 * logsumexp of row n, max-subtracted in double (a NaN in the row wins, as softmax), the exps
 * by VecMath (vec_math.h) W at a time and added in class order.
 */
template <typename T, int W>
DL_INLINE double row_lse(StridedMat<const T> x, i64 n, i64 C) {
  using V = VecMath<W>;
  const T* xr = x.p + n * x.sn;
  const double m = V::max_row(xr, x.sc, C);
  return m + std::log(V::sum_exp_row(xr, x.sc, C, m, nullptr));
}

template <typename T, int W>
DL_INLINE void ce_rows(const CrossEntropyAttrs& a, StridedMat<const T> x, StridedVec<const std::int32_t> target,
                       StridedVec<const T> weight, T* loss, T* lse, i64 b, i64 end) {
  const double e = a.label_smoothing;
  for (i64 n = b; n < end; n++) {
    const double l = row_lse<T, W>(x, n, a.C);
    lse[n] = static_cast<T>(l);
    const i64 t = target[n];
    double v = 0;
    if (t != a.ignore_index) {
      const double wt = weight.p ? static_cast<double>(weight[t]) : 1.0;
      v = -(1 - e) * wt * (static_cast<double>(x(n, t)) - l);
      if (e > 0) {
        // Classes of weight 0 do not contribute (not even 0 * -inf).
        double s = 0;
        for (i64 c = 0; c < a.C; c++) {
          const double wc = weight.p ? static_cast<double>(weight[c]) : 1.0;
          if (wc != 0) s += wc * (static_cast<double>(x(n, c)) - l);
        }
        v -= e / static_cast<double>(a.C) * s;
      }
    }
    loss[n] = static_cast<T>(v);
  }
}

template <typename T>
void ce_rows_portable(const CrossEntropyAttrs& a, StridedMat<const T> x, StridedVec<const std::int32_t> target,
                      StridedVec<const T> weight, T* loss, T* lse, i64 b, i64 end) {
  ce_rows<T, 2>(a, x, target, weight, loss, lse, b, end);
}

/** Rows [b, end) of the gradient (see cross_entropy_backward), W classes at a time. */
template <typename T, int W>
DL_INLINE void ce_backward_rows(const CrossEntropyAttrs& a, StridedVec<const T> gy, StridedMat<const T> x,
                                StridedVec<const std::int32_t> target, StridedVec<const T> lse,
                                StridedVec<const T> weight, double wsum, T* gx, i64 b, i64 end) {
  using V = VecMath<W>;
  using D = typename V::D;
  const i64 C = a.C;
  const double e = a.label_smoothing;
  const double smooth = e / static_cast<double>(C);
  typename V::U lane{};  // lane j holds class c + j
  for (int j = 0; j < W; j++) lane[j] = static_cast<std::uint64_t>(j);
  for (i64 n = b; n < end; n++) {
    T* out = gx + n * C;
    const i64 t = target[n];
    if (t == a.ignore_index) {
      for (i64 c = 0; c < C; c++) out[c] = 0;
      continue;
    }
    const double g = gy[n], l = lse[n];
    const double hot = (1 - e) * (weight.p ? static_cast<double>(weight[t]) : 1.0);
    const double total = hot + smooth * wsum;
    const T* xr = x.p + n * x.sn;
    for (i64 c = 0; c < C; c += W) {
      const i64 k = imin(W, C - c);
      const D wc = weight.p ? V::load(weight.p + c * weight.s, weight.s, k) : V::splat(1.0);
      const D ac = smooth * wc + ((lane + static_cast<std::uint64_t>(c - t)) == 0 ? V::splat(hot) : D{});
      V::store(out + c, 1, g * (total * V::exp(V::load(xr + c * x.sc, x.sc, k) - l) - ac), k);
    }
  }
}

template <typename T>
void ce_backward_rows_portable(const CrossEntropyAttrs& a, StridedVec<const T> gy, StridedMat<const T> x,
                               StridedVec<const std::int32_t> target, StridedVec<const T> lse,
                               StridedVec<const T> weight, double wsum, T* gx, i64 b, i64 end) {
  ce_backward_rows<T, 2>(a, gy, x, target, lse, weight, wsum, gx, b, end);
}

#if defined(__x86_64__)
template <typename T>
__attribute__((target("avx2,fma"))) void ce_rows_avx2(const CrossEntropyAttrs& a, StridedMat<const T> x,
                                                       StridedVec<const std::int32_t> target,
                                                       StridedVec<const T> weight, T* loss, T* lse, i64 b, i64 end) {
  ce_rows<T, 4>(a, x, target, weight, loss, lse, b, end);
}

template <typename T>
__attribute__((target("avx2,fma"))) void ce_backward_rows_avx2(const CrossEntropyAttrs& a, StridedVec<const T> gy,
                                                                StridedMat<const T> x,
                                                                StridedVec<const std::int32_t> target,
                                                                StridedVec<const T> lse, StridedVec<const T> weight,
                                                                double wsum, T* gx, i64 b, i64 end) {
  ce_backward_rows<T, 4>(a, gy, x, target, lse, weight, wsum, gx, b, end);
}
#endif

}  // namespace

template <typename T>
void cross_entropy(const CrossEntropyAttrs& a, StridedMat<const T> x, StridedVec<const std::int32_t> target,
                   StridedVec<const T> weight, T* loss, T* lse) {
  auto rows = ce_rows_portable<T>;
#if defined(__x86_64__)
  if (kernels_use_avx2()) rows = ce_rows_avx2<T>;
#endif
  parallel_chunks(a.N, row_grain(a.C), [&](i64 b, i64 end) { rows(a, x, target, weight, loss, lse, b, end); });
}

template <typename T>
void cross_entropy_backward(const CrossEntropyAttrs& a, StridedVec<const T> gy, StridedMat<const T> x,
                            StridedVec<const std::int32_t> target, StridedVec<const T> lse, StridedVec<const T> weight,
                            T* gx) {
  auto rows = ce_backward_rows_portable<T>;
#if defined(__x86_64__)
  if (kernels_use_avx2()) rows = ce_backward_rows_avx2<T>;
#endif
  // sum_k a_k = (1 - e) w[t] + (e / C) sum_c w[c]
  double wsum = static_cast<double>(a.C);
  if (weight.p) {
    wsum = 0;
    for (i64 c = 0; c < a.C; c++) wsum += static_cast<double>(weight[c]);
  }
  parallel_chunks(a.N, row_grain(a.C),
                  [&](i64 b, i64 end) { rows(a, gy, x, target, lse, weight, wsum, gx, b, end); });
}

template void cross_entropy<float>(const CrossEntropyAttrs&, StridedMat<const float>, StridedVec<const std::int32_t>,
                                   StridedVec<const float>, float*, float*);
template void cross_entropy<double>(const CrossEntropyAttrs&, StridedMat<const double>, StridedVec<const std::int32_t>,
                                    StridedVec<const double>, double*, double*);
template void cross_entropy_backward<float>(const CrossEntropyAttrs&, StridedVec<const float>, StridedMat<const float>,
                                            StridedVec<const std::int32_t>, StridedVec<const float>,
                                            StridedVec<const float>, float*);
template void cross_entropy_backward<double>(const CrossEntropyAttrs&, StridedVec<const double>, StridedMat<const double>,
                                             StridedVec<const std::int32_t>, StridedVec<const double>,
                                             StridedVec<const double>, double*);

}  // namespace dl
