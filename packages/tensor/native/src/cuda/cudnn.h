// cuDNN, loaded at run time with dlopen like cuBLAS (dynlib.h): conv2d and its two gradients go
// through cuDNN's legacy convolution API when it is found, with deterministic algorithms and fp32
// kept fp32 (no TF32); without it, or for a case it declines, conv.cu's own kernels run. See
// cudnn.cc.
#pragma once

#include <cuda_runtime_api.h>

#include "dynlib.h"
#include "kernels.h"

namespace dl::cuda {

/**
 * Loads the library on the first call; never throws. Looked for: $DL_CUDNN_PATH (the library
 * file or its folder), then libcudnn.so.9, .8 and libcudnn.so by the loader's search path and
 * in the CUDA toolkit. DL_CUDNN=0 turns it off. `calls` counts the passes cuDNN ran.
 */
LibraryInfo cudnn_info();

/** A cuDNN handle on `stream` with its plan cache, or null (the reason goes to cudnn_info().error). */
void* cudnn_create(cudaStream_t stream, int device);

enum class ConvPass { kForward, kBackwardData, kBackwardFilter };

/**
 * One pass of conv2d through cuDNN, for x (N, C, H, W), w (O, C/G, kh, kw) and y (N, O, oh, ow):
 * the forward pass writes y (adding to what y holds when `accumulate`), backward data writes x
 * from y and w, backward filter writes w from x and y. Returns false when cuDNN cannot take this
 * case (no handle, sizes past int32, an unpacked filter, broadcast strides, no deterministic
 * non-TF32 algorithm, or a first run that cuDNN refuses as unsupported or a bad parameter, which
 * cudnn_info().error then names), and the caller runs its own kernels; throws when a cuDNN call
 * fails otherwise.
 */
bool cudnn_conv(const Ctx& c, ConvPass pass, const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& y,
                bool accumulate);

}  // namespace dl::cuda
