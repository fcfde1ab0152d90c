// Reductions: sum over any set of dims (float32/float64, accumulated in double), and
// softmax / logSoftmax along one dim of a contiguous tensor.
#pragma once

#include "common.h"

namespace dl {

/**
 * y[...] = sum of x over the dims where ys == 0 (keepdim form: y has x's rank; reduced dims
 * have stride 0 in `ys`). Any strides for x; y is written through `ys`.
 */
template <typename T>
void sum_reduce(int nd, const i64* shape, const T* x, const i64* xs, T* y, const i64* ys);

/** Along `len` (the reduced dim) of x viewed as (outer, len, inner), contiguous. */
template <typename T>
void softmax(bool log, i64 outer, i64 len, i64 inner, const T* x, T* y);

}  // namespace dl
