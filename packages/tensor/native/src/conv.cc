#include "conv.h"

#include <cstring>
#include <memory>
#include <vector>

#include "conv_kernels.h"
#include "gemm.h"
#include "thread_pool.h"

namespace dl {

namespace {

// Scratch above this is released after each image, so one huge convolution does not pin
// memory in every thread for the rest of the process.
constexpr std::size_t kKeepScratch = std::size_t(32) << 20;

struct Derived {
  i64 Cg, Og, Kd, P;
  bool padded;
  i64 Hp, Wp;  // padded image size
};

Derived derive(const ConvGeom& g) {
  Derived d;
  d.Cg = g.C / g.G;
  d.Og = g.O / g.G;
  d.Kd = d.Cg * g.kh * g.kw;
  d.P = g.oh * g.ow;
  d.padded = g.ph > 0 || g.pw > 0;
  d.Hp = g.H + 2 * g.ph;
  d.Wp = g.W + 2 * g.pw;
  return d;
}

/** kOff[k] for k = (c, i, j): where tap (i, j) of channel c sits relative to the window origin. */
std::vector<i64> tap_offsets(const ConvGeom& g, i64 Cg, i64 sC, i64 sH, i64 sW) {
  std::vector<i64> off(static_cast<std::size_t>(Cg * g.kh * g.kw));
  i64 k = 0;
  for (i64 c = 0; c < Cg; c++)
    for (i64 i = 0; i < g.kh; i++)
      for (i64 j = 0; j < g.kw; j++) off[k++] = c * sC + i * g.dh * sH + j * g.dw * sW;
  return off;
}

/** The same (c, i, j) order over the weight tensor itself (no dilation). */
std::vector<i64> weight_offsets(const ConvGeom& g, i64 Cg, i64 s1, i64 s2, i64 s3) {
  std::vector<i64> off(static_cast<std::size_t>(Cg * g.kh * g.kw));
  i64 k = 0;
  for (i64 c = 0; c < Cg; c++)
    for (i64 i = 0; i < g.kh; i++)
      for (i64 j = 0; j < g.kw; j++) off[k++] = c * s1 + i * s2 + j * s3;
  return off;
}

/** qOff[q] for q = (oy, ox): where the window of output pixel q starts. */
std::vector<i64> window_offsets(const ConvGeom& g, i64 sH, i64 sW) {
  std::vector<i64> off(static_cast<std::size_t>(g.oh * g.ow));
  i64 q = 0;
  for (i64 oy = 0; oy < g.oh; oy++)
    for (i64 ox = 0; ox < g.ow; ox++) off[q++] = oy * g.sh * sH + ox * g.sw * sW;
  return off;
}

/** pixel offsets of a (oh, ow) plane viewed through strides (sH, sW). */
std::vector<i64> plane_offsets(i64 h, i64 w, i64 sH, i64 sW) {
  std::vector<i64> off(static_cast<std::size_t>(h * w));
  i64 q = 0;
  for (i64 a = 0; a < h; a++)
    for (i64 b = 0; b < w; b++) off[q++] = a * sH + b * sW;
  return off;
}

std::vector<i64> linear_offsets(i64 n, i64 s) {
  std::vector<i64> off(static_cast<std::size_t>(n));
  for (i64 i = 0; i < n; i++) off[i] = i * s;
  return off;
}

template <typename T>
std::vector<unsigned char> panel_flags(const std::vector<i64>& off) {
  const int NR = GemmTraits<T>::NR;
  std::vector<unsigned char> f(static_cast<std::size_t>((off.size() + NR - 1) / NR + 1));
  contiguous_panels(off.data(), static_cast<i64>(off.size()), NR, f.data());
  return f;
}

/** Zero-padded contiguous copy (Cg, Hp, Wp) of Cg channels of one image. */
template <typename T>
void pad_image(const ConvGeom& g, const Derived& d, const T* x, Strides4 xs, T* dst) {
  std::memset(dst, 0, sizeof(T) * static_cast<std::size_t>(d.Cg * d.Hp * d.Wp));
  for (i64 c = 0; c < d.Cg; c++)
    for (i64 h = 0; h < g.H; h++) {
      const T* s = x + c * xs.s1 + h * xs.s2;
      T* o = dst + (c * d.Hp + h + g.ph) * d.Wp + g.pw;
      if (xs.s3 == 1) std::memcpy(o, s, sizeof(T) * static_cast<std::size_t>(g.W));
      else
        for (i64 w = 0; w < g.W; w++) o[w] = s[w * xs.s3];
    }
}

/** How many pieces to cut each image's pixels into so that every thread has work. */
i64 pixel_splits(i64 N, i64 P, int NR) {
  const i64 threads = ThreadPool::instance().size();
  if (N >= threads) return 1;
  return imax(1, imin((threads + N - 1) / N, (P + NR - 1) / NR));
}


// ------------------------------------------------------------------ direct (stride 1) kernels

template <typename T, int MR, int NR>
void fwd_tile_portable(i64 kc, const T* pa, const T* b, const i64* kOff, T* c, i64 ldc) {
  T acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = T(0);
  for (i64 p = 0; p < kc; p++) {
    const T* bp = b + kOff[p];
    for (int i = 0; i < MR; i++) {
      const T a = pa[p * MR + i];
      for (int j = 0; j < NR; j++) acc[i][j] += a * bp[j];
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) c[i * ldc + j] = acc[i][j];
}

template <typename T, int MR, int NR>
void fwd_pix_portable(i64 kc, const T* x, const i64* qo, const i64* kOff, const T* wT, T* c) {
  T acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = T(0);
  for (i64 p = 0; p < kc; p++, wT += NR)
    for (int i = 0; i < MR; i++) {
      const T a = x[qo[i] + kOff[p]];
      for (int j = 0; j < NR; j++) acc[i][j] += a * wT[j];
    }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) c[i * NR + j] = acc[i][j];
}

template <typename T, int MR, int NR>
void bwdw_tap_portable(i64 oh, i64 ow, const T* x, const i64* kOff, i64 xRow, const T* gyT, T* t, i64 ldt) {
  T acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = t[i * ldt + j];
  const T* g = gyT;
  for (i64 oy = 0; oy < oh; oy++)
    for (i64 ox = 0; ox < ow; ox++, g += NR)
      for (int i = 0; i < MR; i++) {
        const T a = x[kOff[i] + oy * xRow + ox];
        for (int j = 0; j < NR; j++) acc[i][j] += a * g[j];
      }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) t[i * ldt + j] = acc[i][j];
}

template <typename T>
void bwdw_block_portable(int mo, int kb, i64 oh, i64 ow, const T* gy, i64 gyO, i64 gyRow, const T* x, const i64* kOff,
                         i64 xRow, T* gw, i64 ldgw) {
  for (int o = 0; o < mo; o++)
    for (int k = 0; k < kb; k++) {
      T s = T(0);
      for (i64 oy = 0; oy < oh; oy++) {
        const T* g = gy + o * gyO + oy * gyRow;
        const T* xr = x + kOff[k] + oy * xRow;
        for (i64 ox = 0; ox < ow; ox++) s += g[ox] * xr[ox];
      }
      gw[o * ldgw + k] += s;
    }
}

}  // namespace

