#include "gemm.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "cpu_features.h"
#include "thread_pool.h"

namespace dl {

#if defined(__x86_64__)
void sgemm_ukernel_avx2(i64 kc, const float* pa, const float* pb, float* c, i64 rsC, i64 csC, int mr, int nr,
                        float alpha, float beta);
void dgemm_ukernel_avx2(i64 kc, const double* pa, const double* pb, double* c, i64 rsC, i64 csC, int mr, int nr,
                        double alpha, double beta);
void sgemm_wide_avx512(i64 kc, const float* pa, const float* pb0, const float* pb1, float* c, i64 rsC, i64 csC, int mr,
                       int nr, float alpha, float beta);
#endif

namespace {

// ------------------------------------------------------------------ portable micro-kernel

// Plain C++ written so that the compiler vectorises the NR-wide inner loop for whatever the
// baseline target offers (SSE2 on x86-64, NEON on arm64).
template <typename T, int MR, int NR>
void ukernel_portable(i64 kc, const T* pa, const T* pb, T* c, i64 rsC, i64 csC, int mr, int nr, T alpha, T beta) {
  alignas(64) T acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = T(0);
  for (i64 p = 0; p < kc; p++) {
    const T* b = pb + p * NR;
    for (int i = 0; i < MR; i++) {
      const T a = pa[p * MR + i];
      for (int j = 0; j < NR; j++) acc[i][j] += a * b[j];
    }
  }
  for (int i = 0; i < mr; i++) {
    T* ci = c + i * rsC;
    if (beta == T(0)) {
      for (int j = 0; j < nr; j++) ci[j * csC] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < nr; j++) ci[j * csC] = alpha * acc[i][j] + beta * ci[j * csC];
    }
  }
}

enum Family : int { kAuto = 0, kPortable = 1, kAvx2 = 2, kAvx512 = 3 };

// DL_CPU_KERNELS=portable|avx2|avx512 caps the kernel family (benchmarks, debugging); an
// unsupported request falls back to what the CPU offers.
int initial_family() {
  const char* v = std::getenv("DL_CPU_KERNELS");
  if (!v) return kAuto;
  if (std::strcmp(v, "portable") == 0) return kPortable;
  if (std::strcmp(v, "avx2") == 0) return kAvx2;
  return kAuto;
}
std::atomic<int> g_forced{initial_family()};

bool use_avx2() {
#if defined(__x86_64__)
  const int f = g_forced.load(std::memory_order_relaxed);
  if (f == kPortable) return false;
  return cpu_has_avx2_fma();
#else
  return false;
#endif
}

// Tiny products: packing would cost more than it saves.
template <typename T>
void gemm_naive(i64 M, i64 N, i64 K, T alpha, const T* A, i64 rsA, i64 csA, const T* B, i64 rsB, i64 csB, T beta, T* C,
                i64 rsC, i64 csC) {
  for (i64 i = 0; i < M; i++) {
    for (i64 j = 0; j < N; j++) {
      T s = T(0);
      const T* a = A + i * rsA;
      const T* b = B + j * csB;
      for (i64 p = 0; p < K; p++) s += a[p * csA] * b[p * rsB];
      T& c = C[i * rsC + j * csC];
      c = beta == T(0) ? alpha * s : alpha * s + beta * c;
    }
  }
}

}  // namespace

template <>
MicroKernel<float> micro_kernel<float>() {
#if defined(__x86_64__)
  if (use_avx2()) return sgemm_ukernel_avx2;
#endif
  return ukernel_portable<float, GemmTraits<float>::MR, GemmTraits<float>::NR>;
}

template <>
MicroKernel<double> micro_kernel<double>() {
#if defined(__x86_64__)
  if (use_avx2()) return dgemm_ukernel_avx2;
#endif
  return ukernel_portable<double, GemmTraits<double>::MR, GemmTraits<double>::NR>;
}

template <>
WideKernel<float> wide_kernel<float>() {
#if defined(__x86_64__)
  if (kernels_use_avx512()) return sgemm_wide_avx512;
#endif
  return nullptr;
}

template <>
WideKernel<double> wide_kernel<double>() {
  return nullptr;
}

const char* gemm_kernel_name() { return kernels_use_avx512() ? "avx512" : use_avx2() ? "avx2+fma" : "portable"; }

bool kernels_use_avx2() { return use_avx2(); }

bool kernels_use_avx512() {
#if defined(__x86_64__)
  const int f = g_forced.load(std::memory_order_relaxed);
  if (f == kPortable || f == kAvx2) return false;
  return use_avx2() && cpu_has_avx512();
#else
  return false;
#endif
}

