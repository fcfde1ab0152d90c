// AVX2 + FMA micro-kernels (x86-64). Compiled with the rest of the addon for a baseline
// x86-64 target; only these functions are compiled for AVX2/FMA (target attributes), and they
// are only called when cpuid reports AVX2 and FMA enabled by the OS (see gemm.cc). No inline
// library code is used here, so nothing built for AVX2 can leak into the portable path.
#if defined(__x86_64__)

#include <immintrin.h>

#include "gemm.h"

#define DL_AVX2 __attribute__((target("avx2,fma")))

namespace dl {

namespace {

// Writes an MR x NR tile held in `t` (row-major, NR wide) to C: C = alpha * t + beta * C.
template <typename T>
DL_AVX2 void store_tile_generic(const T* t, int NR, T* c, i64 rsC, i64 csC, int mr, int nr, T alpha, T beta) {
  for (int i = 0; i < mr; i++) {
    T* ci = c + i * rsC;
    const T* ti = t + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < nr; j++) ci[j * csC] = alpha * ti[j];
    } else {
      for (int j = 0; j < nr; j++) ci[j * csC] = alpha * ti[j] + beta * ci[j * csC];
    }
  }
}

DL_AVX2 inline void store_row_f32(float* c, __m256 lo, __m256 hi, __m256 va, __m256 vb, bool beta0) {
  lo = _mm256_mul_ps(lo, va);
  hi = _mm256_mul_ps(hi, va);
  if (!beta0) {
    lo = _mm256_fmadd_ps(_mm256_loadu_ps(c), vb, lo);
    hi = _mm256_fmadd_ps(_mm256_loadu_ps(c + 8), vb, hi);
  }
  _mm256_storeu_ps(c, lo);
  _mm256_storeu_ps(c + 8, hi);
}

DL_AVX2 inline void store_row_f64(double* c, __m256d lo, __m256d hi, __m256d va, __m256d vb, bool beta0) {
  lo = _mm256_mul_pd(lo, va);
  hi = _mm256_mul_pd(hi, va);
  if (!beta0) {
    lo = _mm256_fmadd_pd(_mm256_loadu_pd(c), vb, lo);
    hi = _mm256_fmadd_pd(_mm256_loadu_pd(c + 4), vb, hi);
  }
  _mm256_storeu_pd(c, lo);
  _mm256_storeu_pd(c + 4, hi);
}

}  // namespace

// 6 x 16 floats: 12 ymm accumulators, 2 ymm of B, 1 broadcast of A per row.
DL_AVX2 void sgemm_ukernel_avx2(i64 kc, const float* pa, const float* pb, float* c, i64 rsC, i64 csC, int mr, int nr,
                                float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#define DL_STEP_F32(P)                                                                     \
  {                                                                                        \
    const __m256 b0 = _mm256_load_ps(pb + (P) * 16), b1 = _mm256_load_ps(pb + (P) * 16 + 8); \
    __m256 a = _mm256_broadcast_ss(pa + (P) * 6 + 0);                                      \
    c00 = _mm256_fmadd_ps(a, b0, c00);                                                     \
    c01 = _mm256_fmadd_ps(a, b1, c01);                                                     \
    a = _mm256_broadcast_ss(pa + (P) * 6 + 1);                                             \
    c10 = _mm256_fmadd_ps(a, b0, c10);                                                     \
    c11 = _mm256_fmadd_ps(a, b1, c11);                                                     \
    a = _mm256_broadcast_ss(pa + (P) * 6 + 2);                                             \
    c20 = _mm256_fmadd_ps(a, b0, c20);                                                     \
    c21 = _mm256_fmadd_ps(a, b1, c21);                                                     \
    a = _mm256_broadcast_ss(pa + (P) * 6 + 3);                                             \
    c30 = _mm256_fmadd_ps(a, b0, c30);                                                     \
    c31 = _mm256_fmadd_ps(a, b1, c31);                                                     \
    a = _mm256_broadcast_ss(pa + (P) * 6 + 4);                                             \
    c40 = _mm256_fmadd_ps(a, b0, c40);                                                     \
    c41 = _mm256_fmadd_ps(a, b1, c41);                                                     \
    a = _mm256_broadcast_ss(pa + (P) * 6 + 5);                                             \
    c50 = _mm256_fmadd_ps(a, b0, c50);                                                     \
    c51 = _mm256_fmadd_ps(a, b1, c51);                                                     \
  }
  i64 p = 0;
  for (; p + 4 <= kc; p += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(pb + 16 * 8), _MM_HINT_T0);
    DL_STEP_F32(0)
    DL_STEP_F32(1)
    DL_STEP_F32(2)
    DL_STEP_F32(3)
    pa += 24;
    pb += 64;
  }
  for (; p < kc; p++) {
    DL_STEP_F32(0)
    pa += 6;
    pb += 16;
  }
