// Development benchmark: our SGEMM/DGEMM against a float64 triple loop (correctness) and
// against the system OpenBLAS (speed), without Node. Build and run:
//   g++ -O3 -std=c++17 -pthread -Isrc bench/gemm_bench.cc src/gemm.cc src/gemm_x86.cc src/gemm_x86_512.cc \
//       src/thread_pool.cc src/scratch.cc src/cpu_features.cc src/blas.cc -ldl -o build/gemm_bench
//   build/gemm_bench [N | MxKxN ...]      (N: an N x N x N product)
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
  struct Shape {
    int m, k, n;
  };
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; i++) {
    Shape s{0, 0, 0};
    if (std::sscanf(argv[i], "%dx%dx%d", &s.m, &s.k, &s.n) != 3) s.m = s.k = s.n = std::atoi(argv[i]);
    shapes.push_back(s);
  }
  if (shapes.empty())
    for (int n : {64, 128, 256, 512, 1024}) shapes.push_back({n, n, n});
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  const SystemBlas& blas = system_blas();
  std::printf("kernel %s, threads %d, blas %s\n", gemm_kernel_name(), ThreadPool::instance().size(),
              blas.loaded() ? blas.path.c_str() : blas.error.c_str());
  for (const Shape& sh : shapes) {
    const int m = sh.m, k = sh.k, n = sh.n;
    std::vector<float> A(std::size_t(m) * k), B(std::size_t(k) * n), C(std::size_t(m) * n), C2(std::size_t(m) * n);
    for (auto& v : A) v = nd(rng);
    for (auto& v : B) v = nd(rng);
    auto run = [&](int threads) { gemm<float>(m, n, k, 1.f, A.data(), k, 1, B.data(), n, 1, 0.f, C.data(), n, 1, threads); };
    run(0);
    double err = 0;
    for (int t = 0; t < 50; t++) {
      const int i = rng() % m, j = rng() % n;
      double s = 0;
      for (int p = 0; p < k; p++) s += double(A[std::size_t(i) * k + p]) * B[std::size_t(p) * n + j];
      err = std::fmax(err, std::fabs(s - C[std::size_t(i) * n + j]) / std::sqrt(double(k)));
    }
    const double flops = 2.0 * m * n * k;
    const int reps = flops <= 4e7 ? 50 : flops <= 3e8 ? 10 : 5;
    const double ours = best_of(reps, [&] { run(0); });
    const double ours1 = best_of(reps, [&] { run(1); });
    double ob = 0;
    if (blas.loaded()) {
      ob = best_of(reps, [&] { blas.sgemm(101, 111, 111, m, n, k, 1.f, A.data(), k, B.data(), n, 0.f, C2.data(), n); });
    }
    std::printf("sgemm %5dx%dx%d: ours %7.1f GFLOP/s (1 thread %6.1f), openblas %7.1f GFLOP/s, max err/sqrt(k) %.2g\n", m, k,
                n, flops / ours / 1e9, flops / ours1 / 1e9, ob > 0 ? flops / ob / 1e9 : 0.0, err);
  }
  return 0;
}
