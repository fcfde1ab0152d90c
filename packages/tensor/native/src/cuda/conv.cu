// conv2d forward and both gradients: through cuDNN when it is loaded and takes the case
// (cudnn.h), else as im2col / col2im + GEMM (gemm.cuh), groups and dilation included, images
// processed in chunks whose column buffer stays under kColBudget.
//
//  forward:  col (n, C*kh*kw, P) = im2col(x[n]);  y[n, g] (Og x P) = w_g (Og x Kd) @ col[n, g]
//            (+ the bias, written into y first); one GEMM launch for all groups and images.
//            1x1 stride-1 unpadded convolutions read x directly.
//  input:    col[n, g] (Kd x P) = w_g^T @ gy[n, g];  gx = col2im(col) as a gather (each input
//            cell sums its taps in a fixed order: deterministic, no atomics).
//  weight:   col laid out (C*kh*kw, n*P) and gy copied to (O, n*P), so the batch is part of the
//            GEMM's reduction: gw_g (Og x Kd) = gy_g (Og x nP) @ col_g^T; later chunks accumulate.
// P = oh*ow, Kd = C/G*kh*kw. The weight and gy are read in place when their trailing dims fold
// into one stride, else copied contiguous first. Outputs (y, gx, gw) are contiguous.
#include <memory>

#include "cudnn.h"
#include "gemm.cuh"

namespace dl::cuda {

namespace {

constexpr int64_t kColBudget = int64_t(256) << 20;  // bytes of column buffer per chunk of images

struct Geom {
  int64_t C, H, W, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
};

Geom geom_of(const ConvGeom& g) { return Geom{g.C, g.H, g.W, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw}; }

struct Strides4 {
  int64_t s0, s1, s2, s3;
};

Strides4 strides_of(const Tensor& t) { return Strides4{t.strides[0], t.strides[1], t.strides[2], t.strides[3]}; }

/** col[n*cs_n + k*cs_k + oy*ow + ox], k = (c*kh + i)*kw + j, = x[n][c][oy*sh - ph + i*dh][ox*sw - pw + j*dw] or 0. */
template <typename T>
__global__ void __launch_bounds__(kBlock) im2col_kernel(Geom g, int64_t images, const T* x, Strides4 xs, T* col,
                                                        int64_t cs_n, int64_t cs_k) {
  const int64_t total = images * g.C * g.kh * g.kw * g.oh * g.ow;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t q = e;
    const int64_t ox = q % g.ow;
    q /= g.ow;
    const int64_t oy = q % g.oh;
    q /= g.oh;
    const int64_t j = q % g.kw;
    q /= g.kw;
    const int64_t i = q % g.kh;
    q /= g.kh;
    const int64_t c = q % g.C;
    const int64_t n = q / g.C;
    const int64_t h = oy * g.sh - g.ph + i * g.dh, w = ox * g.sw - g.pw + j * g.dw;
    T v = T(0);
    if (h >= 0 && h < g.H && w >= 0 && w < g.W) v = x[n * xs.s0 + c * xs.s1 + h * xs.s2 + w * xs.s3];
    col[n * cs_n + ((c * g.kh + i) * g.kw + j) * cs_k + oy * g.ow + ox] = v;
  }
}

/** gx[n][c][h][w] = the sum over taps (i, j) (in that order) of the col entries that read it. */
template <int DT>
__global__ void __launch_bounds__(kBlock) col2im_kernel(Geom g, int64_t images, const storage_t<DT>* col, int64_t cs_n,
                                                        int64_t cs_k, storage_t<DT>* gx, Strides4 gs) {
  const int64_t total = images * g.C * g.H * g.W;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t q = e;
    const int64_t w = q % g.W;
    q /= g.W;
    const int64_t h = q % g.H;
    q /= g.H;
    const int64_t c = q % g.C;
    const int64_t n = q / g.C;
    const storage_t<DT>* cn = col + n * cs_n;
    double acc = 0;
    for (int64_t i = 0; i < g.kh; i++) {
      const int64_t hh = h + g.ph - i * g.dh;
      if (hh < 0) break;  // hh only decreases with i
      if (hh % g.sh != 0 || hh / g.sh >= g.oh) continue;
      const int64_t oy = hh / g.sh;
      for (int64_t j = 0; j < g.kw; j++) {
        const int64_t ww = w + g.pw - j * g.dw;
        if (ww < 0) break;
        if (ww % g.sw != 0 || ww / g.sw >= g.ow) continue;
        acc += static_cast<double>(cn[((c * g.kh + i) * g.kw + j) * cs_k + oy * g.ow + ww / g.sw]);
      }
    }
    gx[n * gs.s0 + c * gs.s1 + h * gs.s2 + w * gs.s3] = static_cast<storage_t<DT>>(acc);
  }
}

