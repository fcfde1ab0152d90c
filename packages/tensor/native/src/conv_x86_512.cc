// AVX-512 variants of the direct-convolution micro-kernels (float32), used when cpuid reports
// AVX-512 F/VL/BW with zmm state enabled (e.g. AMD Zen 4/5, Intel Skylake-SP and later):
// twice the lanes of the AVX2 ones for the same instruction count. As the other *_x86 files:
// only the DL_AVX512 functions are compiled for AVX-512, and nothing here is inline library
// code that could leak into the baseline path.
#if defined(__x86_64__)

#include <immintrin.h>

#include "conv_kernels.h"

#define DL_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))

namespace dl {

// 6 x 32 forward tile: rows = output channels (broadcast weights), columns = wide pixels.
DL_AVX512 void conv_fwd_tile_avx512_f32(i64 kc, const float* pa, const float* b, const i64* kOff, float* c, i64 ldc) {
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
  __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
  __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
  __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
  __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
  for (i64 p = 0; p < kc; p++, pa += 6) {
    const float* bp = b + kOff[p];
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
    __m512 a = _mm512_set1_ps(pa[0]);
    c00 = _mm512_fmadd_ps(a, b0, c00);
    c01 = _mm512_fmadd_ps(a, b1, c01);
    a = _mm512_set1_ps(pa[1]);
    c10 = _mm512_fmadd_ps(a, b0, c10);
    c11 = _mm512_fmadd_ps(a, b1, c11);
    a = _mm512_set1_ps(pa[2]);
    c20 = _mm512_fmadd_ps(a, b0, c20);
    c21 = _mm512_fmadd_ps(a, b1, c21);
    a = _mm512_set1_ps(pa[3]);
    c30 = _mm512_fmadd_ps(a, b0, c30);
    c31 = _mm512_fmadd_ps(a, b1, c31);
    a = _mm512_set1_ps(pa[4]);
    c40 = _mm512_fmadd_ps(a, b0, c40);
    c41 = _mm512_fmadd_ps(a, b1, c41);
    a = _mm512_set1_ps(pa[5]);
    c50 = _mm512_fmadd_ps(a, b0, c50);
    c51 = _mm512_fmadd_ps(a, b1, c51);
  }
  _mm512_storeu_ps(c, c00), _mm512_storeu_ps(c + 16, c01), c += ldc;
  _mm512_storeu_ps(c, c10), _mm512_storeu_ps(c + 16, c11), c += ldc;
  _mm512_storeu_ps(c, c20), _mm512_storeu_ps(c + 16, c21), c += ldc;
  _mm512_storeu_ps(c, c30), _mm512_storeu_ps(c + 16, c31), c += ldc;
  _mm512_storeu_ps(c, c40), _mm512_storeu_ps(c + 16, c41), c += ldc;
  _mm512_storeu_ps(c, c50), _mm512_storeu_ps(c + 16, c51);
}

namespace {

// Pixel-major (PX pixels x 16 channels) and tap-major (TP taps x 16 channels) tiles: one zmm
// of 16 output channels per row, PX / TP rows.
template <int PX>
DL_AVX512 void fwd_pix512(i64 kc, const float* x, const i64* qo, const i64* kOff, const float* wT, float* c) {
  __m512 acc[PX];
  const float* px[PX];
  for (int i = 0; i < PX; i++) acc[i] = _mm512_setzero_ps(), px[i] = x + qo[i];
  for (i64 p = 0; p < kc; p++, wT += 16) {
    const i64 k = kOff[p];
    const __m512 b = _mm512_loadu_ps(wT);
    for (int i = 0; i < PX; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(px[i][k]), b, acc[i]);
  }
  for (int i = 0; i < PX; i++) _mm512_storeu_ps(c + 16 * i, acc[i]);
}

template <int TP>
DL_AVX512 void bwdw_tap512(i64 oh, i64 ow, const float* x, const i64* kOff, i64 xRow, const float* gyT, float* t,
                           i64 ldt) {
  __m512 acc[TP];
  for (int i = 0; i < TP; i++) acc[i] = _mm512_loadu_ps(t + i * ldt);
  const float* g = gyT;
  for (i64 oy = 0; oy < oh; oy++) {
    const float* r[TP];
    for (int i = 0; i < TP; i++) r[i] = x + kOff[i] + oy * xRow;
    for (i64 ox = 0; ox < ow; ox++, g += 16) {
      const __m512 b = _mm512_loadu_ps(g);
      for (int i = 0; i < TP; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(r[i][ox]), b, acc[i]);
    }
  }
  for (int i = 0; i < TP; i++) _mm512_storeu_ps(t + i * ldt, acc[i]);
}

// The pixel-major tile 32 channels wide: two zmm per row, 2 * PX accumulators, so each broadcast
// of the image feeds two FMAs (the 16-wide tile issues a load per FMA and is bound by loads:
// 250 against 350 GFLOP/s at 128-512 channels on Zen 5).
template <int PX>
DL_AVX512 void fwd_pix512x32(i64 kc, const float* x, const i64* qo, const i64* kOff, const float* wT, float* c) {
  __m512 lo[PX], hi[PX];
  const float* px[PX];
  for (int i = 0; i < PX; i++) lo[i] = hi[i] = _mm512_setzero_ps(), px[i] = x + qo[i];
  for (i64 p = 0; p < kc; p++, wT += 32) {
    const i64 k = kOff[p];
    const __m512 b0 = _mm512_loadu_ps(wT), b1 = _mm512_loadu_ps(wT + 16);
    for (int i = 0; i < PX; i++) {
      const __m512 a = _mm512_set1_ps(px[i][k]);
      lo[i] = _mm512_fmadd_ps(a, b0, lo[i]);
      hi[i] = _mm512_fmadd_ps(a, b1, hi[i]);
    }
  }
  for (int i = 0; i < PX; i++) _mm512_storeu_ps(c + 32 * i, lo[i]), _mm512_storeu_ps(c + 32 * i + 16, hi[i]);
}

// Channel-major weight-gradient block: MO output channels x KB taps, 16 pixels per vector,
// the row tail masked (masked lanes are not read).
template <int MO, int KB>
DL_AVX512 void bwdw512(i64 oh, i64 ow, const float* gy, i64 gyO, i64 gyRow, const float* x, const i64* kOff, i64 xRow,
                       float* gw, i64 ldgw) {
  __m512 acc[MO][KB];
  for (int o = 0; o < MO; o++)
    for (int k = 0; k < KB; k++) acc[o][k] = _mm512_setzero_ps();
  const i64 full = ow / 16 * 16;
  const int rem = static_cast<int>(ow - full);
  const __mmask16 m = static_cast<__mmask16>((1u << rem) - 1u);
  for (i64 oy = 0; oy < oh; oy++) {
    const float* gr = gy + oy * gyRow;
    const float* xr = x + oy * xRow;
    for (i64 ox = 0; ox < full; ox += 16) {
      __m512 xv[KB];
      for (int k = 0; k < KB; k++) xv[k] = _mm512_loadu_ps(xr + kOff[k] + ox);
      for (int o = 0; o < MO; o++) {
        const __m512 gv = _mm512_loadu_ps(gr + o * gyO + ox);
        for (int k = 0; k < KB; k++) acc[o][k] = _mm512_fmadd_ps(gv, xv[k], acc[o][k]);
      }
    }
    if (rem) {
      __m512 xv[KB];
      for (int k = 0; k < KB; k++) xv[k] = _mm512_maskz_loadu_ps(m, xr + kOff[k] + full);
      for (int o = 0; o < MO; o++) {
        const __m512 gv = _mm512_maskz_loadu_ps(m, gr + o * gyO + full);
        for (int k = 0; k < KB; k++) acc[o][k] = _mm512_fmadd_ps(gv, xv[k], acc[o][k]);
      }
    }
  }
  for (int o = 0; o < MO; o++)
    for (int k = 0; k < KB; k++) gw[o * ldgw + k] += _mm512_reduce_add_ps(acc[o][k]);
}

}  // namespace

DL_AVX512 void conv_fwd_pix_avx512_f32(i64 kc, const float* x, const i64* qo, const i64* kOff, const float* wT,
                                       float* c) {
  fwd_pix512<8>(kc, x, qo, kOff, wT, c);
}

DL_AVX512 void conv_fwd_pix32_avx512_f32(i64 kc, const float* x, const i64* qo, const i64* kOff, const float* wT,
                                         float* c) {
  fwd_pix512x32<8>(kc, x, qo, kOff, wT, c);
}

DL_AVX512 void conv_bwdw_tap_avx512_f32(i64 oh, i64 ow, const float* x, const i64* kOff, i64 xRow, const float* gyT,
                                        float* t, i64 ldt) {
  bwdw_tap512<8>(oh, ow, x, kOff, xRow, gyT, t, ldt);
}

DL_AVX512 void conv_bwdw_block_avx512_f32(int mo, int kb, i64 oh, i64 ow, const float* gy, i64 gyO, i64 gyRow,
                                          const float* x, const i64* kOff, i64 xRow, float* gw, i64 ldgw) {
#define DL_CASE(MO)                                                              \
  case MO:                                                                       \
    if (kb == 2) bwdw512<MO, 2>(oh, ow, gy, gyO, gyRow, x, kOff, xRow, gw, ldgw); \
    else bwdw512<MO, 1>(oh, ow, gy, gyO, gyRow, x, kOff, xRow, gw, ldgw);        \
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

}  // namespace dl

#endif  // __x86_64__