bool set_gemm_kernel(const char* name) {
  if (std::strcmp(name, "auto") == 0) {
    g_forced = kAuto;
    return true;
  }
  if (std::strcmp(name, "portable") == 0) {
    g_forced = kPortable;
    return true;
  }
  if (std::strcmp(name, "avx2") == 0) {
    if (!cpu_has_avx2_fma()) return false;
    g_forced = kAvx2;
    return true;
  }
  if (std::strcmp(name, "avx512") == 0) {
    if (!cpu_has_avx2_fma() || !cpu_has_avx512()) return false;
    g_forced = kAvx512;
    return true;
  }
  return false;
}

void contiguous_panels(const i64* colOff, i64 n, int NR, unsigned char* flags) {
  for (i64 c = 0, r = 0; c < n; c += NR, r++) {
    bool ok = c + NR <= n;
    for (int j = 1; ok && j < NR; j++) ok = colOff[c + j] == colOff[c] + j;
    flags[r] = ok ? 1 : 0;
  }
}

template <typename T>
void gemm_serial(i64 M, i64 N, i64 K, T alpha, const T* A, i64 rsA, i64 csA, const T* B, i64 rsB, i64 csB, T beta,
                 T* C, i64 rsC, i64 csC) {
  using G = GemmTraits<T>;
  if (M <= 0 || N <= 0) return;
  if (M * N * K <= 512 || (K > 0 && K <= 2 && M * N <= 4096)) {
    if (K <= 0 || alpha == T(0)) {
      scale_matrix(M, N, beta, C, rsC, csC);
      return;
    }
    gemm_naive(M, N, K, alpha, A, rsA, csA, B, rsB, csB, beta, C, rsC, csC);
    return;
  }
  gemm_blocked<T>(
      M, N, K, alpha,
      [&](i64 ic, i64 mc, i64 pc, i64 kc, T* pa) {
        pack_a_strided<T, G::MR>(A + ic * rsA + pc * csA, rsA, csA, mc, kc, pa);
      },
      [&](i64 pc, i64 kc, i64 jc, i64 nc, T* pb) {
        pack_b_strided<T, G::NR>(B + pc * rsB + jc * csB, rsB, csB, kc, nc, pb);
      },
      beta, C, rsC, csC);
}

namespace {

// Work (multiply-adds) below which a GEMM stays on one thread: waking a worker costs a few
// microseconds, a 6x16 tile of K = 256 about a tenth of that.
constexpr i64 kParallelMacs = 1 << 17;
// Work per tile of a parallel GEMM (about 1.3 ms on one core). Each tile packs its own panels of
// A and B, so smaller tiles cost more: at 2^22 a 1024-cube product ran at 145 GFLOP/s on 2 cores,
// at 2^26 at 180 (bench/gemm_bench.cc; one core does about 97).
constexpr i64 kTileMacs = 1 << 26;

/** Splits `threads` into tm x tn tiles of an M x N product, favouring square-ish tiles. */
void tile_grid(i64 M, i64 N, int threads, int MR, int NR, int& tm, int& tn) {
  tm = threads;
  tn = 1;
  double best = -1;
  for (int a = 1; a <= threads; a++) {
    if (threads % a) continue;
    const int b = threads / a;
    // Panels per tile: fewer than one panel per thread in a direction wastes threads.
    const double pm = static_cast<double>((M + MR - 1) / MR) / a;
    const double pn = static_cast<double>((N + NR - 1) / NR) / b;
    if (pm < 1 || pn < 1) continue;
    // Prefer more columns per tile (B panels reused across A) and balanced tiles.
    const double tileM = static_cast<double>(M) / a, tileN = static_cast<double>(N) / b;
    const double score = (tileM * tileN) / (tileM + tileN);
    if (score > best) {
      best = score;
      tm = a;
      tn = b;
    }
  }
  if (best < 0) {
    // Too small to split both ways: split the longer side only.
    if ((M + MR - 1) / MR >= (N + NR - 1) / NR) {
      tm = static_cast<int>(imin(threads, (M + MR - 1) / MR));
      tn = 1;
    } else {
      tm = 1;
      tn = static_cast<int>(imin(threads, (N + NR - 1) / NR));
    }
  }
}

}  // namespace

