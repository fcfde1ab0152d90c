// The launch codes of the CUDA kernels: their names in the order of CUDA_OPS in
// src/backend/cuda/addon.ts (the loader compares ops() with it). Code = index in this list.
#pragma once

#define DL_CUDA_OPS(X)                                                                              \
  X(neg) X(abs) X(exp) X(log) X(sqrt) X(rsqrt) X(sin) X(cos) X(tanh) X(sigmoid)                     \
  X(relu) X(gelu) X(erf) X(sign) X(floor) X(ceil) X(round) X(logicalNot) X(clamp)                   \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(reluBackward) X(geluBackward)         \
  X(eq) X(ne) X(lt) X(le) X(gt) X(ge) X(logicalAnd) X(logicalOr) X(where)                           \
  X(sum) X(prod) X(max) X(min) X(all) X(any) X(argmax) X(argmin) X(sort) X(cumsum) X(softmax) X(logSoftmax)           \
  X(crossEntropy) X(crossEntropyBackward) X(layerNorm) X(layerNormBackward)                         \
  X(batchNorm) X(batchNormBackward) X(matmul)                                                       \
  X(conv2d) X(conv2dBackwardInput) X(conv2dBackwardWeight)                                          \
  X(maxPool2d) X(maxPool2dBackward) X(avgPool2d) X(avgPool2dBackward)                               \
  X(adaptiveAvgPool2d) X(adaptiveAvgPool2dBackward) X(adaptiveMaxPool2d)                            \
  X(copy) X(cast) X(fill) X(indexSelect) X(indexAdd) X(gather) X(scatter) X(scatterAdd)             \
  X(philoxUniform) X(philoxNormal) X(sgdStep) X(adamStep)

namespace dl::cuda {

enum Op : int {
#define DL_OP_ENUM(name) kOp_##name,
  DL_CUDA_OPS(DL_OP_ENUM)
#undef DL_OP_ENUM
  kOpCount
};

/** The name of a launch code ("?" outside the list). */
inline const char* op_name(int code) {
  static const char* const names[] = {
#define DL_OP_NAME(name) #name,
      DL_CUDA_OPS(DL_OP_NAME)
#undef DL_OP_NAME
  };
  return code >= 0 && code < kOpCount ? names[code] : "?";
}

}  // namespace dl::cuda
