// A host stand-in for the part of cuBLAS the addon calls (cuda/cublas.cc), for the emulated CUDA
// device only (its device memory is host memory): build.mjs makes it build/Emulated/libcublas.so.13,
// and the emulated addon loads it when DL_CUDA_EMU_LIBS names that folder. Written from cuBLAS's
// documentation: column-major operands, op(A) by transa, leading dimensions that must cover the
// rows of what is stored (else CUBLAS_STATUS_INVALID_VALUE), and C not read when beta is 0.
// Computes in double, one product after another, on the stream set with cublasSetStream (in
// order with the emulated kernels; alpha and beta are read at the call, as cuBLAS reads host
// scalars); without a stream it refuses (the addon always sets one).
#include <cstdint>

#include "stream.h"

namespace {

constexpr int kSuccess = 0, kNotInitialized = 1, kInvalidValue = 7;
constexpr int kOpN = 0, kOpT = 1, kOpC = 2;

struct Handle {
  CUstream_st* stream = nullptr;
  int math = 0;
};

int max1(int v) { return v > 1 ? v : 1; }

template <typename T>
int gemm(void* handle, int transa, int transb, int m, int n, int k, const T* alpha, const T* A, int lda, long long sa,
         const T* B, int ldb, long long sb, const T* beta, T* C, int ldc, long long sc, int batches) {
  if (!handle || !static_cast<Handle*>(handle)->stream) return kNotInitialized;
  const auto op_ok = [](int op) { return op == kOpN || op == kOpT || op == kOpC; };
  if (!op_ok(transa) || !op_ok(transb) || m < 0 || n < 0 || k < 0 || batches < 0) return kInvalidValue;
  if (lda < max1(transa == kOpN ? m : k) || ldb < max1(transb == kOpN ? k : n) || ldc < max1(m)) return kInvalidValue;
  const double al = *alpha, be = *beta;
  dl_emu::enqueue_on(static_cast<Handle*>(handle)->stream, [=] {
    for (int b = 0; b < batches; b++) {
      const T* a = A + b * sa;
      const T* bb = B + b * sb;
      T* c = C + b * sc;
      for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
          double acc = 0;
          for (int l = 0; l < k; l++) {
            const double av = transa == kOpN ? a[i + int64_t(l) * lda] : a[l + int64_t(i) * lda];
            const double bv = transb == kOpN ? bb[l + int64_t(j) * ldb] : bb[j + int64_t(l) * ldb];
            acc += av * bv;
          }
          T& out = c[i + int64_t(j) * ldc];
          out = static_cast<T>(be == 0 ? al * acc : al * acc + be * double(out));
        }
    }
  });
  return kSuccess;
}

}  // namespace

extern "C" {

/** Marks a host stand-in: the emulated device refuses any library without it. */
__attribute__((visibility("default"))) int dl_emu_host_library = 1;

__attribute__((visibility("default"))) int cublasCreate_v2(void** handle) {
  *handle = new Handle();
  return kSuccess;
}
__attribute__((visibility("default"))) int cublasDestroy_v2(void* handle) {
  delete static_cast<Handle*>(handle);
  return kSuccess;
}
__attribute__((visibility("default"))) int cublasSetStream_v2(void* handle, CUstream_st* stream) {
  static_cast<Handle*>(handle)->stream = stream;
  return kSuccess;
}
__attribute__((visibility("default"))) int cublasSetMathMode(void* handle, int mode) {
  static_cast<Handle*>(handle)->math = mode;
  return kSuccess;
}
/** Stands for cuBLAS 13.0.0. */
__attribute__((visibility("default"))) int cublasGetProperty(int type, int* value) {
  if (type < 0 || type > 2) return kInvalidValue;
  *value = type == 0 ? 13 : 0;
  return kSuccess;
}
__attribute__((visibility("default"))) int cublasSgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k,
                                                                     const float* alpha, const float* A, int lda,
                                                                     long long sa, const float* B, int ldb, long long sb,
                                                                     const float* beta, float* C, int ldc, long long sc,
                                                                     int batches) {
  return gemm(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batches);
}
__attribute__((visibility("default"))) int cublasDgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k,
                                                                     const double* alpha, const double* A, int lda,
                                                                     long long sa, const double* B, int ldb,
                                                                     long long sb, const double* beta, double* C, int ldc,
                                                                     long long sc, int batches) {
  return gemm(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batches);
}

}  // extern "C"