template <>
Sized<ConvFwdTile<float>> conv_fwd_tile<float>() {
#if defined(__x86_64__)
  if (kernels_use_avx512()) return {conv_fwd_tile_avx512_f32, 32};
  if (kernels_use_avx2()) return {conv_fwd_tile_avx2_f32, 16};
#endif
  return {fwd_tile_portable<float, GemmTraits<float>::MR, GemmTraits<float>::NR>, GemmTraits<float>::NR};
}
template <>
Sized<ConvFwdTile<double>> conv_fwd_tile<double>() {
#if defined(__x86_64__)
  if (kernels_use_avx2()) return {conv_fwd_tile_avx2_f64, 8};
#endif
  return {fwd_tile_portable<double, GemmTraits<double>::MR, GemmTraits<double>::NR>, GemmTraits<double>::NR};
}
namespace {
/** Whether `channels` fill tiles `width` wide well enough (at most a quarter of each tile padding). */
bool fills(i64 channels, i64 width) { return channels * 4 >= round_up(channels, width) * 3; }
}  // namespace

template <>
Tiled<ConvFwdPix<float>> conv_fwd_pix<float>(i64 channels) {
#if defined(__x86_64__)
  if (kernels_use_avx512()) return fills(channels, 32) ? Tiled<ConvFwdPix<float>>{conv_fwd_pix32_avx512_f32, 8, 32}
                                                       : Tiled<ConvFwdPix<float>>{conv_fwd_pix_avx512_f32, 8, 16};
  if (kernels_use_avx2()) return {conv_fwd_pix_avx2_f32, 6, 16};
#endif
  return {fwd_pix_portable<float, GemmTraits<float>::MR, GemmTraits<float>::NR>, GemmTraits<float>::MR, GemmTraits<float>::NR};
}
template <>
Tiled<ConvFwdPix<double>> conv_fwd_pix<double>(i64) {
#if defined(__x86_64__)
  if (kernels_use_avx2()) return {conv_fwd_pix_avx2_f64, 6, 8};
#endif
  return {fwd_pix_portable<double, GemmTraits<double>::MR, GemmTraits<double>::NR>, GemmTraits<double>::MR, GemmTraits<double>::NR};
}
template <>
Tiled<ConvBwdWTap<float>> conv_bwdw_tap<float>() {
#if defined(__x86_64__)
  // (A 32-channel AVX-512 variant measured within 5% of this one: these tiles are not bound by
  // their loads, unlike the pixel-major forward's.)
  if (kernels_use_avx512()) return {conv_bwdw_tap_avx512_f32, 8, 16};
  if (kernels_use_avx2()) return {conv_bwdw_tap_avx2_f32, 6, 16};
#endif
  return {bwdw_tap_portable<float, GemmTraits<float>::MR, GemmTraits<float>::NR>, GemmTraits<float>::MR, GemmTraits<float>::NR};
}
template <>
Tiled<ConvBwdWTap<double>> conv_bwdw_tap<double>() {
#if defined(__x86_64__)
  if (kernels_use_avx2()) return {conv_bwdw_tap_avx2_f64, 6, 8};
#endif
  return {bwdw_tap_portable<double, GemmTraits<double>::MR, GemmTraits<double>::NR>, GemmTraits<double>::MR, GemmTraits<double>::NR};
}
template <>
ConvBwdWBlock<float> conv_bwdw_block<float>() {
#if defined(__x86_64__)
  // (The AVX-512 block measured slower on Zen 5 at the ConvNet's 28-pixel rows: its masked
  // tails and reductions cost more than the wider vectors save.)
  if (kernels_use_avx2()) return conv_bwdw_block_avx2_f32;
#endif
  return bwdw_block_portable<float>;
}
template <>
ConvBwdWBlock<double> conv_bwdw_block<double>() {
#if defined(__x86_64__)
  if (kernels_use_avx2()) return conv_bwdw_block_avx2_f64;
#endif
  return bwdw_block_portable<double>;
}