void for_gemm_tiles(i64 M, i64 N, i64 K, int MR, int NR, int max_threads,
                    const std::function<void(i64 i0, i64 m, i64 j0, i64 n)>& tile) {
  if (M <= 0 || N <= 0) return;
  ThreadPool& pool = ThreadPool::instance();
  int threads = max_threads > 0 ? (max_threads < pool.size() ? max_threads : pool.size()) : pool.size();
  const i64 macs = M * N * imax(K, 1);
  if (macs / kParallelMacs < threads) threads = static_cast<int>(imax(1, macs / kParallelMacs));
  if (threads <= 1 || in_parallel_region()) {
    tile(0, M, 0, N);
    return;
  }
  // Tiles of about kTileMacs each (at least one per thread, at most 256), handed out
  // dynamically: a thread that loses its core for a while (a busy machine) holds up the product
  // by one small tile at most. Repacking per tile costs a few percent at these sizes.
  const int tiles = static_cast<int>(imax(threads, imin(256, macs / kTileMacs)));
  int tm, tn;
  tile_grid(M, N, tiles, MR, NR, tm, tn);
  // Tile edges on panel boundaries.
  const i64 mStep = round_up((M + tm - 1) / tm, MR);
  const i64 nStep = round_up((N + tn - 1) / tn, NR);
  pool.run(static_cast<i64>(tm) * tn, threads, [&](i64 t, int) {
    const i64 i0 = (t / tn) * mStep, j0 = (t % tn) * nStep;
    const i64 m = imin(mStep, M - i0), n = imin(nStep, N - j0);
    if (m > 0 && n > 0) tile(i0, m, j0, n);
  });
}

template <typename T>
void gemm(i64 M, i64 N, i64 K, T alpha, const T* A, i64 rsA, i64 csA, const T* B, i64 rsB, i64 csB, T beta, T* C,
          i64 rsC, i64 csC, int max_threads) {
  using G = GemmTraits<T>;
  for_gemm_tiles(M, N, K, G::MR, G::NR, max_threads, [&](i64 i0, i64 m, i64 j0, i64 n) {
    gemm_serial(m, n, K, alpha, A + i0 * rsA, rsA, csA, B + j0 * csB, rsB, csB, beta, C + i0 * rsC + j0 * csC, rsC,
                csC);
  });
}

template <typename T>
void gemm_batched(i64 batch, i64 M, i64 N, i64 K, T alpha, const T* A, i64 sA, i64 rsA, i64 csA, const T* B, i64 sB,
                  i64 rsB, i64 csB, T beta, T* C, i64 sC, i64 rsC, i64 csC) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (batch == 1) {
    gemm(M, N, K, alpha, A, rsA, csA, B, rsB, csB, beta, C, rsC, csC);
    return;
  }
  ThreadPool& pool = ThreadPool::instance();
  const i64 macs = M * N * imax(K, 1);
  // Big products: parallel inside each. Small ones: parallel over the batch.
  if (macs >= kParallelMacs * pool.size() * 4 || in_parallel_region()) {
    for (i64 b = 0; b < batch; b++) gemm(M, N, K, alpha, A + b * sA, rsA, csA, B + b * sB, rsB, csB, beta, C + b * sC, rsC, csC);
    return;
  }
  const i64 per = imax(1, kParallelMacs / imax(1, macs));  // products per task
  const i64 tasks = (batch + per - 1) / per;
  pool.run(tasks, pool.size(), [&](i64 t, int) {
    const i64 b1 = imin(batch, (t + 1) * per);
    for (i64 b = t * per; b < b1; b++)
      gemm_serial(M, N, K, alpha, A + b * sA, rsA, csA, B + b * sB, rsB, csB, beta, C + b * sC, rsC, csC);
  });
}

template void gemm<float>(i64, i64, i64, float, const float*, i64, i64, const float*, i64, i64, float, float*, i64, i64, int);
template void gemm<double>(i64, i64, i64, double, const double*, i64, i64, const double*, i64, i64, double, double*, i64, i64, int);
template void gemm_serial<float>(i64, i64, i64, float, const float*, i64, i64, const float*, i64, i64, float, float*, i64, i64);
template void gemm_serial<double>(i64, i64, i64, double, const double*, i64, i64, const double*, i64, i64, double, double*, i64, i64);
template void gemm_batched<float>(i64, i64, i64, i64, float, const float*, i64, i64, i64, const float*, i64, i64, i64, float, float*, i64, i64, i64);
template void gemm_batched<double>(i64, i64, i64, i64, double, const double*, i64, i64, i64, const double*, i64, i64, i64, double, double*, i64, i64, i64);

}  // namespace dl