void im2col(const Ctx& c, const Geom& g, int64_t images, const Tensor& x, int64_t n0, char* col, int64_t cs_n,
            int64_t cs_k) {
  const int64_t total = images * g.C * g.kh * g.kw * g.oh * g.ow;
  if (total == 0) return;
  const int64_t off = n0 * x.strides[0];
  DL_SWITCH_FLOAT("conv2d", DT, x.dtype, {
    using T = storage_t<DT>;
    im2col_kernel<T><<<blocks_for(total), kBlock, 0, c.stream>>>(g, images, x.as<const T>() + off, strides_of(x),
                                                                 reinterpret_cast<T*>(col), cs_n, cs_k);
  })
  DL_CUDA_CHECK_LAUNCH("im2col_kernel");
}

/** The stride with which dims from..3 of t fold into one (size-1 dims ignored); false if they do not. */
bool folded_stride(const Tensor& t, int from, int64_t& stride) {
  int64_t cs = 1, expect = -1;
  for (int d = 3; d >= from; d--) {
    if (t.shape[d] == 1) continue;
    if (expect == -1) {
      cs = t.strides[d];
      expect = cs * t.shape[d];
    } else {
      if (t.strides[d] != expect) return false;
      expect *= t.shape[d];
    }
  }
  stride = cs;
  return true;
}

/**
 * A 4-D operand with dims from..3 folded into one: data, stride of dim 0, stride of dim 1 (when
 * from == 2) and the folded stride; a contiguous copy in `copy` when they do not fold.
 */
struct Folded {
  char* data;
  int64_t s0, s1, sf;
  std::unique_ptr<DeviceBuffer> copy;
};

Folded fold(const Ctx& c, const Tensor& t, int from) {
  Folded f;
  if (folded_stride(t, from, f.sf)) {
    f.data = t.data;
    f.s0 = t.strides[0];
    f.s1 = t.strides[1];
    return f;
  }
  f.copy = std::make_unique<DeviceBuffer>(static_cast<size_t>(t.numel() * dtype_size(t.dtype)));
  Tensor dst = t;
  dst.data = f.copy->as<char>();
  dst.strides[3] = 1;
  dst.strides[2] = t.shape[3];
  dst.strides[1] = t.shape[2] * t.shape[3];
  dst.strides[0] = t.shape[1] * dst.strides[1];
  convert(c, t, dst);
  f.data = dst.data;
  f.s0 = dst.strides[0];
  f.s1 = dst.strides[1];
  f.sf = 1;
  return f;
}

bool pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh == g.H && g.ow == g.W;
}

/** Images per chunk so that `per_image` bytes of columns each stay under kColBudget (at least 1). */
int64_t chunk_images(int64_t N, int64_t per_image) {
  const int64_t nb = per_image > 0 ? kColBudget / per_image : N;
  return std::max<int64_t>(1, std::min(nb, N));
}

}  // namespace

