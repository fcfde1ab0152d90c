// The system BLAS (OpenBLAS), found with dlopen at run time: no headers or link-time
// dependency, so the addon builds and runs without it. We declare the two CBLAS entry points
// we may use ourselves. Only used when DL_BLAS=openblas asks for it (our GEMM measured faster
// at the sizes that matter; see native/README.md).
#pragma once

#include <string>

namespace dl {

struct SystemBlas {
  // CBLAS (row-major order = 101, no-trans = 111, trans = 112).
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  using Dgemm = void (*)(int, int, int, int, int, int, double, const double*, int, const double*, int, double, double*, int);
  Sgemm sgemm = nullptr;
  Dgemm dgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  std::string path;   // the library that loaded
  std::string error;  // why none loaded
  bool loaded() const { return sgemm != nullptr && dgemm != nullptr; }
};

/** Looks for libopenblas.so.0, then libblas.so.3 (with CBLAS symbols); the result is cached. */
const SystemBlas& system_blas();

/** Whether kernels should call the system BLAS (DL_BLAS=openblas and it loaded). */
bool use_system_blas();

}  // namespace dl
