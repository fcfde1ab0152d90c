// AVX-512 GEMM micro-kernel (float32), used when cpuid reports AVX-512 F/VL/BW with zmm state
// enabled: a 6 x 32 tile over two consecutive 16-wide B panels of the usual packing (see
// gemm.h), so the packers and the AVX2 path are unchanged. Per step of k: two zmm loads of B,
// six broadcasts of A, twelve FMAs into twelve zmm accumulators; on a core with two 512-bit
// FMA pipes (AMD Zen 5, Intel server cores) that is twice the AVX2 kernel's peak. Each element
// is accumulated over k in the same order as by the AVX2 kernel. As the other *_x86 files: only
// the DL_AVX512 functions are compiled for AVX-512.
#if defined(__x86_64__)

#include <immintrin.h>

#include "gemm.h"

#define DL_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))

namespace dl {

namespace {

DL_AVX512 inline void store_row(float* c, __m512 lo, __m512 hi, __m512 va, __m512 vb, bool beta0) {
  lo = _mm512_mul_ps(lo, va);
  hi = _mm512_mul_ps(hi, va);
  if (!beta0) {
    lo = _mm512_fmadd_ps(_mm512_loadu_ps(c), vb, lo);
    hi = _mm512_fmadd_ps(_mm512_loadu_ps(c + 16), vb, hi);
  }
  _mm512_storeu_ps(c, lo);
  _mm512_storeu_ps(c + 16, hi);
}

}  // namespace

DL_AVX512 void sgemm_wide_avx512(i64 kc, const float* pa, const float* pb0, const float* pb1, float* c, i64 rsC, i64 csC,
                                 int mr, int nr, float alpha, float beta) {
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
  __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
  __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
  __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
  __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
#define DL_STEP(P)                                                                       \
  {                                                                                      \
    const __m512 b0 = _mm512_load_ps(pb0 + (P) * 16), b1 = _mm512_load_ps(pb1 + (P) * 16); \
    __m512 a = _mm512_set1_ps(pa[(P) * 6 + 0]);                                          \
    c00 = _mm512_fmadd_ps(a, b0, c00);                                                   \
    c01 = _mm512_fmadd_ps(a, b1, c01);                                                   \
    a = _mm512_set1_ps(pa[(P) * 6 + 1]);                                                 \
    c10 = _mm512_fmadd_ps(a, b0, c10);                                                   \
    c11 = _mm512_fmadd_ps(a, b1, c11);                                                   \
    a = _mm512_set1_ps(pa[(P) * 6 + 2]);                                                 \
    c20 = _mm512_fmadd_ps(a, b0, c20);                                                   \
    c21 = _mm512_fmadd_ps(a, b1, c21);                                                   \
    a = _mm512_set1_ps(pa[(P) * 6 + 3]);                                                 \
    c30 = _mm512_fmadd_ps(a, b0, c30);                                                   \
    c31 = _mm512_fmadd_ps(a, b1, c31);                                                   \
    a = _mm512_set1_ps(pa[(P) * 6 + 4]);                                                 \
    c40 = _mm512_fmadd_ps(a, b0, c40);                                                   \
    c41 = _mm512_fmadd_ps(a, b1, c41);                                                   \
    a = _mm512_set1_ps(pa[(P) * 6 + 5]);                                                 \
    c50 = _mm512_fmadd_ps(a, b0, c50);                                                   \
    c51 = _mm512_fmadd_ps(a, b1, c51);                                                   \
  }
  i64 p = 0;
  for (; p + 4 <= kc; p += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(pb0 + 16 * 8), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(pb1 + 16 * 8), _MM_HINT_T0);
    DL_STEP(0)
    DL_STEP(1)
    DL_STEP(2)
    DL_STEP(3)
    pa += 24;
    pb0 += 64;
    pb1 += 64;
  }
  for (; p < kc; p++) {
    DL_STEP(0)
    pa += 6;
    pb0 += 16;
    pb1 += 16;
  }
#undef DL_STEP
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const bool beta0 = beta == 0.0f;
  if (mr == 6 && nr == 32 && csC == 1) {
    store_row(c + 0 * rsC, c00, c01, va, vb, beta0);
    store_row(c + 1 * rsC, c10, c11, va, vb, beta0);
    store_row(c + 2 * rsC, c20, c21, va, vb, beta0);
    store_row(c + 3 * rsC, c30, c31, va, vb, beta0);
    store_row(c + 4 * rsC, c40, c41, va, vb, beta0);
    store_row(c + 5 * rsC, c50, c51, va, vb, beta0);
    return;
  }
  alignas(64) float t[6 * 32];
  _mm512_store_ps(t + 0, c00), _mm512_store_ps(t + 16, c01);
  _mm512_store_ps(t + 32, c10), _mm512_store_ps(t + 48, c11);
  _mm512_store_ps(t + 64, c20), _mm512_store_ps(t + 80, c21);
  _mm512_store_ps(t + 96, c30), _mm512_store_ps(t + 112, c31);
  _mm512_store_ps(t + 128, c40), _mm512_store_ps(t + 144, c41);
  _mm512_store_ps(t + 160, c50), _mm512_store_ps(t + 176, c51);
  for (int i = 0; i < mr; i++) {
    float* ci = c + i * rsC;
    const float* ti = t + i * 32;
    if (beta0) {
      for (int j = 0; j < nr; j++) ci[j * csC] = alpha * ti[j];
    } else {
      for (int j = 0; j < nr; j++) ci[j * csC] = alpha * ti[j] + beta * ci[j * csC];
    }
  }
}

}  // namespace dl

#endif  // __x86_64__