namespace {

/**
 * A stride-1 convolution of one image as an implicit GEMM: out (Co, Ho, Wo) = w (Co x Kd,
 * packed into MR-row panels `pa`) times the column matrix of src zero-padded by (qh, qw),
 * whose row k starts at xp + kOff[k] in the padded copy xp (Ci, Hp, Wp). Columns run over the
 * padded width ("wide" pixels oy * Wp + ox, ox < Wp): consecutive in memory, so the
 * micro-kernel loads them straight from the image; the ox >= Wo ones are computed and
 * dropped. Output rows [r0, r1) only (a task may take part of an image).
 */
struct DirectConv {
  i64 Ci, Hi, Wi, qh, qw, Hp, Wp, Ho, Wo, Co, Kd;
  const i64* kOff;   // Kd offsets into the padded image
  i64 padLen;        // elements of the padded copy, with slack for the widest tile
};

template <typename T>
DirectConv direct_plan(i64 Ci, i64 Hi, i64 Wi, i64 qh, i64 qw, i64 Ho, i64 Wo, i64 Co, const std::vector<i64>& kOff) {
  DirectConv d{Ci, Hi, Wi, qh, qw, Hi + 2 * qh, Wi + 2 * qw, Ho, Wo, Co, static_cast<i64>(kOff.size()), kOff.data(), 0};
  i64 kmax = 0;
  for (i64 v : kOff) kmax = imax(kmax, v);
  d.padLen = imax(Ci * d.Hp * d.Wp, kmax + round_up(Ho * d.Wp, kMaxTileWidth) + kMaxTileWidth);
  return d;
}

/** Zero-padded contiguous copy (Ci, Hp, Wp) of src, plus zeroed slack up to d.padLen. */
template <typename T>
void pad_into(const DirectConv& d, const T* src, i64 s1, i64 s2, i64 s3, T* xp) {
  std::memset(xp, 0, sizeof(T) * static_cast<std::size_t>(d.padLen));
  for (i64 c = 0; c < d.Ci; c++)
    for (i64 h = 0; h < d.Hi; h++) {
      const T* s = src + c * s1 + h * s2;
      T* o = xp + (c * d.Hp + h + d.qh) * d.Wp + d.qw;
      if (s3 == 1) std::memcpy(o, s, sizeof(T) * static_cast<std::size_t>(d.Wi));
      else
        for (i64 w = 0; w < d.Wi; w++) o[w] = s[w * s3];
    }
}

template <typename T>
void direct_rows(const DirectConv& d, const T* xp, const T* pa, const T* bias, i64 bs, T* out, i64 r0, i64 r1) {
  using GT = GemmTraits<T>;
  const Sized<ConvFwdTile<T>> tile = conv_fwd_tile<T>();
  const i64 TW = tile.size;
  const i64 j0 = (r0 * d.Wp) / TW * TW;
  const i64 j1 = round_up(r1 * d.Wp, TW);
  const i64 width = j1 - j0;
  const i64 rows = round_up(d.Co, GT::MR);
  T* cw = scratch<T>(kConvCol, static_cast<std::size_t>(rows * width));
  for (i64 ir = 0; ir < d.Co; ir += GT::MR)
    for (i64 j = j0; j < j1; j += TW) tile.fn(d.Kd, pa + ir * d.Kd, xp + j, d.kOff, cw + ir * width + (j - j0), width);
  const i64 plane = d.Ho * d.Wo;
  for (i64 o = 0; o < d.Co; o++) {
    const T b = bias ? bias[o * bs] : T(0);
    for (i64 oy = r0; oy < r1; oy++) {
      const T* src = cw + o * width + (oy * d.Wp - j0);
      T* dst = out + o * plane + oy * d.Wo;
      if (bias)
        for (i64 ox = 0; ox < d.Wo; ox++) dst[ox] = src[ox] + b;
      else
        std::memcpy(dst, src, sizeof(T) * static_cast<std::size_t>(d.Wo));
    }
  }
}

/** Whether the direct path beats im2col packing: its waste (dropped wide columns) against the packing. */
template <typename T>
bool direct_pays(i64 Co, i64 Kd, i64 P, i64 Pwide, i64 imageElems) {
  using GT = GemmTraits<T>;
  if (Kd > 4096 || imageElems * static_cast<i64>(sizeof(T)) > (1 << 20)) return false;
  const double rows = static_cast<double>(round_up(Co, GT::MR));
  const double direct = rows * Kd * round_up(Pwide, GT::NR);
  // Packing costs roughly 8 multiply-add slots per packed element.
  const double packed = rows * Kd * round_up(P, GT::NR) + 8.0 * Kd * round_up(P, GT::NR);
  return direct <= packed;
}

// The weight gradient's batch-in-the-reduction path builds column matrices of about this many bytes.
constexpr i64 kSlabBytes = i64(16) << 20;

/**
 * Whether the weight gradient should run as one product with the batch in its reduction:
 * when an image has fewer output pixels than the group has output channels (the per-image
 * tap-major tiles then spend their time loading and storing accumulators of gw that no longer
 * fit in cache: 3 GFLOP/s at 512 channels of 4x4 against 150 this way; with more pixels than
 * channels those tiles win, about 200 against 120 at 128 channels of 16x16), or when gw is
 * too big to keep a partial per chunk of the batch.
 */
bool batch_gemm_pays(i64 P, i64 Og, i64 totalBytes) { return P < Og || totalBytes > (i64(8) << 20); }

/**
 * Whether the forward convolution or the input gradient should run over slabs of the batch
 * (one GEMM with the images side by side in its columns) rather than one GEMM per image: when
 * an image has few output pixels, a per-image GEMM repacks the whole weight matrix for a few
 * columns (512 channels of 4x4: 77 GFLOP/s per image).
 */
bool batch_columns_pay(i64 P) { return P < 256; }

/** Images per slab: as many as keep `bytesPerImage` of each under kSlabBytes (at least 1). */
i64 slab_images(i64 N, i64 bytesPerImage) { return imax(1, imin(N, kSlabBytes / imax(1, bytesPerImage))); }

/** fn(i, xp) for each image n0 + i of a slab, in parallel, xp its zero-padded copy (group gi). */
template <typename T, class F>
void for_padded_images(const ConvGeom& g, const Derived& d, const T* x, Strides4 xs, i64 gi, i64 n0, i64 ns, F&& fn) {
  ThreadPool& pool = ThreadPool::instance();
  pool.run(ns, pool.size(), [&](i64 i, int) {
    T* xp = scratch<T>(kConvPad, static_cast<std::size_t>(d.Cg * d.Hp * d.Wp));
    pad_image(g, d, x + (n0 + i) * xs.s0 + gi * d.Cg * xs.s1, xs, xp);
    fn(i, static_cast<const T*>(xp));
    trim_scratch(kKeepScratch);
  });
}

/**
 * The column matrix of images [n0, n0 + ns) of group gi (Kd x ns*P: column (i, q) holds the
 * taps kOff of output pixel q, window qOff[q], of image n0 + i, zero padded), written straight
 * into the packed layout of a GEMM's B operand. Parallel over the images.
 */
template <typename T>
void slab_columns_packed(const ConvGeom& g, const Derived& d, const T* x, Strides4 xs, i64 gi, i64 n0, i64 ns,
                         const std::vector<i64>& kOff, const std::vector<i64>& qOff, const Prepacked<T, GemmTraits<T>::NR>& cols) {
  constexpr int NR = GemmTraits<T>::NR;
  constexpr i64 KC = GemmTraits<T>::KC;
  const i64 NP = ns * d.P;
  for_padded_images(g, d, x, xs, gi, n0, ns, [&](i64 i, const T* xp) {
    for (i64 pc = 0; pc < d.Kd; pc += KC) {
      const i64 kc = imin(KC, d.Kd - pc);
      T* slice = cols.block(pc, 0, kc);
      for (i64 k = pc; k < pc + kc; k++) {
        const T* src = xp + kOff[k];
        T* row = slice + (k - pc) * NR;
        for (i64 q = 0, j = i * d.P; q < d.P; q++, j++) row[(j / NR) * NR * kc + j % NR] = src[qOff[q]];
      }
      // The last panel's columns past the slab are zeros.
      if (i == ns - 1 && NP % NR != 0) {
        T* last = slice + (NP / NR) * NR * kc;
        for (i64 p = 0; p < kc; p++)
          for (i64 j = NP % NR; j < NR; j++) last[p * NR + j] = T(0);
      }
    }
  });
}

/**
 * The transposed column matrix of images [n0, n0 + ns) of group gi (ns*P x Kd: row (i, q)
 * holds the taps kOff of output pixel q of image n0 + i), written straight into the packed
 * layout of a GEMM's B operand whose K runs over (i, q) and whose columns are the taps.
 * Parallel over the images.
 */
template <typename T>
void slab_rows_packed(const ConvGeom& g, const Derived& d, const T* x, Strides4 xs, i64 gi, i64 n0, i64 ns,
                      const std::vector<i64>& kOff, const std::vector<i64>& qOff, const Prepacked<T, GemmTraits<T>::NR>& rows) {
  constexpr int NR = GemmTraits<T>::NR;
  constexpr i64 KC = GemmTraits<T>::KC;
  const i64 NP = ns * d.P;
  for_padded_images(g, d, x, xs, gi, n0, ns, [&](i64 i, const T* xp) {
    for (i64 q = 0, r = i * d.P; q < d.P; q++, r++) {
      const i64 pc = r - r % KC, kc = imin(KC, NP - pc);
      T* row = rows.block(pc, 0, kc) + (r - pc) * NR;
      const T* src = xp + qOff[q];
      for (i64 k = 0; k < d.Kd; k++) row[(k / NR) * NR * kc + k % NR] = src[kOff[k]];
      // The last panel's columns past Kd are zeros.
      for (i64 k = d.Kd; k % NR != 0; k++) row[(k / NR) * NR * kc + k % NR] = T(0);
    }
  });
}

/**
 * col2im of one image: gx plane c (H x W) += the rows (c, i, j) of col (Kd x P, rows ldc
 * apart) at the input pixels their output pixels read. lo/hi[j]: the output columns that
 * kernel column j maps inside the input.
 */
template <typename T>
void col2im_add(const ConvGeom& g, const Derived& d, const std::vector<i64>& lo, const std::vector<i64>& hi, const T* col,
                i64 ldc, T* base) {
  const T* r = col;
  for (i64 c = 0; c < d.Cg; c++) {
    T* plane = base + c * g.H * g.W;
    for (i64 i = 0; i < g.kh; i++) {
      const i64 hOff = i * g.dh - g.ph;
      for (i64 j = 0; j < g.kw; j++, r += ldc) {
        const i64 wOff = j * g.dw - g.pw;
        const i64 a = lo[j], b = hi[j];
        for (i64 oy = 0; oy < g.oh; oy++) {
          const i64 h = oy * g.sh + hOff;
          if (h < 0 || h >= g.H) continue;
          const T* src = r + oy * g.ow;
          T* dst = plane + h * g.W + wOff;
          if (g.sw == 1) {
            for (i64 ox = a; ox < b; ox++) dst[ox] += src[ox];
          } else {
            for (i64 ox = a; ox < b; ox++) dst[ox * g.sw] += src[ox];
          }
        }
      }
    }
  }
}

/** Output rows per task so that a small batch still keeps every thread busy. */
i64 row_splits(i64 N, i64 Ho) {
  const i64 threads = ThreadPool::instance().size();
  if (N >= threads) return 1;
  return imax(1, imin(2 * ((threads + N - 1) / N), Ho));
}

/**
 * A convolution with few output pixels per image, over slabs of the batch: per group,
 * y_g (Og x (n, q)) = A_g (Og x Kd) @ col (Kd x (n, q)) + bias, the images of a slab side by side
 * in one GEMM, parallel over tiles of the product, then scattered to y (N x O x P, contiguous).
 * A_g[o][k] = w[gi * wGroup + wRow[o] + wCol[k]]: the weights, or for the input gradient the
 * flipped, transposed weights. Both operands are packed once (the weights per call, the columns
 * per slab, straight from the images) and every tile reads its blocks in place.
 */
template <typename T>
void conv_slabs(const ConvGeom& g, const Derived& d, const T* x, Strides4 xs, const T* w, i64 wGroup,
                const std::vector<i64>& wRow, const std::vector<i64>& wCol, const T* bias, i64 bs, T* y) {
  using GT = GemmTraits<T>;
  const i64 P = d.P;
  const i64 slab = slab_images(g.N, P * (d.Kd + d.Og) * static_cast<i64>(sizeof(T)));
  const std::vector<i64> kOff = tap_offsets(g, d.Cg, d.Hp * d.Wp, d.Wp, 1);
  const std::vector<i64> qOff = window_offsets(g, d.Wp, 1);
  const i64 wLen = Prepacked<T, GT::MR>::size(d.Og, d.Kd);
  T* wPacked = scratch<T>(kConvW, static_cast<std::size_t>(wLen * g.G));
  for (i64 gi = 0; gi < g.G; gi++) {
    const TableMatrix<T> A{w + gi * wGroup, wRow.data(), wCol.data(), nullptr};
    prepack(Prepacked<T, GT::MR>{wPacked + gi * wLen, d.Og}, d.Kd, GT::KC,
            [&](i64 l0, i64 nl, i64 pc, i64 kc, T* dst) { pack_a_table<T, GT::MR>(A, l0, nl, pc, kc, dst); });
  }
  T* colData = scratch<T>(kConvCol, static_cast<std::size_t>(Prepacked<T, GT::NR>::size(slab * P, d.Kd)));
  T* out = scratch<T>(kConvOut, static_cast<std::size_t>(d.Og * slab * P));
  ThreadPool& pool = ThreadPool::instance();
  for (i64 n0 = 0; n0 < g.N; n0 += slab) {
    const i64 ns = imin(slab, g.N - n0), NP = ns * P;
    const Prepacked<T, GT::NR> b{colData, NP};
    for (i64 gi = 0; gi < g.G; gi++) {
      slab_columns_packed(g, d, x, xs, gi, n0, ns, kOff, qOff, b);
      const Prepacked<T, GT::MR> a{wPacked + gi * wLen, d.Og};
      for_gemm_tiles(d.Og, NP, d.Kd, GT::MR, GT::NR, 0, [&](i64 i0, i64 m, i64 j0, i64 n) {
        gemm_blocked<T>(
            m, n, d.Kd, T(1), [&](i64 ic, i64, i64 pc, i64 kc, T*) -> const T* { return a.block(pc, i0 + ic, kc); },
            [&](i64 pc, i64 kc, i64 jc, i64, T*) -> const T* { return b.block(pc, j0 + jc, kc); }, T(0),
            out + i0 * NP + j0, NP, 1);
      });
      pool.run(ns, pool.size(), [&](i64 i, int) {
        for (i64 o = 0; o < d.Og; o++) {
          const T bo = bias ? bias[(gi * d.Og + o) * bs] : T(0);
          const T* src = out + o * NP + i * P;
          T* dst = y + ((n0 + i) * g.O + gi * d.Og + o) * P;
          for (i64 q = 0; q < P; q++) dst[q] = src[q] + bo;
        }
      });
    }
  }
  trim_scratch(kKeepScratch);
}

}  // namespace