void conv2d(const Ctx& c, const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y) {
  const int64_t P = g.oh * g.ow, Cg = g.C / g.G, Og = g.O / g.G, Kd = Cg * g.kh * g.kw, Kt = g.C * g.kh * g.kw;
  const int64_t es = dtype_size(x.dtype);
  if (g.N * g.O * P == 0) return;
  if (bias) {
    Tensor bv = y;  // the bias broadcast over y's shape
    bv.data = bias->data;
    bv.strides[0] = 0;
    bv.strides[1] = bias->strides[0];
    bv.strides[2] = 0;
    bv.strides[3] = 0;
    convert(c, bv, y);
  }
  if (Kd == 0) {
    if (!bias) fill(c, y, 0);
    return;
  }
  if (cudnn_conv(c, ConvPass::kForward, g, x, w, y, bias != nullptr)) return;
  const Folded wm = fold(c, w, 1);  // (O, Kd)
  int64_t ysp = 1;  // the stride of y's folded (oh*ow) dim: y is contiguous, so it folds
  folded_stride(y, 2, ysp);
  Gemm gm;
  gm.dtype = x.dtype;
  gm.M = Og;
  gm.N = P;
  gm.K = Kd;
  gm.batch0 = g.G;
  gm.a = MatArg{wm.data, wm.s0, wm.sf, Og * wm.s0, 0};
  gm.accumulate = bias != nullptr;
  int64_t xsp;
  if (pointwise(g) && folded_stride(x, 2, xsp)) {
    gm.batch1 = g.N;
    gm.b = MatArg{x.data, x.strides[1], xsp, Cg * x.strides[1], x.strides[0]};
    gm.c = MatArg{y.data, y.strides[1], ysp, Og * y.strides[1], y.strides[0]};
    gemm(c, gm);
    return;
  }
  const Geom geo = geom_of(g);
  const int64_t nb = chunk_images(g.N, Kt * P * es);
  DeviceBuffer col(static_cast<size_t>(nb * Kt * P * es));
  for (int64_t n0 = 0; n0 < g.N; n0 += nb) {
    const int64_t cnt = std::min(nb, g.N - n0);
    im2col(c, geo, cnt, x, n0, col.as<char>(), Kt * P, P);
    gm.batch1 = cnt;
    gm.b = MatArg{col.as<char>(), P, 1, Kd * P, Kt * P};
    gm.c = MatArg{y.data + n0 * y.strides[0] * es, y.strides[1], ysp, Og * y.strides[1], y.strides[0]};
    gemm(c, gm);
  }
}

void conv2d_backward_input(const Ctx& c, const ConvGeom& g, const Tensor& gy, const Tensor& w, const Tensor& gx) {
  const int64_t P = g.oh * g.ow, Cg = g.C / g.G, Og = g.O / g.G, Kd = Cg * g.kh * g.kw, Kt = g.C * g.kh * g.kw;
  const int64_t es = dtype_size(gx.dtype);
  if (g.N * g.C * g.H * g.W == 0) return;
  if (P == 0 || g.O == 0) {
    fill(c, gx, 0);
    return;
  }
  if (cudnn_conv(c, ConvPass::kBackwardData, g, gx, w, gy, false)) return;
  const Folded wm = fold(c, w, 1);   // (O, Kd); w_g^T has row stride sf, column stride s0
  const Folded gm = fold(c, gy, 2);  // (N, O, P)
  Gemm mm;
  mm.dtype = gx.dtype;
  mm.M = Kd;
  mm.N = P;
  mm.K = Og;
  mm.batch0 = g.G;
  mm.a = MatArg{wm.data, wm.sf, wm.s0, Og * wm.s0, 0};
  mm.accumulate = false;
  if (pointwise(g)) {
    mm.batch1 = g.N;
    mm.b = MatArg{gm.data, gm.s1, gm.sf, Og * gm.s1, gm.s0};
    int64_t gxp = 1;  // gx is contiguous, so H*W folds
    folded_stride(gx, 2, gxp);
    mm.c = MatArg{gx.data, gx.strides[1], gxp, Cg * gx.strides[1], gx.strides[0]};
    gemm(c, mm);
    return;
  }
  const Geom geo = geom_of(g);
  const int64_t nb = chunk_images(g.N, Kt * P * es);
  DeviceBuffer col(static_cast<size_t>(nb * Kt * P * es));
  for (int64_t n0 = 0; n0 < g.N; n0 += nb) {
    const int64_t cnt = std::min(nb, g.N - n0);
    mm.batch1 = cnt;
    mm.b = MatArg{gm.data + n0 * gm.s0 * es, gm.s1, gm.sf, Og * gm.s1, gm.s0};
    mm.c = MatArg{col.as<char>(), P, 1, Kd * P, Kt * P};
    gemm(c, mm);
    const int64_t total = cnt * g.C * g.H * g.W;
    DL_SWITCH_FLOAT("conv2dBackwardInput", DT, gx.dtype, {
      using T = storage_t<DT>;
      col2im_kernel<DT><<<blocks_for(total), kBlock, 0, c.stream>>>(geo, cnt, col.as<const T>(), Kt * P, P,
                                                                    gx.as<T>() + n0 * gx.strides[0], strides_of(gx));
    })
    DL_CUDA_CHECK_LAUNCH("col2im_kernel");
  }
}

