// 2-D pooling (max with indices, average) and gradients, float32/float64, with PyTorch's
// semantics (padding is -inf for max, a NaN in a window wins, indices are h * W + w within the
// input plane; average divisors per countIncludePad / divisorOverride). Parallel over planes.
#pragma once

#include <cstdint>

#include "common.h"
#include "conv.h"  // Strides4

namespace dl {

struct PoolGeom {
  i64 N, C, H, W, oh, ow;
  i64 kh, kw, sh, sw, ph, pw, dh, dw;
};

/** y and ind contiguous (N, C, oh, ow). */
template <typename T>
void max_pool2d(const PoolGeom& g, const T* x, Strides4 xs, T* y, std::int32_t* ind);

/** gx contiguous (N, C, H, W), zeroed, then gx[plane][ind] += gy. */
template <typename T>
void max_pool2d_backward(const PoolGeom& g, const T* gy, Strides4 gs, const std::int32_t* ind, Strides4 is, T* gx);

/** divisor_override <= 0: none. y contiguous. */
template <typename T>
void avg_pool2d(const PoolGeom& g, bool count_include_pad, double divisor_override, const T* x, Strides4 xs, T* y);

template <typename T>
void avg_pool2d_backward(const PoolGeom& g, bool count_include_pad, double divisor_override, const T* gy, Strides4 gs, T* gx);

}  // namespace dl