template <typename T>
void conv2d_forward(const ConvGeom& g, const T* x, Strides4 xs, const T* w, Strides4 ws, const T* bias, i64 bs, T* y) {
  using GT = GemmTraits<T>;
  const Derived d = derive(g);
  const i64 O = g.O, P = d.P;
  if (g.N * O * P == 0) return;
  if (d.Kd == 0) {
    for (i64 n = 0; n < g.N; n++)
      for (i64 o = 0; o < O; o++)
        for (i64 q = 0; q < P; q++) y[(n * O + o) * P + q] = bias ? bias[o * bs] : T(0);
    return;
  }
  const i64 NR = GT::NR;
  const i64 ogPad = round_up(d.Og, NR);
  if (d.Og * 4 >= ogPad * 3 && d.Kd <= 4096 && d.Cg * d.Hp * d.Wp * static_cast<i64>(sizeof(T)) <= (1 << 20)) {
    // Pixel-major: PX output pixels x CW output channels per register tile, the pixels' windows
    // read straight from the padded image, the weight transposed (Kd x CW per channel block).
    const Tiled<ConvFwdPix<T>> pix = conv_fwd_pix<T>(d.Og);
    const i64 PX = pix.size, CW = pix.width;
    const std::vector<i64> kOffP = tap_offsets(g, d.Cg, d.Hp * d.Wp, d.Wp, 1);
    std::vector<i64> qOffP = window_offsets(g, d.Wp, 1);
    qOffP.resize(static_cast<std::size_t>(round_up(P, PX)), qOffP.back());  // a partial tile repeats the last pixel
    const DirectConv dc = direct_plan<T>(d.Cg, g.H, g.W, g.ph, g.pw, g.oh, g.ow, d.Og, kOffP);
    const std::vector<i64> wCol = weight_offsets(g, d.Cg, ws.s1, ws.s2, ws.s3);
    const i64 blocks = round_up(d.Og, CW) / CW;
    std::vector<T> wT(static_cast<std::size_t>(g.G * blocks * d.Kd * CW), T(0));
    for (i64 gi = 0; gi < g.G; gi++)
      for (i64 b = 0; b < blocks; b++)
        for (i64 k = 0; k < d.Kd; k++)
          for (i64 j = 0; j < CW && b * CW + j < d.Og; j++)
            wT[((gi * blocks + b) * d.Kd + k) * CW + j] = w[(gi * d.Og + b * CW + j) * ws.s0 + wCol[k]];
    const i64 splits = row_splits(g.N, g.oh);
    const i64 qStep = round_up((P + splits - 1) / splits, PX);
    ThreadPool::instance().run(g.N * splits, ThreadPool::instance().size(), [&](i64 task, int) {
      struct Trim {
        ~Trim() { trim_scratch(kKeepScratch); }
      } trim;
      const i64 n = task / splits;
      const i64 q0 = (task % splits) * qStep, q1 = imin(P, q0 + qStep);
      if (q0 >= q1) return;
      T* xp = scratch<T>(kConvPad, static_cast<std::size_t>(dc.padLen));
      alignas(64) T tile[8 * 32];  // the largest PX x CW
      for (i64 gi = 0; gi < g.G; gi++) {
        pad_into(dc, x + n * xs.s0 + gi * d.Cg * xs.s1, xs.s1, xs.s2, xs.s3, xp);
        T* yg = y + (n * O + gi * d.Og) * P;
        for (i64 b = 0; b < blocks; b++) {
          const T* wb = wT.data() + (gi * blocks + b) * d.Kd * CW;
          const i64 no = imin(CW, d.Og - b * CW);
          for (i64 q = q0; q < q1; q += PX) {
            pix.fn(d.Kd, xp, qOffP.data() + q, kOffP.data(), wb, tile);
            const i64 nq = imin(PX, q1 - q);
            for (i64 j = 0; j < no; j++) {
              const i64 o = b * CW + j;
              const T bv = bias ? bias[(gi * d.Og + o) * bs] : T(0);
              T* row = yg + o * P + q;
              for (i64 i = 0; i < nq; i++) row[i] = tile[i * CW + j] + bv;
            }
          }
        }
      }
    });
    return;
  }
  if (g.sh == 1 && g.sw == 1 &&
      direct_pays<T>(d.Og, d.Kd, P, g.oh * d.Wp, d.Cg * d.Hp * d.Wp)) {
    // Direct: weights packed once, the image read in place of a column matrix.
    const std::vector<i64> kOffP = tap_offsets(g, d.Cg, d.Hp * d.Wp, d.Wp, 1);
    const DirectConv dc = direct_plan<T>(d.Cg, g.H, g.W, g.ph, g.pw, g.oh, g.ow, d.Og, kOffP);
    const std::vector<i64> wRow = linear_offsets(d.Og, ws.s0);
    const std::vector<i64> wCol = weight_offsets(g, d.Cg, ws.s1, ws.s2, ws.s3);
    const i64 panel = round_up(d.Og, GT::MR) * d.Kd;
    std::vector<T> pa(static_cast<std::size_t>(panel * g.G) + 16);
    for (i64 gi = 0; gi < g.G; gi++) {
      const TableMatrix<T> A{w + gi * d.Og * ws.s0, wRow.data(), wCol.data(), nullptr};
      pack_a_table<T, GT::MR>(A, 0, d.Og, 0, d.Kd, pa.data() + gi * panel);
    }
    const i64 splits = row_splits(g.N, g.oh);
    const i64 rStep = (g.oh + splits - 1) / splits;
    ThreadPool::instance().run(g.N * splits, ThreadPool::instance().size(), [&](i64 task, int) {
      struct Trim {
        ~Trim() { trim_scratch(kKeepScratch); }
      } trim;
      const i64 n = task / splits;
      const i64 r0 = (task % splits) * rStep, r1 = imin(g.oh, r0 + rStep);
      if (r0 >= r1) return;
      T* xp = scratch<T>(kConvPad, static_cast<std::size_t>(dc.padLen));
      for (i64 gi = 0; gi < g.G; gi++) {
        pad_into(dc, x + n * xs.s0 + gi * d.Cg * xs.s1, xs.s1, xs.s2, xs.s3, xp);
        direct_rows(dc, xp, pa.data() + gi * panel, bias ? bias + gi * d.Og * bs : nullptr, bs,
                    y + (n * O + gi * d.Og) * P, r0, r1);
      }
    });
    return;
  }
  if (batch_columns_pay(P)) {
    conv_slabs(g, d, x, xs, w, d.Og * ws.s0, linear_offsets(d.Og, ws.s0), weight_offsets(g, d.Cg, ws.s1, ws.s2, ws.s3), bias, bs, y);
    return;
  }
  // The image the packer reads: x itself, or a zero-padded copy.
  const std::vector<i64> kOff = d.padded ? tap_offsets(g, d.Cg, d.Hp * d.Wp, d.Wp, 1) : tap_offsets(g, d.Cg, xs.s1, xs.s2, xs.s3);
  const std::vector<i64> qOff = d.padded ? window_offsets(g, d.Wp, 1) : window_offsets(g, xs.s2, xs.s3);
  const std::vector<unsigned char> qFlags = panel_flags<T>(qOff);
  const std::vector<i64> wRow = linear_offsets(d.Og, ws.s0);
  const std::vector<i64> wCol = weight_offsets(g, d.Cg, ws.s1, ws.s2, ws.s3);
  const i64 splits = pixel_splits(g.N, P, GT::NR);
  const i64 pStep = round_up((P + splits - 1) / splits, GT::NR);

  ThreadPool::instance().run(g.N * splits, ThreadPool::instance().size(), [&](i64 task, int) {
    struct Trim {
      ~Trim() { trim_scratch(kKeepScratch); }
    } trim;
    const i64 n = task / splits;
    const i64 q0 = (task % splits) * pStep;
    const i64 np = imin(pStep, P - q0);
    if (np <= 0) return;
    for (i64 gi = 0; gi < g.G; gi++) {
      const T* img = x + n * xs.s0 + gi * d.Cg * xs.s1;
      if (d.padded) {
        T* pad = scratch<T>(kConvPad, static_cast<std::size_t>(d.Cg * d.Hp * d.Wp));
        pad_image(g, d, img, xs, pad);
        img = pad;
      }
      T* c = y + (n * O + gi * d.Og) * P + q0;
      T beta = T(0);
      if (bias) {
        for (i64 o = 0; o < d.Og; o++) {
          const T b = bias[(gi * d.Og + o) * bs];
          T* row = c + o * P;
          for (i64 q = 0; q < np; q++) row[q] = b;
        }
        beta = T(1);
      }
      const TableMatrix<T> A{w + gi * d.Og * ws.s0, wRow.data(), wCol.data(), nullptr};
      const TableMatrix<T> B{img, kOff.data(), qOff.data(), qFlags.data()};
      gemm_blocked<T>(
          d.Og, np, d.Kd, T(1),
          [&](i64 ic, i64 mc, i64 pc, i64 kc, T* pa) { pack_a_table<T, GT::MR>(A, ic, mc, pc, kc, pa); },
          [&](i64 pc, i64 kc, i64 jc, i64 nc, T* pb) { pack_b_table<T, GT::NR>(B, pc, kc, q0 + jc, nc, pb); },
          beta, c, P, 1);
    }
  });
}