void conv2d_backward_weight(const Ctx& c, const ConvGeom& g, const Tensor& gy, const Tensor& x, const Tensor& gw) {
  const int64_t P = g.oh * g.ow, Cg = g.C / g.G, Og = g.O / g.G, Kd = Cg * g.kh * g.kw, Kt = g.C * g.kh * g.kw;
  const int64_t es = dtype_size(gw.dtype);
  if (g.O * Kd == 0) return;
  if (g.N * P == 0) {
    fill(c, gw, 0);
    return;
  }
  if (cudnn_conv(c, ConvPass::kBackwardFilter, g, x, gw, gy, false)) return;
  const Geom geo = geom_of(g);
  // Columns and gy of a chunk; both sized for the largest chunk.
  const int64_t nb = chunk_images(g.N, (Kt + g.O) * P * es);
  DeviceBuffer col(static_cast<size_t>(nb * Kt * P * es));
  DeviceBuffer gyt(static_cast<size_t>(nb * g.O * P * es));
  Gemm mm;
  mm.dtype = gw.dtype;
  mm.M = Og;
  mm.N = Kd;
  mm.batch0 = g.G;
  mm.batch1 = 1;
  int64_t gwk = 1;  // gw is contiguous, so Cg*kh*kw folds
  folded_stride(gw, 1, gwk);
  mm.c = MatArg{gw.data, gw.strides[0], gwk, Og * gw.strides[0], 0};
  for (int64_t n0 = 0; n0 < g.N; n0 += nb) {
    const int64_t cnt = std::min(nb, g.N - n0), q = cnt * P;  // q: the GEMM's reduction length
    // gy[n0 .. n0+cnt] as (O, cnt*P): element (o, n, p) at o*q + n*P + p.
    Tensor src = gy;
    src.data = gy.data + n0 * gy.strides[0] * es;
    src.shape[0] = cnt;
    Tensor dst = src;
    dst.data = gyt.as<char>();
    dst.strides[0] = P;
    dst.strides[1] = q;
    dst.strides[2] = g.ow;
    dst.strides[3] = 1;
    convert(c, src, dst);
    im2col(c, geo, cnt, x, n0, col.as<char>(), P, q);  // (Kt, cnt*P)
    mm.K = q;
    mm.a = MatArg{gyt.as<char>(), q, 1, Og * q, 0};
    mm.b = MatArg{col.as<char>(), 1, q, Kd * q, 0};
    mm.accumulate = n0 > 0;
    gemm(c, mm);
  }
}

}  // namespace dl::cuda
