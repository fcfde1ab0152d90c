// cuBLAS through dlopen: libcublas.so.13, then .12, then libcublas.so, by the loader's search
// path and then in the CUDA toolkit's lib64 (dynlib.h). Only the functions the addon calls are
// resolved, with prototypes and enum values declared here.
#include "cublas.h"

#include <mutex>
#include <string>

namespace dl::cuda {

namespace {

// The subset of cublas_api.h the addon uses.
using cublasHandle_t = void*;
using cublasStatus_t = int;
constexpr cublasStatus_t CUBLAS_STATUS_SUCCESS = 0;
constexpr int CUBLAS_DEFAULT_MATH = 0;  // no TF32 for fp32 GEMMs (PyTorch's default for matmul)
constexpr int kMajorVersion = 0, kMinorVersion = 1, kPatchLevel = 2;  // libraryPropertyType

struct Api {
  cublasStatus_t (*create)(cublasHandle_t*);
  cublasStatus_t (*destroy)(cublasHandle_t);
  cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
  cublasStatus_t (*set_math_mode)(cublasHandle_t, int);
  cublasStatus_t (*get_property)(int, int*);
  cublasStatus_t (*sgemm)(cublasHandle_t, int, int, int, int, int, const float*, const float*, int, long long,
                          const float*, int, long long, const float*, float*, int, long long, int);
  cublasStatus_t (*dgemm)(cublasHandle_t, int, int, int, int, int, const double*, const double*, int, long long,
                          const double*, int, long long, const double*, double*, int, long long, int);
};

using Library = Loaded<Api>;

std::mutex g_mutex;

void load(Library& l) {
  Api& a = l.api;
  void* lib = open_first(toolkit_candidates({"libcublas.so.13", "libcublas.so.12", "libcublas.so"}),
                         [&](void* h) {
                           std::string missing;
                           a = Api{};
                           bind_symbol(h, "cublasCreate_v2", a.create, missing);
                           bind_symbol(h, "cublasDestroy_v2", a.destroy, missing);
                           bind_symbol(h, "cublasSetStream_v2", a.set_stream, missing);
                           bind_symbol(h, "cublasSetMathMode", a.set_math_mode, missing);
                           bind_symbol(h, "cublasGetProperty", a.get_property, missing);
                           bind_symbol(h, "cublasSgemmStridedBatched", a.sgemm, missing);
                           bind_symbol(h, "cublasDgemmStridedBatched", a.dgemm, missing);
                           return missing;
                         },
                         l.info);
  if (!lib) {
    l.api = Api{};
    l.info.error = "cuBLAS not found (matmul and conv2d use the built-in GEMM kernel): " + l.info.error;
    return;
  }
  int major = 0, minor = 0, patch = 0;
  if (a.get_property(kMajorVersion, &major) == CUBLAS_STATUS_SUCCESS &&
      a.get_property(kMinorVersion, &minor) == CUBLAS_STATUS_SUCCESS &&
      a.get_property(kPatchLevel, &patch) == CUBLAS_STATUS_SUCCESS)
    l.info.version = major * 10000 + minor * 100 + patch;
}

Library& library() { return load_once<Api>(load); }

}  // namespace

LibraryInfo cublas_info() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return library().snapshot();
}

void* cublas_create(cudaStream_t stream, int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Library& l = library();
  if (!l.info.found) return nullptr;
  cublasHandle_t h = nullptr;
  std::string failed;
  cublasStatus_t s = l.api.create(&h);
  if (s != CUBLAS_STATUS_SUCCESS) {
    failed = "cublasCreate_v2";
  } else if ((s = l.api.set_stream(h, stream)) != CUBLAS_STATUS_SUCCESS) {
    failed = "cublasSetStream_v2";
  } else if ((s = l.api.set_math_mode(h, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS) {
    failed = "cublasSetMathMode";
  }
  if (failed.empty()) return h;
  if (h) l.api.destroy(h);
  l.info.error = failed + " failed on device " + std::to_string(device) + ": " + cublas_status_name(s) +
                 " (matmul and conv2d use the built-in GEMM kernel there)";
  return nullptr;
}

int cublas_gemm(void* handle, bool dbl, int transa, int transb, int m, int n, int k, const void* A, int lda,
                long long stride_a, const void* B, int ldb, long long stride_b, bool accumulate, void* C, int ldc,
                long long stride_c, int batch) {
  Library& l = library();
  const Api& a = l.api;
  int status;
  if (dbl) {
    const double one = 1, beta = accumulate ? 1 : 0;
    status = a.dgemm(handle, transa, transb, m, n, k, &one, static_cast<const double*>(A), lda, stride_a,
                     static_cast<const double*>(B), ldb, stride_b, &beta, static_cast<double*>(C), ldc, stride_c, batch);
  } else {
    const float one = 1, beta = accumulate ? 1 : 0;
    status = a.sgemm(handle, transa, transb, m, n, k, &one, static_cast<const float*>(A), lda, stride_a,
                     static_cast<const float*>(B), ldb, stride_b, &beta, static_cast<float*>(C), ldc, stride_c, batch);
  }
  if (status == CUBLAS_STATUS_SUCCESS) l.calls++;
  return status;
}

const char* cublas_status_name(int status) {
  switch (status) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_(unknown)";
  }
}

}  // namespace dl::cuda
