// Micro-kernels of the direct (stride-1) convolutions in conv.cc, chosen at run time like the
// GEMM's: AVX2 + FMA (conv_x86.cc) or portable C++ (conv.cc).
//
// Forward tile: c[i*ldc + j] = sum_{p < kc} pa[p*MR + i] * b[kOff[p] + j] for i < MR, j < NR:
//   the GEMM micro-kernel with its B panel read straight from a (padded) image, row p of the
//   implicit column matrix starting at b + kOff[p] (no im2col copy).
// Weight-gradient block: gw[o*ldgw + kk] += sum_{oy < oh, ox < ow} gy[o*gyO + oy*gyRow + ox] *
//   x[kOff[kk] + oy*xRow + ox] for o < MO, kk < KB (MO <= 6, KB <= 2).
#pragma once

#include "common.h"

namespace dl {

template <typename T>
using ConvFwdTile = void (*)(i64 kc, const T* pa, const T* b, const i64* kOff, T* c, i64 ldc);

template <typename T>
using ConvBwdWBlock = void (*)(int mo, int kb, i64 oh, i64 ow, const T* gy, i64 gyO, i64 gyRow, const T* x,
                               const i64* kOff, i64 xRow, T* gw, i64 ldgw);

/**
 * Tap-major weight-gradient tile: t[i*ldt + j] += sum_{oy < oh, ox < ow} x[kOff[i] + oy*xRow + ox] *
 * gyT[(oy*ow + ox)*NR + j] for i < MR (taps), j < NR (output channels): a GEMM tile whose A
 * operand is read straight from the padded image and whose B is the transposed gradient.
 */
template <typename T>
using ConvBwdWTap = void (*)(i64 oh, i64 ow, const T* x, const i64* kOff, i64 xRow, const T* gyT, T* t, i64 ldt);

/**
 * Pixel-major forward tile: c[i*NR + j] = sum_{p < kc} x[qo[i] + kOff[p]] * wT[p*NR + j] for i < MR
 * (output pixels, each at its window offset qo[i] in the padded image), j < NR (output
 * channels; wT is the transposed weight, NR channels per row). For layers whose channel count
 * fills the vectors: no column matrix, no wasted columns, any stride.
 */
template <typename T>
using ConvFwdPix = void (*)(i64 kc, const T* x, const i64* qo, const i64* kOff, const T* wT, T* c);

/** A kernel with its tile extent: columns (forward tile), pixels (pixel-major) or taps (tap-major). */
template <class F>
struct Sized {
  F fn;
  int size;
};

/**
 * A pixel- or tap-major kernel: `size` pixels or taps per tile, `width` output channels per tile
 * (the NR of its contract: the rows of wT / gyT hold `width` channels).
 */
template <class F>
struct Tiled {
  F fn;
  int size;
  int width;
};

/** Widest forward tile of any kernel family (slack the padded images must have). */
constexpr int kMaxTileWidth = 32;

template <typename T>
Sized<ConvFwdTile<T>> conv_fwd_tile();
/** The pixel-major kernel for `channels` output channels: 32 wide (AVX-512) when they fill such tiles. */
template <typename T>
Tiled<ConvFwdPix<T>> conv_fwd_pix(i64 channels);
template <typename T>
Tiled<ConvBwdWTap<T>> conv_bwdw_tap();
template <typename T>
ConvBwdWBlock<T> conv_bwdw_block();

#if defined(__x86_64__)
void conv_fwd_tile_avx512_f32(i64 kc, const float* pa, const float* b, const i64* kOff, float* c, i64 ldc);
void conv_fwd_pix_avx512_f32(i64 kc, const float* x, const i64* qo, const i64* kOff, const float* wT, float* c);
void conv_fwd_pix32_avx512_f32(i64 kc, const float* x, const i64* qo, const i64* kOff, const float* wT, float* c);
void conv_bwdw_tap_avx512_f32(i64 oh, i64 ow, const float* x, const i64* kOff, i64 xRow, const float* gyT, float* t,
                              i64 ldt);
void conv_bwdw_block_avx512_f32(int mo, int kb, i64 oh, i64 ow, const float* gy, i64 gyO, i64 gyRow, const float* x,
                                const i64* kOff, i64 xRow, float* gw, i64 ldgw);
void conv_fwd_tile_avx2_f32(i64 kc, const float* pa, const float* b, const i64* kOff, float* c, i64 ldc);
void conv_fwd_tile_avx2_f64(i64 kc, const double* pa, const double* b, const i64* kOff, double* c, i64 ldc);
void conv_fwd_pix_avx2_f32(i64 kc, const float* x, const i64* qo, const i64* kOff, const float* wT, float* c);
void conv_fwd_pix_avx2_f64(i64 kc, const double* x, const i64* qo, const i64* kOff, const double* wT, double* c);
void conv_bwdw_tap_avx2_f32(i64 oh, i64 ow, const float* x, const i64* kOff, i64 xRow, const float* gyT, float* t,
                            i64 ldt);
void conv_bwdw_tap_avx2_f64(i64 oh, i64 ow, const double* x, const i64* kOff, i64 xRow, const double* gyT, double* t,
                            i64 ldt);
void conv_bwdw_block_avx2_f32(int mo, int kb, i64 oh, i64 ow, const float* gy, i64 gyO, i64 gyRow, const float* x,
                              const i64* kOff, i64 xRow, float* gw, i64 ldgw);
void conv_bwdw_block_avx2_f64(int mo, int kb, i64 oh, i64 ow, const double* gy, i64 gyO, i64 gyRow, const double* x,
                              const i64* kOff, i64 xRow, double* gw, i64 ldgw);
#endif

}  // namespace dl