template <typename T>
void conv2d_backward_input(const ConvGeom& g, const T* gy, Strides4 gs, const T* w, Strides4 ws, T* gx) {
  using GT = GemmTraits<T>;
  const Derived d = derive(g);
  const i64 img = g.C * g.H * g.W;
  if (g.N * img == 0) return;
  std::memset(gx, 0, sizeof(T) * static_cast<std::size_t>(g.N * img));
  if (d.Kd * d.P == 0 || d.Og == 0) return;
  // Stride 1: the input gradient is a forward convolution of gy zero-padded by d*(k-1) - p
  // with the weights flipped and transposed (C_g x O_g x kh x kw), done by the direct path.
  const i64 qh = g.dh * (g.kh - 1) - g.ph, qw = g.dw * (g.kw - 1) - g.pw;
  const i64 KdT = d.Og * g.kh * g.kw;
  const bool asForward = g.sh == 1 && g.sw == 1 && qh >= 0 && qw >= 0;
  // The flipped, transposed weights (Cg x Og*kh*kw, taps in (o, i, j) order) as offset tables.
  std::vector<i64> wColT(static_cast<std::size_t>(asForward ? KdT : 0));
  if (asForward)
    for (i64 o = 0, k = 0; o < d.Og; o++)
      for (i64 i = 0; i < g.kh; i++)
        for (i64 j = 0; j < g.kw; j++, k++) wColT[k] = o * ws.s0 + (g.kh - 1 - i) * ws.s2 + (g.kw - 1 - j) * ws.s3;
  const std::vector<i64> wRowT = linear_offsets(d.Cg, ws.s1);
  if (asForward && direct_pays<T>(d.Cg, KdT, g.H * g.W, g.H * (g.ow + 2 * qw), d.Og * (g.oh + 2 * qh) * (g.ow + 2 * qw))) {
    std::vector<i64> kOffT(static_cast<std::size_t>(KdT));
    const i64 Hq = g.oh + 2 * qh, Wq = g.ow + 2 * qw;
    for (i64 o = 0, k = 0; o < d.Og; o++)
      for (i64 i = 0; i < g.kh; i++)
        for (i64 j = 0; j < g.kw; j++, k++) kOffT[k] = o * Hq * Wq + i * g.dh * Wq + j * g.dw;
    const DirectConv dc = direct_plan<T>(d.Og, g.oh, g.ow, qh, qw, g.H, g.W, d.Cg, kOffT);
    const i64 panel = round_up(d.Cg, GT::MR) * KdT;
    std::vector<T> pa(static_cast<std::size_t>(panel * g.G) + 16);
    for (i64 gi = 0; gi < g.G; gi++) {
      const TableMatrix<T> A{w + gi * d.Og * ws.s0, wRowT.data(), wColT.data(), nullptr};
      pack_a_table<T, GT::MR>(A, 0, d.Cg, 0, KdT, pa.data() + gi * panel);
    }
    const i64 splits = row_splits(g.N, g.H);
    const i64 rStep = (g.H + splits - 1) / splits;
    ThreadPool::instance().run(g.N * splits, ThreadPool::instance().size(), [&](i64 task, int) {
      struct Trim {
        ~Trim() { trim_scratch(kKeepScratch); }
      } trim;
      const i64 n = task / splits;
      const i64 r0 = (task % splits) * rStep, r1 = imin(g.H, r0 + rStep);
      if (r0 >= r1) return;
      T* xp = scratch<T>(kConvPad, static_cast<std::size_t>(dc.padLen));
      for (i64 gi = 0; gi < g.G; gi++) {
        pad_into(dc, gy + n * gs.s0 + gi * d.Og * gs.s1, gs.s1, gs.s2, gs.s3, xp);
        direct_rows<T>(dc, xp, pa.data() + gi * panel, nullptr, 0, gx + n * img + gi * d.Cg * g.H * g.W, r0, r1);
      }
    });
    return;
  }
  if (asForward && batch_columns_pay(g.H * g.W)) {
    // Few pixels per image: the same forward convolution of gy, as the forward pass does it.
    const ConvGeom fg{g.N, g.O, g.oh, g.ow, g.C, g.kh, g.kw, g.H, g.W, 1, 1, qh, qw, g.dh, g.dw, g.G};
    conv_slabs(fg, derive(fg), gy, gs, w, d.Og * ws.s0, wRowT, wColT, static_cast<const T*>(nullptr), 0, gx);
    return;
  }
  // col (Kd x P) = w_g^T (Kd x Og) @ gy[n, g] (Og x P), then col2im.
  const std::vector<i64> wRow = weight_offsets(g, d.Cg, ws.s1, ws.s2, ws.s3);  // k
  const std::vector<i64> wCol = linear_offsets(d.Og, ws.s0);                // o
  const std::vector<i64> gRow = linear_offsets(d.Og, gs.s1);                // o
  const std::vector<i64> gCol = plane_offsets(g.oh, g.ow, gs.s2, gs.s3);    // q
  // Valid output columns for each kernel column j: ox in [lo, hi) maps inside the input.
  std::vector<i64> lo(static_cast<std::size_t>(g.kw)), hi(static_cast<std::size_t>(g.kw));
  for (i64 j = 0; j < g.kw; j++) {
    const i64 off = j * g.dw - g.pw;  // w = ox * sw + off
    i64 a = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
    i64 b = g.W - 1 - off < 0 ? 0 : (g.W - 1 - off) / g.sw + 1;
    a = imin(a, g.ow);
    b = imin(b, g.ow);
    lo[j] = a;
    hi[j] = b < a ? a : b;
  }
  const i64 P = d.P;
  ThreadPool& pool = ThreadPool::instance();
  if (batch_columns_pay(P)) {
    // Few pixels per image: col (Kd x (n, q)) = w_g^T @ gy_g (Og x (n, q)) over slabs of images,
    // parallel over tiles of the product, then col2im image by image (in parallel).
    // Both operands are packed once (the weights per call, gy per slab) and every tile reads
    // its blocks in place.
    const i64 slab = slab_images(g.N, P * d.Kd * static_cast<i64>(sizeof(T)));
    T* col = scratch<T>(kConvOut, static_cast<std::size_t>(d.Kd * slab * P));
    const i64 wLen = Prepacked<T, GT::MR>::size(d.Kd, d.Og);
    T* wPacked = scratch<T>(kConvW, static_cast<std::size_t>(wLen * g.G));
    for (i64 gi = 0; gi < g.G; gi++) {
      const TableMatrix<T> A{w + gi * d.Og * ws.s0, wRow.data(), wCol.data(), nullptr};
      prepack(Prepacked<T, GT::MR>{wPacked + gi * wLen, d.Kd}, d.Og, GT::KC,
              [&](i64 l0, i64 nl, i64 pc, i64 kc, T* dst) { pack_a_table<T, GT::MR>(A, l0, nl, pc, kc, dst); });
    }
    T* gyPacked = scratch<T>(kConvCol, static_cast<std::size_t>(Prepacked<T, GT::NR>::size(slab * P, d.Og)));
    std::vector<i64> bCol(static_cast<std::size_t>(slab * P));
    for (i64 n0 = 0; n0 < g.N; n0 += slab) {
      const i64 ns = imin(slab, g.N - n0), NP = ns * P;
      for (i64 i = 0; i < ns; i++)
        for (i64 q = 0; q < P; q++) bCol[i * P + q] = (n0 + i) * gs.s0 + gCol[q];
      const std::vector<unsigned char> bFlags = panel_flags<T>(std::vector<i64>(bCol.begin(), bCol.begin() + NP));
      for (i64 gi = 0; gi < g.G; gi++) {
        const TableMatrix<T> B{gy + gi * d.Og * gs.s1, gRow.data(), bCol.data(), bFlags.data()};
        const Prepacked<T, GT::MR> a{wPacked + gi * wLen, d.Kd};
        const Prepacked<T, GT::NR> b{gyPacked, NP};
        prepack(b, d.Og, GT::KC, [&](i64 l0, i64 nl, i64 pc, i64 kc, T* dst) { pack_b_table<T, GT::NR>(B, pc, kc, l0, nl, dst); });
        for_gemm_tiles(d.Kd, NP, d.Og, GT::MR, GT::NR, 0, [&](i64 i0, i64 m, i64 j0, i64 n) {
          gemm_blocked<T>(
              m, n, d.Og, T(1), [&](i64 ic, i64, i64 pc, i64 kc, T*) -> const T* { return a.block(pc, i0 + ic, kc); },
              [&](i64 pc, i64 kc, i64 jc, i64, T*) -> const T* { return b.block(pc, j0 + jc, kc); }, T(0),
              col + i0 * NP + j0, NP, 1);
        });
        pool.run(ns, pool.size(), [&](i64 i, int) {
          col2im_add(g, d, lo, hi, col + i * P, NP, gx + (n0 + i) * img + gi * d.Cg * g.H * g.W);
        });
      }
    }
    trim_scratch(kKeepScratch);
    return;
  }
  const std::vector<unsigned char> gFlags = panel_flags<T>(gCol);
  pool.run(g.N, pool.size(), [&](i64 n, int) {
    struct Trim {
      ~Trim() { trim_scratch(kKeepScratch); }
    } trim;
    T* col = scratch<T>(kConvCol, static_cast<std::size_t>(d.Kd * P));
    for (i64 gi = 0; gi < g.G; gi++) {
      const TableMatrix<T> A{w + gi * d.Og * ws.s0, wRow.data(), wCol.data(), nullptr};
      const TableMatrix<T> B{gy + n * gs.s0 + gi * d.Og * gs.s1, gRow.data(), gCol.data(), gFlags.data()};
      gemm_blocked<T>(
          d.Kd, P, d.Og, T(1),
          [&](i64 ic, i64 mc, i64 pc, i64 kc, T* pa) { pack_a_table<T, GT::MR>(A, ic, mc, pc, kc, pa); },
          [&](i64 pc, i64 kc, i64 jc, i64 nc, T* pb) { pack_b_table<T, GT::NR>(B, pc, kc, jc, nc, pb); },
          T(0), col, P, 1);
      col2im_add(g, d, lo, hi, col, P, gx + n * img + gi * d.Cg * g.H * g.W);
    }
  });
}

