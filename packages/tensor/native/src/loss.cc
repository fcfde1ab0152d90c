#include "loss.h"

#include <cmath>
#include <limits>

#include "thread_pool.h"

namespace dl {

namespace {

/** Rows per parallel chunk: about 8 Ki elements. */
i64 row_grain(i64 C) { return imax(1, 8192 / imax(1, C)); }

/** logsumexp of row n, max-subtracted in double (a NaN in the row wins, as softmax). */
template <typename T>
double row_lse(StridedMat<const T> x, i64 n, i64 C) {
  double m = -std::numeric_limits<double>::infinity();
  for (i64 c = 0; c < C; c++) {
    const double v = x(n, c);
    if (v > m || v != v) m = v;
  }
  double s = 0;
  for (i64 c = 0; c < C; c++) s += std::exp(static_cast<double>(x(n, c)) - m);
  return m + std::log(s);
}

}  // namespace

template <typename T>
void cross_entropy(const CrossEntropyAttrs& a, StridedMat<const T> x, StridedVec<const std::int32_t> target,
                   StridedVec<const T> weight, T* loss, T* lse) {
  const double e = a.label_smoothing;
  parallel_chunks(a.N, row_grain(a.C), [&](i64 b, i64 end) {
    for (i64 n = b; n < end; n++) {
      const double l = row_lse(x, n, a.C);
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
  });
}

template <typename T>
void cross_entropy_backward(const CrossEntropyAttrs& a, StridedVec<const T> gy, StridedMat<const T> x,
                            StridedVec<const std::int32_t> target, StridedVec<const T> lse, StridedVec<const T> weight,
                            T* gx) {
  const i64 C = a.C;
  const double e = a.label_smoothing;
  const double smooth = e / static_cast<double>(C);
  // sum_k a_k = (1 - e) w[t] + (e / C) sum_c w[c]
  double wsum = static_cast<double>(C);
  if (weight.p) {
    wsum = 0;
    for (i64 c = 0; c < C; c++) wsum += static_cast<double>(weight[c]);
  }
  parallel_chunks(a.N, row_grain(C), [&](i64 b, i64 end) {
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
      for (i64 c = 0; c < C; c++) {
        const double ac = smooth * (weight.p ? static_cast<double>(weight[c]) : 1.0) + (c == t ? hot : 0.0);
        out[c] = static_cast<T>(g * (total * std::exp(static_cast<double>(x(n, c)) - l) - ac));
      }
    }
  });
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
