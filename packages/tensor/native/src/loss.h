// The fused cross-entropy over dim 1 of logits x (N, C) with class-index targets, and its
// gradient (the contracts of crossEntropy / crossEntropyBackward in src/backend/types.ts).
// float32/float64, any strides; rows are independent and spread over the thread pool, each
// accumulated in double in class order (deterministic whatever the thread count).
#pragma once

#include <cstdint>

#include "common.h"

namespace dl {

/** A strided 1-D operand: element i is at p[i * s]. */
template <typename T>
struct StridedVec {
  T* p;
  i64 s;
  T& operator[](i64 i) const { return p[i * s]; }
};

/** A strided 2-D operand: element (n, c) is at p[n * sn + c * sc]. */
template <typename T>
struct StridedMat {
  T* p;
  i64 sn, sc;
  T& operator()(i64 n, i64 c) const { return p[n * sn + c * sc]; }
};

struct CrossEntropyAttrs {
  i64 N, C;
  i64 ignore_index;
  double label_smoothing;
};

/**
 * lse[n] = logsumexp(x[n, :]); loss[n] = 0 for an ignored target, else
 * -(1-e) w[t] logp[n, t] - (e/C) sum_c w[c] logp[n, c] (w = 1 when weight.p is null).
 * Targets must lie in [0, C) or equal ignore_index (the caller checks).
 */
template <typename T>
void cross_entropy(const CrossEntropyAttrs& a, StridedMat<const T> x, StridedVec<const std::int32_t> target,
                   StridedVec<const T> weight, T* loss, T* lse);

/** gx (N, C) contiguous: gx[n, c] = gy[n] ((sum_k a_k) exp(x[n, c] - lse[n]) - a_c); ignored rows 0. */
template <typename T>
void cross_entropy_backward(const CrossEntropyAttrs& a, StridedVec<const T> gy, StridedMat<const T> x,
                            StridedVec<const std::int32_t> target, StridedVec<const T> lse, StridedVec<const T> weight,
                            T* gx);

}  // namespace dl
