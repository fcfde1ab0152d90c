// The batched strided GEMM behind matmul and the convolutions (gemm.cu).
#pragma once

#include "common.cuh"

namespace dl::cuda {

/** A matrix operand: element (b0, b1, r, c) at data + (b0*bs0 + b1*bs1 + r*rs + c*cs) elements. */
struct MatArg {
  char* data;
  int64_t rs, cs, bs0, bs1;
};

/**
 * C[b0][b1] (M x N) = A[b0][b1] (M x K) @ B[b0][b1] (K x N), plus the old C when `accumulate`,
 * for b0 < batch0, b1 < batch1; float32 or float64 (dtype). cuBLAS (strided-batched, one call
 * per b0) when it is loaded and the layouts are BLAS-compatible, else the built-in kernel,
 * which takes any strides. K == 0 gives zeros (or leaves C with `accumulate`).
 */
struct Gemm {
  int dtype;
  int64_t M, N, K, batch0, batch1;
  MatArg a, b, c;
  bool accumulate;
};

void gemm(const Ctx& ctx, const Gemm& g);

}  // namespace dl::cuda
