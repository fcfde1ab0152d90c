// Layer normalization over the last dims and batch normalization over dim 1, and their gradients
// (the contracts of layerNorm, layerNormBackward, batchNorm and batchNormBackward in src/backend/types.ts).
// Layer norm: x is R contiguous rows of C. Rows are spread over
// the thread pool, the weight and bias gradients' column sums over columns; every sum is
// accumulated in double in order (rows in order for the column sums), as the TypeScript kernels
// (src/backend/cpu/norm.ts) do, so both give the same bits whatever the thread count.
#pragma once

#include "common.h"

namespace dl {

/** y = (x - mean) rstd * w + b per row (w, b null when absent); mean and rstd: R each. */
template <typename T>
void layer_norm(i64 R, i64 C, double eps, const T* x, const T* w, const T* b, T* y, T* mean, T* rstd);

/** gx, gw (C) and gb (C) from gy, x, the forward's mean and rstd, and w (null when absent). */
template <typename T>
void layer_norm_backward(i64 R, i64 C, const T* gy, const T* x, const T* mean, const T* rstd, const T* w, T* gx, T* gw,
                         T* gb);

/**
 * Batch normalization with the batch's statistics, x seen as [N, C, S]: y = (x - mean) rstd * w + b
 * per channel (w, b null when absent); mean and var (biased): C each. Channels are spread over the
 * thread pool; each channel's statistics take one pass over its S-runs in order, each run in eight
 * double lanes, as the TypeScript kernels do, so both give the same bits.
 */
template <typename T>
void batch_norm(i64 N, i64 C, i64 S, double eps, const T* x, const T* w, const T* b, T* y, T* mean, T* var);

/** gx, gw (C) and gb (C) from gy, x, the forward's mean and var, and w (null when absent). */
template <typename T>
void batch_norm_backward(i64 N, i64 C, i64 S, double eps, const T* gy, const T* x, const T* mean, const T* var, const T* w,
                         T* gx, T* gw, T* gb);

}  // namespace dl