template <typename T>
void conv2d_backward_weight(const ConvGeom& g, const T* gy, Strides4 gs, const T* x, Strides4 xs, T* gw) {
  using GT = GemmTraits<T>;
  const Derived d = derive(g);
  const i64 total = g.O * d.Kd;
  if (total == 0) return;
  if (g.N * d.P == 0) {
    std::memset(gw, 0, sizeof(T) * static_cast<std::size_t>(total));
    return;
  }
  // Deterministic whatever the threads and their scheduling: the batch is cut into a fixed
  // number of chunks (from N alone); each chunk sums its images in order into its own partial
  // (chunk 0 into gw) and the partials are added in chunk order. Tasks are whole chunks.
  ThreadPool& pool = ThreadPool::instance();
  const i64 chunks = imin(g.N, 16);
  const i64 per = (g.N + chunks - 1) / chunks;
  auto for_chunks = [&](auto&& image) {
    pool.run(chunks, pool.size(), [&](i64 c, int) {
      for (i64 n = c * per; n < imin(g.N, (c + 1) * per); n++) image(n, c);
      trim_scratch(kKeepScratch);
    });
  };
  std::vector<T> partial;
  auto add_partials = [&]() {
    for (i64 c = 1; c < chunks; c++) {
      const T* p = partial.data() + (c - 1) * total;
      for (i64 i = 0; i < total; i++) gw[i] += p[i];
    }
  };
  std::memset(gw, 0, sizeof(T) * static_cast<std::size_t>(total));
  if (batch_gemm_pays(d.P, d.Og, total * static_cast<i64>(sizeof(T)))) {
    // Few pixels per image for many weights: per-image products would be too thin to reuse their
    // tiles, and per-chunk partials of gw too big. One product with the batch in its reduction:
    // gw_g (Og x Kd) += gy_g (Og x (n, q)) @ col ((n, q) x Kd), the column matrix of a slab of
    // images at a time, parallel over tiles of gw (each tile sums its elements in (n, q) order,
    // so the result does not depend on the tiling).
    const i64 slab = slab_images(g.N, d.P * d.Kd * static_cast<i64>(sizeof(T)));
    const std::vector<i64> kOff = tap_offsets(g, d.Cg, d.Hp * d.Wp, d.Wp, 1);
    const std::vector<i64> qOff = window_offsets(g, d.Wp, 1);
    const std::vector<i64> gCol = plane_offsets(g.oh, g.ow, gs.s2, gs.s3);
    const std::vector<i64> gRow = linear_offsets(d.Og, gs.s1);
    // Both operands are packed once per slab (gy through its tables, the columns straight from
    // the images) and every tile reads its blocks in place.
    const Prepacked<T, GT::NR> cols{scratch<T>(kConvCol, static_cast<std::size_t>(Prepacked<T, GT::NR>::size(d.Kd, slab * d.P))), d.Kd};
    T* gyPacked = scratch<T>(kConvW, static_cast<std::size_t>(Prepacked<T, GT::MR>::size(d.Og, slab * d.P)));
    std::vector<i64> aCol(static_cast<std::size_t>(slab * d.P));
    for (i64 n0 = 0; n0 < g.N; n0 += slab) {
      const i64 ns = imin(slab, g.N - n0);
      const i64 K = ns * d.P;
      for (i64 gi = 0; gi < g.G; gi++) {
        slab_rows_packed(g, d, x, xs, gi, n0, ns, kOff, qOff, cols);
        for (i64 i = 0; i < ns; i++)
          for (i64 q = 0; q < d.P; q++) aCol[i * d.P + q] = (n0 + i) * gs.s0 + gCol[q];
        const TableMatrix<T> A{gy + gi * d.Og * gs.s1, gRow.data(), aCol.data(), nullptr};
        const Prepacked<T, GT::MR> a{gyPacked, d.Og};
        prepack(a, K, GT::KC, [&](i64 l0, i64 nl, i64 pc, i64 kc, T* dst) { pack_a_table<T, GT::MR>(A, l0, nl, pc, kc, dst); });
        T* c = gw + gi * d.Og * d.Kd;
        for_gemm_tiles(d.Og, d.Kd, K, GT::MR, GT::NR, 0, [&](i64 i0, i64 m, i64 j0, i64 n) {
          gemm_blocked<T>(
              m, n, K, T(1), [&](i64 ic, i64, i64 pc, i64 kc, T*) -> const T* { return a.block(pc, i0 + ic, kc); },
              [&](i64 pc, i64 kc, i64 jc, i64, T*) -> const T* { return cols.block(pc, j0 + jc, kc); }, T(1),
              c + i0 * d.Kd + j0, d.Kd, 1);
        });
      }
    }
    trim_scratch(kKeepScratch);
    return;
  }
  const i64 NR = GT::NR;
  const i64 ogPad = round_up(d.Og, NR);
  if (g.sh == 1 && g.sw == 1 && d.Og * 4 >= ogPad * 3 && d.Cg * d.Hp * d.Wp * static_cast<i64>(sizeof(T)) <= (1 << 20)) {
    // Tap-major direct: accT (Kd x Og, padded to CW columns) += col (Kd x P, read from the padded
    // image) @ gy^T (P x Og, transposed per image), in tap x CW-channel register tiles that
    // accumulate over the thread's images; no horizontal sums, no masked tails.
    const Tiled<ConvBwdWTap<T>> tap = conv_bwdw_tap<T>();
    const i64 CW = tap.width, ogW = round_up(d.Og, CW);
    std::vector<i64> kOffP = tap_offsets(g, d.Cg, d.Hp * d.Wp, d.Wp, 1);
    const i64 kdPad = round_up(d.Kd, tap.size);
    kOffP.resize(static_cast<std::size_t>(kdPad), 0);  // dummy taps read x[0..]: results dropped
    const DirectConv dc = direct_plan<T>(d.Cg, g.H, g.W, g.ph, g.pw, g.oh, g.ow, d.Og, kOffP);
    const i64 accLen = g.G * kdPad * ogW;
    // Each chunk zeroes its accumulators at its first image (on the thread that fills them).
    std::unique_ptr<T[]> accs(new T[static_cast<std::size_t>(chunks * accLen)]);
    for_chunks([&](i64 n, i64 chunk) {
      T* acc = accs.get() + chunk * accLen;
      if (n == chunk * per) std::memset(acc, 0, sizeof(T) * static_cast<std::size_t>(accLen));
      T* xp = scratch<T>(kConvPad, static_cast<std::size_t>(dc.padLen));
      T* gyT = scratch<T>(kConvGy, static_cast<std::size_t>(d.P * CW));
      for (i64 gi = 0; gi < g.G; gi++) {
        pad_into(dc, x + n * xs.s0 + gi * d.Cg * xs.s1, xs.s1, xs.s2, xs.s3, xp);
        const T* gb = gy + n * gs.s0 + gi * d.Og * gs.s1;
        for (i64 o0 = 0; o0 < d.Og; o0 += CW) {
          const i64 no = imin(CW, d.Og - o0);
          for (i64 oy = 0, q = 0; oy < g.oh; oy++)
            for (i64 ox = 0; ox < g.ow; ox++, q++) {
              T* r = gyT + q * CW;
              const T* src = gb + o0 * gs.s1 + oy * gs.s2 + ox * gs.s3;
              i64 j = 0;
              for (; j < no; j++) r[j] = src[j * gs.s1];
              for (; j < CW; j++) r[j] = T(0);
            }
          T* ag = acc + gi * kdPad * ogW + o0;
          for (i64 k0 = 0; k0 < kdPad; k0 += tap.size) tap.fn(g.oh, g.ow, xp, kOffP.data() + k0, d.Wp, gyT, ag + k0 * ogW, ogW);
        }
      }
    });
    // The chunks' sums added in chunk order into chunk 0 (contiguous runs, parallel over
    // elements), then transposed into gw.
    T* sum = accs.get();
    const i64 used = (g.N + per - 1) / per;  // chunks that got images
    parallel_chunks(accLen, 1 << 14, [&](i64 s0, i64 s1) {
      for (i64 c = 1; c < used; c++) {
        const T* a = sum + c * accLen;
        for (i64 i = s0; i < s1; i++) sum[i] += a[i];
      }
    });
    pool.run(g.G * d.Og, pool.size(), [&](i64 go, int) {
      const i64 gi = go / d.Og, o = go % d.Og;
      const T* src = sum + gi * kdPad * ogW + o;
      T* dst = gw + go * d.Kd;
      for (i64 k = 0; k < d.Kd; k++) dst[k] = src[k * ogW];
    });
    return;
  }
  // (Rows narrower than about three vectors waste too much of the masked tail: pack instead.)
  const i64 vec = 32 / static_cast<i64>(sizeof(T));
  const bool wideRows = g.ow * 4 >= round_up(g.ow, vec) * 3 && g.ow >= 2 * vec;
  if (g.sh == 1 && g.sw == 1 && wideRows && d.Cg * d.Hp * d.Wp * static_cast<i64>(sizeof(T)) <= (1 << 20)) {
    // Direct: gw[o][k] = sum over pixels of gy[o][pixel] * x[window of pixel + tap k], in blocks
    // of 6 output channels x 2 taps held in registers, rows masked to the valid width.
    const ConvBwdWBlock<T> block = conv_bwdw_block<T>();
    const std::vector<i64> kOffP = tap_offsets(g, d.Cg, d.Hp * d.Wp, d.Wp, 1);
    const DirectConv dc = direct_plan<T>(d.Cg, g.H, g.W, g.ph, g.pw, g.oh, g.ow, d.Og, kOffP);
    partial.assign(static_cast<std::size_t>((chunks - 1) * total), T(0));
    for_chunks([&](i64 n, i64 chunk) {
      T* acc = chunk == 0 ? gw : partial.data() + (chunk - 1) * total;
      T* xp = scratch<T>(kConvPad, static_cast<std::size_t>(dc.padLen));
      for (i64 gi = 0; gi < g.G; gi++) {
        pad_into(dc, x + n * xs.s0 + gi * d.Cg * xs.s1, xs.s1, xs.s2, xs.s3, xp);
        const T* gb = gy + n * gs.s0 + gi * d.Og * gs.s1;
        i64 gO = gs.s1, gRow = gs.s2;
        if (gs.s3 != 1) {
          T* c = scratch<T>(kConvGy, static_cast<std::size_t>(d.Og * d.P));
          for (i64 o = 0; o < d.Og; o++)
            for (i64 oy = 0; oy < g.oh; oy++)
              for (i64 ox = 0; ox < g.ow; ox++) c[(o * g.oh + oy) * g.ow + ox] = gb[o * gs.s1 + oy * gs.s2 + ox * gs.s3];
          gb = c;
          gO = d.P;
          gRow = g.ow;
        }
        T* ag = acc + gi * d.Og * d.Kd;
        for (i64 o0 = 0; o0 < d.Og; o0 += 6) {
          const int mo = static_cast<int>(imin(6, d.Og - o0));
          for (i64 k0 = 0; k0 < d.Kd; k0 += 2) {
            const int kb = static_cast<int>(imin(2, d.Kd - k0));
            block(mo, kb, g.oh, g.ow, gb + o0 * gO, gO, gRow, xp, kOffP.data() + k0, d.Wp, ag + o0 * d.Kd + k0, d.Kd);
          }
        }
      }
    });
    add_partials();
    return;
  }
  // Packed: gw_g (Og x Kd) += gy[n, g] (Og x P) @ col^T (P x Kd), summed over the batch.
  const std::vector<i64> gRow = linear_offsets(d.Og, gs.s1);
  const std::vector<i64> gCol = plane_offsets(g.oh, g.ow, gs.s2, gs.s3);
  const std::vector<i64> xRow = d.padded ? window_offsets(g, d.Wp, 1) : window_offsets(g, xs.s2, xs.s3);  // q
  const std::vector<i64> xCol = d.padded ? tap_offsets(g, d.Cg, d.Hp * d.Wp, d.Wp, 1) : tap_offsets(g, d.Cg, xs.s1, xs.s2, xs.s3);  // k
  const std::vector<unsigned char> xFlags = panel_flags<T>(xCol);
  partial.assign(static_cast<std::size_t>((chunks - 1) * total), T(0));
  for_chunks([&](i64 n, i64 chunk) {
    T* acc = chunk == 0 ? gw : partial.data() + (chunk - 1) * total;
    for (i64 gi = 0; gi < g.G; gi++) {
      const T* img = x + n * xs.s0 + gi * d.Cg * xs.s1;
      if (d.padded) {
        T* pad = scratch<T>(kConvPad, static_cast<std::size_t>(d.Cg * d.Hp * d.Wp));
        pad_image(g, d, img, xs, pad);
        img = pad;
      }
      const TableMatrix<T> A{gy + n * gs.s0 + gi * d.Og * gs.s1, gRow.data(), gCol.data(), nullptr};
      const TableMatrix<T> B{img, xRow.data(), xCol.data(), xFlags.data()};
      gemm_blocked<T>(
          d.Og, d.Kd, d.P, T(1),
          [&](i64 ic, i64 mc, i64 pc, i64 kc, T* pa) { pack_a_table<T, GT::MR>(A, ic, mc, pc, kc, pa); },
          [&](i64 pc, i64 kc, i64 jc, i64 nc, T* pb) { pack_b_table<T, GT::NR>(B, pc, kc, jc, nc, pb); },
          T(1), acc + gi * d.Og * d.Kd, d.Kd, 1);
    }
  });
  add_partials();
}

template void conv2d_forward<float>(const ConvGeom&, const float*, Strides4, const float*, Strides4, const float*, i64, float*);
template void conv2d_forward<double>(const ConvGeom&, const double*, Strides4, const double*, Strides4, const double*, i64, double*);
template void conv2d_backward_input<float>(const ConvGeom&, const float*, Strides4, const float*, Strides4, float*);
template void conv2d_backward_input<double>(const ConvGeom&, const double*, Strides4, const double*, Strides4, double*);
template void conv2d_backward_weight<float>(const ConvGeom&, const float*, Strides4, const float*, Strides4, float*);
template void conv2d_backward_weight<double>(const ConvGeom&, const double*, Strides4, const double*, Strides4, double*);

}  // namespace dl