#undef DL_STEP_F32
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const bool beta0 = beta == 0.0f;
  if (mr == 6 && nr == 16 && csC == 1) {
    store_row_f32(c + 0 * rsC, c00, c01, va, vb, beta0);
    store_row_f32(c + 1 * rsC, c10, c11, va, vb, beta0);
    store_row_f32(c + 2 * rsC, c20, c21, va, vb, beta0);
    store_row_f32(c + 3 * rsC, c30, c31, va, vb, beta0);
    store_row_f32(c + 4 * rsC, c40, c41, va, vb, beta0);
    store_row_f32(c + 5 * rsC, c50, c51, va, vb, beta0);
    return;
  }
  alignas(32) float t[6 * 16];
  _mm256_store_ps(t + 0, c00), _mm256_store_ps(t + 8, c01);
  _mm256_store_ps(t + 16, c10), _mm256_store_ps(t + 24, c11);
  _mm256_store_ps(t + 32, c20), _mm256_store_ps(t + 40, c21);
  _mm256_store_ps(t + 48, c30), _mm256_store_ps(t + 56, c31);
  _mm256_store_ps(t + 64, c40), _mm256_store_ps(t + 72, c41);
  _mm256_store_ps(t + 80, c50), _mm256_store_ps(t + 88, c51);
  store_tile_generic<float>(t, 16, c, rsC, csC, mr, nr, alpha, beta);
}

// 6 x 8 doubles: 12 ymm accumulators.
DL_AVX2 void dgemm_ukernel_avx2(i64 kc, const double* pa, const double* pb, double* c, i64 rsC, i64 csC, int mr, int nr,
                                double alpha, double beta) {
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
#define DL_STEP_F64(P)                                                                   \
  {                                                                                      \
    const __m256d b0 = _mm256_load_pd(pb + (P) * 8), b1 = _mm256_load_pd(pb + (P) * 8 + 4); \
    __m256d a = _mm256_broadcast_sd(pa + (P) * 6 + 0);                                   \
    c00 = _mm256_fmadd_pd(a, b0, c00);                                                   \
    c01 = _mm256_fmadd_pd(a, b1, c01);                                                   \
    a = _mm256_broadcast_sd(pa + (P) * 6 + 1);                                           \
    c10 = _mm256_fmadd_pd(a, b0, c10);                                                   \
    c11 = _mm256_fmadd_pd(a, b1, c11);                                                   \
    a = _mm256_broadcast_sd(pa + (P) * 6 + 2);                                           \
    c20 = _mm256_fmadd_pd(a, b0, c20);                                                   \
    c21 = _mm256_fmadd_pd(a, b1, c21);                                                   \
    a = _mm256_broadcast_sd(pa + (P) * 6 + 3);                                           \
    c30 = _mm256_fmadd_pd(a, b0, c30);                                                   \
    c31 = _mm256_fmadd_pd(a, b1, c31);                                                   \
    a = _mm256_broadcast_sd(pa + (P) * 6 + 4);                                           \
    c40 = _mm256_fmadd_pd(a, b0, c40);                                                   \
    c41 = _mm256_fmadd_pd(a, b1, c41);                                                   \
    a = _mm256_broadcast_sd(pa + (P) * 6 + 5);                                           \
    c50 = _mm256_fmadd_pd(a, b0, c50);                                                   \
    c51 = _mm256_fmadd_pd(a, b1, c51);                                                   \
  }
  i64 p = 0;
  for (; p + 4 <= kc; p += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(pb + 8 * 8), _MM_HINT_T0);
    DL_STEP_F64(0)
    DL_STEP_F64(1)
    DL_STEP_F64(2)
    DL_STEP_F64(3)
    pa += 24;
    pb += 32;
  }
  for (; p < kc; p++) {
    DL_STEP_F64(0)
    pa += 6;
    pb += 8;
  }
#undef DL_STEP_F64
  const __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
  const bool beta0 = beta == 0.0;
  if (mr == 6 && nr == 8 && csC == 1) {
    store_row_f64(c + 0 * rsC, c00, c01, va, vb, beta0);
    store_row_f64(c + 1 * rsC, c10, c11, va, vb, beta0);
    store_row_f64(c + 2 * rsC, c20, c21, va, vb, beta0);
    store_row_f64(c + 3 * rsC, c30, c31, va, vb, beta0);
    store_row_f64(c + 4 * rsC, c40, c41, va, vb, beta0);
    store_row_f64(c + 5 * rsC, c50, c51, va, vb, beta0);
    return;
  }
  alignas(32) double t[6 * 8];
  _mm256_store_pd(t + 0, c00), _mm256_store_pd(t + 4, c01);
  _mm256_store_pd(t + 8, c10), _mm256_store_pd(t + 12, c11);
  _mm256_store_pd(t + 16, c20), _mm256_store_pd(t + 20, c21);
  _mm256_store_pd(t + 24, c30), _mm256_store_pd(t + 28, c31);
  _mm256_store_pd(t + 32, c40), _mm256_store_pd(t + 36, c41);
  _mm256_store_pd(t + 40, c50), _mm256_store_pd(t + 44, c51);
  store_tile_generic<double>(t, 8, c, rsC, csC, mr, nr, alpha, beta);
}

}  // namespace dl

#endif  // __x86_64__
