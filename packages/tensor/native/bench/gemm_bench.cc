// Development benchmark: our SGEMM/DGEMM against a float64 triple loop (correctness) and
// against the system OpenBLAS (speed), without Node. Build and run:
//   g++ -O3 -std=c++17 -pthread -Isrc bench/gemm_bench.cc src/gemm.cc src/gemm_x86.cc \
//       src/thread_pool.cc src/scratch.cc src/cpu_features.cc src/blas.cc -ldl -o build/gemm_bench
//   build/gemm_bench [sizes...]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "../src/blas.h"
#include "../src/gemm.h"
#include "../src/thread_pool.h"

using namespace dl;

template <typename F>
double best_of(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < best) best = s;
  }
  return best;
}

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; i++) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {64, 128, 256, 512, 1024};
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  const SystemBlas& blas = system_blas();
  std::printf("kernel %s, threads %d, blas %s\n", gemm_kernel_name(), ThreadPool::instance().size(),
              blas.loaded() ? blas.path.c_str() : blas.error.c_str());
  for (int n : sizes) {
    std::vector<float> A(n * n), B(n * n), C(n * n), C2(n * n);
    for (auto& v : A) v = nd(rng);
    for (auto& v : B) v = nd(rng);
    gemm<float>(n, n, n, 1.f, A.data(), n, 1, B.data(), n, 1, 0.f, C.data(), n, 1);
    double err = 0;
    for (int t = 0; t < 50; t++) {
      int i = rng() % n, j = rng() % n;
      double s = 0;
      for (int p = 0; p < n; p++) s += double(A[i * n + p]) * B[p * n + j];
      err = std::fmax(err, std::fabs(s - C[i * n + j]) / std::sqrt(double(n)));
    }
    const double flops = 2.0 * n * n * n;
    const int reps = n <= 256 ? 50 : n <= 512 ? 10 : 5;
    double ours = best_of(reps, [&] { gemm<float>(n, n, n, 1.f, A.data(), n, 1, B.data(), n, 1, 0.f, C.data(), n, 1); });
    double ours1 = best_of(reps, [&] { gemm<float>(n, n, n, 1.f, A.data(), n, 1, B.data(), n, 1, 0.f, C.data(), n, 1, 1); });
    double ob = 0;
    if (blas.loaded()) {
      ob = best_of(reps, [&] { blas.sgemm(101, 111, 111, n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C2.data(), n); });
    }
    std::printf("sgemm %5d: ours %7.1f GFLOP/s (1 thread %6.1f), openblas %7.1f GFLOP/s, max err/sqrt(n) %.2g\n", n,
                flops / ours / 1e9, flops / ours1 / 1e9, ob > 0 ? flops / ob / 1e9 : 0.0, err);
  }
  return 0;
}
