// Fused optimizer updates (torch.optim SGD and Adam/AdamW, foreach=False): one call updates a
// list of parameters in place, parallel over the thread pool in fixed chunks of each tensor.
// Each element goes through exactly the operations of @dl/optim's per-tensor path, in T
// (every intermediate rounded to T, no contraction into FMA: -std=c++17 keeps -ffp-contract=off),
// so the results are the same bits as that path's and as the TypeScript kernels'.
#pragma once

#include <vector>

#include "common.h"

namespace dl {

/** The hyperparameters of SgdStepAttrs (src/backend/types.ts). */
struct SgdAttrs {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize, first_step;
};

/** One parameter: n contiguous elements of each; buf is null without momentum. */
template <typename T>
struct SgdTensor {
  T* p;
  const T* g;
  T* buf;
  i64 n;
};

/** Adam/AdamW hyperparameters; step_size = lr / (1 - beta1^t) and bias_correction2_sqrt =
 *  sqrt(1 - beta2^t) come from the caller (computed once, as the per-tensor path does). */
struct AdamAttrs {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay, maximize;
  double step_size, bias_correction2_sqrt;
};

/** One parameter: n contiguous elements of each; vmax (maxExpAvgSq) is null without amsgrad. */
template <typename T>
struct AdamTensor {
  T* p;
  const T* g;
  T* m;
  T* v;
  T* vmax;
  i64 n;
};

template <typename T>
void sgd_step(const SgdAttrs& a, const std::vector<SgdTensor<T>>& ts);

template <typename T>
void adam_step(const AdamAttrs& a, const std::vector<AdamTensor<T>>& ts);

}  // namespace dl
