// cuBLAS, loaded at run time with dlopen (no headers, no link-time dependency): without it
// matmul and convolution use the addon's own GEMM kernel. See cublas.cc.
#pragma once

#include <cuda_runtime_api.h>

#include "dynlib.h"

namespace dl::cuda {

/** Loads the library on the first call; never throws. */
LibraryInfo cublas_info();

/**
 * A handle bound to `stream` with the default math mode (fp32 stays fp32: no TF32), or null
 * when cuBLAS is missing or the handle cannot be made (the reason goes to cublas_info().error).
 */
void* cublas_create(cudaStream_t stream, int device);

constexpr int kCublasOpN = 0;
constexpr int kCublasOpT = 1;

/**
 * cublas{S,D}gemmStridedBatched (column-major): C = A op B + (accumulate ? C : 0). Returns the
 * cublasStatus_t (0 = success).
 */
int cublas_gemm(void* handle, bool dbl, int transa, int transb, int m, int n, int k, const void* A, int lda,
                long long stride_a, const void* B, int ldb, long long stride_b, bool accumulate, void* C, int ldc,
                long long stride_c, int batch);

/** CUBLAS_STATUS_... name of a status. */
const char* cublas_status_name(int status);

}  // namespace dl::cuda
