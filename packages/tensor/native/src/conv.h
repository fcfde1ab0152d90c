// 2-D convolution (cross-correlation, as PyTorch) forward and both gradients, float32/float64.
// im2col + GEMM where the "column matrix" is never materialised for forward and weight
// gradient: the GEMM's B packer reads the image through offset tables (see gemm.h). Parallel
// over the batch (and, when the batch is smaller than the pool, over output pixels).
#pragma once

#include "common.h"

namespace dl {

struct ConvGeom {
  i64 N, C, H, W;     // input
  i64 O, kh, kw;      // weight (O, C / G, kh, kw)
  i64 oh, ow;         // output
  i64 sh, sw, ph, pw, dh, dw;
  i64 G;              // groups
};

/** A strided 4-D view: element (a, b, c, d) is at base[a*s0 + b*s1 + c*s2 + d*s3]. */
struct Strides4 {
  i64 s0, s1, s2, s3;
};

/** y (contiguous N, O, oh, ow) = conv(x, w) + bias (bias may be null; bias[o * bs]). */
template <typename T>
void conv2d_forward(const ConvGeom& g, const T* x, Strides4 xs, const T* w, Strides4 ws, const T* bias, i64 bs, T* y);

/** gx (contiguous N, C, H, W) = gradient of the input from gy (N, O, oh, ow). */
template <typename T>
void conv2d_backward_input(const ConvGeom& g, const T* gy, Strides4 gs, const T* w, Strides4 ws, T* gx);

/** gw (contiguous O, C / G, kh, kw) = gradient of the weight from gy and x. */
template <typename T>
void conv2d_backward_weight(const ConvGeom& g, const T* gy, Strides4 gs, const T* x, Strides4 xs, T* gw);

}  // namespace dl
