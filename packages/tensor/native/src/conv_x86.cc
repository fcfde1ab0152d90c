// AVX2 + FMA micro-kernels of the direct convolutions (see conv_kernels.h). As gemm_x86.cc:
// only the DL_AVX2 functions are compiled for AVX2; they run only when cpuid allows.
#if defined(__x86_64__)

#include <immintrin.h>

#include "conv_kernels.h"

#define DL_AVX2 __attribute__((target("avx2,fma")))

namespace dl {

DL_AVX2 void conv_fwd_tile_avx2_f32(i64 kc, const float* pa, const float* b, const i64* kOff, float* c, i64 ldc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (i64 p = 0; p < kc; p++) {
    const float* bp = b + kOff[p];
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
    __m256 a = _mm256_broadcast_ss(pa + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(pa + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(pa + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(pa + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(pa + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(pa + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
    pa += 6;
  }
  _mm256_storeu_ps(c, c00), _mm256_storeu_ps(c + 8, c01), c += ldc;
  _mm256_storeu_ps(c, c10), _mm256_storeu_ps(c + 8, c11), c += ldc;
  _mm256_storeu_ps(c, c20), _mm256_storeu_ps(c + 8, c21), c += ldc;
  _mm256_storeu_ps(c, c30), _mm256_storeu_ps(c + 8, c31), c += ldc;
  _mm256_storeu_ps(c, c40), _mm256_storeu_ps(c + 8, c41), c += ldc;
  _mm256_storeu_ps(c, c50), _mm256_storeu_ps(c + 8, c51);
}

DL_AVX2 void conv_fwd_tile_avx2_f64(i64 kc, const double* pa, const double* b, const i64* kOff, double* c, i64 ldc) {
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
  for (i64 p = 0; p < kc; p++) {
    const double* bp = b + kOff[p];
    const __m256d b0 = _mm256_loadu_pd(bp), b1 = _mm256_loadu_pd(bp + 4);
    __m256d a = _mm256_broadcast_sd(pa + 0);
    c00 = _mm256_fmadd_pd(a, b0, c00);
    c01 = _mm256_fmadd_pd(a, b1, c01);
    a = _mm256_broadcast_sd(pa + 1);
    c10 = _mm256_fmadd_pd(a, b0, c10);
    c11 = _mm256_fmadd_pd(a, b1, c11);
    a = _mm256_broadcast_sd(pa + 2);
    c20 = _mm256_fmadd_pd(a, b0, c20);
    c21 = _mm256_fmadd_pd(a, b1, c21);
    a = _mm256_broadcast_sd(pa + 3);
    c30 = _mm256_fmadd_pd(a, b0, c30);
    c31 = _mm256_fmadd_pd(a, b1, c31);
    a = _mm256_broadcast_sd(pa + 4);
    c40 = _mm256_fmadd_pd(a, b0, c40);
    c41 = _mm256_fmadd_pd(a, b1, c41);
    a = _mm256_broadcast_sd(pa + 5);
    c50 = _mm256_fmadd_pd(a, b0, c50);
    c51 = _mm256_fmadd_pd(a, b1, c51);
    pa += 6;
  }
  _mm256_storeu_pd(c, c00), _mm256_storeu_pd(c + 4, c01), c += ldc;
  _mm256_storeu_pd(c, c10), _mm256_storeu_pd(c + 4, c11), c += ldc;
  _mm256_storeu_pd(c, c20), _mm256_storeu_pd(c + 4, c21), c += ldc;
  _mm256_storeu_pd(c, c30), _mm256_storeu_pd(c + 4, c31), c += ldc;
  _mm256_storeu_pd(c, c40), _mm256_storeu_pd(c + 4, c41), c += ldc;
  _mm256_storeu_pd(c, c50), _mm256_storeu_pd(c + 4, c51);
}

DL_AVX2 void conv_fwd_pix_avx2_f32(i64 kc, const float* x, const i64* qo, const i64* kOff, const float* wT, float* c) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const float* p0 = x + qo[0];
  const float* p1 = x + qo[1];
  const float* p2 = x + qo[2];
  const float* p3 = x + qo[3];
  const float* p4 = x + qo[4];
  const float* p5 = x + qo[5];
  for (i64 p = 0; p < kc; p++, wT += 16) {
    const i64 k = kOff[p];
    const __m256 b0 = _mm256_loadu_ps(wT), b1 = _mm256_loadu_ps(wT + 8);
    __m256 a = _mm256_broadcast_ss(p0 + k);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(p1 + k);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(p2 + k);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(p3 + k);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(p4 + k);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(p5 + k);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  _mm256_storeu_ps(c, c00), _mm256_storeu_ps(c + 8, c01), c += 16;
  _mm256_storeu_ps(c, c10), _mm256_storeu_ps(c + 8, c11), c += 16;
  _mm256_storeu_ps(c, c20), _mm256_storeu_ps(c + 8, c21), c += 16;
  _mm256_storeu_ps(c, c30), _mm256_storeu_ps(c + 8, c31), c += 16;
  _mm256_storeu_ps(c, c40), _mm256_storeu_ps(c + 8, c41), c += 16;
  _mm256_storeu_ps(c, c50), _mm256_storeu_ps(c + 8, c51);
}

DL_AVX2 void conv_fwd_pix_avx2_f64(i64 kc, const double* x, const i64* qo, const i64* kOff, const double* wT,
                                   double* c) {
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
  const double* p0 = x + qo[0];
  const double* p1 = x + qo[1];
  const double* p2 = x + qo[2];
  const double* p3 = x + qo[3];
  const double* p4 = x + qo[4];
  const double* p5 = x + qo[5];
  for (i64 p = 0; p < kc; p++, wT += 8) {
    const i64 k = kOff[p];
    const __m256d b0 = _mm256_loadu_pd(wT), b1 = _mm256_loadu_pd(wT + 4);
    __m256d a = _mm256_broadcast_sd(p0 + k);
    c00 = _mm256_fmadd_pd(a, b0, c00);
    c01 = _mm256_fmadd_pd(a, b1, c01);
    a = _mm256_broadcast_sd(p1 + k);
    c10 = _mm256_fmadd_pd(a, b0, c10);
    c11 = _mm256_fmadd_pd(a, b1, c11);
    a = _mm256_broadcast_sd(p2 + k);
    c20 = _mm256_fmadd_pd(a, b0, c20);
    c21 = _mm256_fmadd_pd(a, b1, c21);
    a = _mm256_broadcast_sd(p3 + k);
    c30 = _mm256_fmadd_pd(a, b0, c30);
    c31 = _mm256_fmadd_pd(a, b1, c31);
    a = _mm256_broadcast_sd(p4 + k);
    c40 = _mm256_fmadd_pd(a, b0, c40);
    c41 = _mm256_fmadd_pd(a, b1, c41);
    a = _mm256_broadcast_sd(p5 + k);
    c50 = _mm256_fmadd_pd(a, b0, c50);
    c51 = _mm256_fmadd_pd(a, b1, c51);
  }
  _mm256_storeu_pd(c, c00), _mm256_storeu_pd(c + 4, c01), c += 8;
  _mm256_storeu_pd(c, c10), _mm256_storeu_pd(c + 4, c11), c += 8;
  _mm256_storeu_pd(c, c20), _mm256_storeu_pd(c + 4, c21), c += 8;
  _mm256_storeu_pd(c, c30), _mm256_storeu_pd(c + 4, c31), c += 8;
  _mm256_storeu_pd(c, c40), _mm256_storeu_pd(c + 4, c41), c += 8;
  _mm256_storeu_pd(c, c50), _mm256_storeu_pd(c + 4, c51);
}

DL_AVX2 void conv_bwdw_tap_avx2_f32(i64 oh, i64 ow, const float* x, const i64* kOff, i64 xRow, const float* gyT,
                                    float* t, i64 ldt) {
  __m256 c00 = _mm256_loadu_ps(t), c01 = _mm256_loadu_ps(t + 8);
  __m256 c10 = _mm256_loadu_ps(t + ldt), c11 = _mm256_loadu_ps(t + ldt + 8);
  __m256 c20 = _mm256_loadu_ps(t + 2 * ldt), c21 = _mm256_loadu_ps(t + 2 * ldt + 8);
  __m256 c30 = _mm256_loadu_ps(t + 3 * ldt), c31 = _mm256_loadu_ps(t + 3 * ldt + 8);
  __m256 c40 = _mm256_loadu_ps(t + 4 * ldt), c41 = _mm256_loadu_ps(t + 4 * ldt + 8);
  __m256 c50 = _mm256_loadu_ps(t + 5 * ldt), c51 = _mm256_loadu_ps(t + 5 * ldt + 8);
  const float* g = gyT;
  for (i64 oy = 0; oy < oh; oy++) {
    const float* r0 = x + kOff[0] + oy * xRow;
    const float* r1 = x + kOff[1] + oy * xRow;
    const float* r2 = x + kOff[2] + oy * xRow;
    const float* r3 = x + kOff[3] + oy * xRow;
    const float* r4 = x + kOff[4] + oy * xRow;
    const float* r5 = x + kOff[5] + oy * xRow;
    for (i64 ox = 0; ox < ow; ox++, g += 16) {
      const __m256 b0 = _mm256_loadu_ps(g), b1 = _mm256_loadu_ps(g + 8);
      __m256 a = _mm256_broadcast_ss(r0 + ox);
      c00 = _mm256_fmadd_ps(a, b0, c00);
      c01 = _mm256_fmadd_ps(a, b1, c01);
      a = _mm256_broadcast_ss(r1 + ox);
      c10 = _mm256_fmadd_ps(a, b0, c10);
      c11 = _mm256_fmadd_ps(a, b1, c11);
      a = _mm256_broadcast_ss(r2 + ox);
      c20 = _mm256_fmadd_ps(a, b0, c20);
      c21 = _mm256_fmadd_ps(a, b1, c21);
      a = _mm256_broadcast_ss(r3 + ox);
      c30 = _mm256_fmadd_ps(a, b0, c30);
      c31 = _mm256_fmadd_ps(a, b1, c31);
      a = _mm256_broadcast_ss(r4 + ox);
      c40 = _mm256_fmadd_ps(a, b0, c40);
      c41 = _mm256_fmadd_ps(a, b1, c41);
      a = _mm256_broadcast_ss(r5 + ox);
      c50 = _mm256_fmadd_ps(a, b0, c50);
      c51 = _mm256_fmadd_ps(a, b1, c51);
    }
  }
  _mm256_storeu_ps(t, c00), _mm256_storeu_ps(t + 8, c01), t += ldt;
  _mm256_storeu_ps(t, c10), _mm256_storeu_ps(t + 8, c11), t += ldt;
  _mm256_storeu_ps(t, c20), _mm256_storeu_ps(t + 8, c21), t += ldt;
  _mm256_storeu_ps(t, c30), _mm256_storeu_ps(t + 8, c31), t += ldt;
  _mm256_storeu_ps(t, c40), _mm256_storeu_ps(t + 8, c41), t += ldt;
  _mm256_storeu_ps(t, c50), _mm256_storeu_ps(t + 8, c51);
}

DL_AVX2 void conv_bwdw_tap_avx2_f64(i64 oh, i64 ow, const double* x, const i64* kOff, i64 xRow, const double* gyT,
                                    double* t, i64 ldt) {
  __m256d c00 = _mm256_loadu_pd(t), c01 = _mm256_loadu_pd(t + 4);
  __m256d c10 = _mm256_loadu_pd(t + ldt), c11 = _mm256_loadu_pd(t + ldt + 4);
  __m256d c20 = _mm256_loadu_pd(t + 2 * ldt), c21 = _mm256_loadu_pd(t + 2 * ldt + 4);
  __m256d c30 = _mm256_loadu_pd(t + 3 * ldt), c31 = _mm256_loadu_pd(t + 3 * ldt + 4);
  __m256d c40 = _mm256_loadu_pd(t + 4 * ldt), c41 = _mm256_loadu_pd(t + 4 * ldt + 4);
  __m256d c50 = _mm256_loadu_pd(t + 5 * ldt), c51 = _mm256_loadu_pd(t + 5 * ldt + 4);
  const double* g = gyT;
  for (i64 oy = 0; oy < oh; oy++) {
    const double* r0 = x + kOff[0] + oy * xRow;
    const double* r1 = x + kOff[1] + oy * xRow;
    const double* r2 = x + kOff[2] + oy * xRow;
    const double* r3 = x + kOff[3] + oy * xRow;
    const double* r4 = x + kOff[4] + oy * xRow;
    const double* r5 = x + kOff[5] + oy * xRow;
    for (i64 ox = 0; ox < ow; ox++, g += 8) {
      const __m256d b0 = _mm256_loadu_pd(g), b1 = _mm256_loadu_pd(g + 4);
      __m256d a = _mm256_broadcast_sd(r0 + ox);
      c00 = _mm256_fmadd_pd(a, b0, c00);
      c01 = _mm256_fmadd_pd(a, b1, c01);
      a = _mm256_broadcast_sd(r1 + ox);
      c10 = _mm256_fmadd_pd(a, b0, c10);
      c11 = _mm256_fmadd_pd(a, b1, c11);
      a = _mm256_broadcast_sd(r2 + ox);
      c20 = _mm256_fmadd_pd(a, b0, c20);
      c21 = _mm256_fmadd_pd(a, b1, c21);
      a = _mm256_broadcast_sd(r3 + ox);
      c30 = _mm256_fmadd_pd(a, b0, c30);
      c31 = _mm256_fmadd_pd(a, b1, c31);
      a = _mm256_broadcast_sd(r4 + ox);
      c40 = _mm256_fmadd_pd(a, b0, c40);
      c41 = _mm256_fmadd_pd(a, b1, c41);
      a = _mm256_broadcast_sd(r5 + ox);
      c50 = _mm256_fmadd_pd(a, b0, c50);
      c51 = _mm256_fmadd_pd(a, b1, c51);
    }
  }
  _mm256_storeu_pd(t, c00), _mm256_storeu_pd(t + 4, c01), t += ldt;
  _mm256_storeu_pd(t, c10), _mm256_storeu_pd(t + 4, c11), t += ldt;
  _mm256_storeu_pd(t, c20), _mm256_storeu_pd(t + 4, c21), t += ldt;
  _mm256_storeu_pd(t, c30), _mm256_storeu_pd(t + 4, c31), t += ldt;
  _mm256_storeu_pd(t, c40), _mm256_storeu_pd(t + 4, c41), t += ldt;
  _mm256_storeu_pd(t, c50), _mm256_storeu_pd(t + 4, c51);
}

namespace {

DL_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

DL_AVX2 inline double hsum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

// Vector traits for the weight-gradient block.
struct F32 {
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  DL_AVX2 static V zero() { return _mm256_setzero_ps(); }
  DL_AVX2 static V load(const T* p) { return _mm256_loadu_ps(p); }
  DL_AVX2 static V mload(const T* p, __m256i m) { return _mm256_maskload_ps(p, m); }
  DL_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  DL_AVX2 static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};
struct F64 {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  DL_AVX2 static V zero() { return _mm256_setzero_pd(); }
  DL_AVX2 static V load(const T* p) { return _mm256_loadu_pd(p); }
  DL_AVX2 static V mload(const T* p, __m256i m) { return _mm256_maskload_pd(p, m); }
  DL_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  DL_AVX2 static __m256i mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
};

template <class S, int MO, int KB>
DL_AVX2 void bwdw(i64 oh, i64 ow, const typename S::T* gy, i64 gyO, i64 gyRow, const typename S::T* x, const i64* kOff,
                  i64 xRow, typename S::T* gw, i64 ldgw) {
  using V = typename S::V;
  V acc[MO][KB];
  for (int o = 0; o < MO; o++)
    for (int k = 0; k < KB; k++) acc[o][k] = S::zero();
  const i64 full = ow / S::W * S::W;
  const int rem = static_cast<int>(ow - full);
  const __m256i m = S::mask(rem);
  for (i64 oy = 0; oy < oh; oy++) {
    const typename S::T* g = gy + oy * gyRow;
    const typename S::T* xr = x + oy * xRow;
    for (i64 ox = 0; ox < full; ox += S::W) {
      V xv[KB];
      for (int k = 0; k < KB; k++) xv[k] = S::load(xr + kOff[k] + ox);
      for (int o = 0; o < MO; o++) {
        const V gv = S::load(g + o * gyO + ox);
        for (int k = 0; k < KB; k++) acc[o][k] = S::fma(gv, xv[k], acc[o][k]);
      }
    }
    if (rem) {
      // Masked lanes are not read (no stray NaN/inf) and contribute zero.
      V xv[KB];
      for (int k = 0; k < KB; k++) xv[k] = S::mload(xr + kOff[k] + full, m);
      for (int o = 0; o < MO; o++) {
        const V gv = S::mload(g + o * gyO + full, m);
        for (int k = 0; k < KB; k++) acc[o][k] = S::fma(gv, xv[k], acc[o][k]);
      }
    }
  }
  for (int o = 0; o < MO; o++)
    for (int k = 0; k < KB; k++) gw[o * ldgw + k] += hsum(acc[o][k]);
}

template <class S>
DL_AVX2 void bwdw_dispatch(int mo, int kb, i64 oh, i64 ow, const typename S::T* gy, i64 gyO, i64 gyRow,
                           const typename S::T* x, const i64* kOff, i64 xRow, typename S::T* gw, i64 ldgw) {
#define DL_CASE(MO)                                                        \
  case MO:                                                                 \
    if (kb == 2) bwdw<S, MO, 2>(oh, ow, gy, gyO, gyRow, x, kOff, xRow, gw, ldgw); \
    else bwdw<S, MO, 1>(oh, ow, gy, gyO, gyRow, x, kOff, xRow, gw, ldgw);  \
    return;
  switch (mo) {
    DL_CASE(1)
    DL_CASE(2)
    DL_CASE(3)
    DL_CASE(4)
    DL_CASE(5)
    DL_CASE(6)
    default: return;
  }
#undef DL_CASE
}

}  // namespace

DL_AVX2 void conv_bwdw_block_avx2_f32(int mo, int kb, i64 oh, i64 ow, const float* gy, i64 gyO, i64 gyRow,
                                      const float* x, const i64* kOff, i64 xRow, float* gw, i64 ldgw) {
  bwdw_dispatch<F32>(mo, kb, oh, ow, gy, gyO, gyRow, x, kOff, xRow, gw, ldgw);
}

DL_AVX2 void conv_bwdw_block_avx2_f64(int mo, int kb, i64 oh, i64 ow, const double* gy, i64 gyO, i64 gyRow,
                                      const double* x, const i64* kOff, i64 xRow, double* gw, i64 ldgw) {
  bwdw_dispatch<F64>(mo, kb, oh, ow, gy, gyO, gyRow, x, kOff, xRow, gw, ldgw);
}

}  // namespace dl

#endif  // __x86_64__
