// 2-D pooling over the last two dims of (N, C, H, W): max (+ int32 indices h*W + w within
// the plane), average and their adaptive forms, and the gradients. Windows are clipped to the
// input exactly as the CPU backend (backend/cpu/pool.ts): max pooling treats padding as -inf, a
// NaN wins (a later NaN replaces an earlier one), an all-padding window reports its nearest
// cell; average pooling divides by divisorOverride, else the window size with or without
// padding (countIncludePad).
//
// Deterministic gradients without atomics:
//  - average: a gather: each input cell sums gy / divisor over the windows that contain it,
//    in window order (oy, then ox);
//  - max: the indices may point anywhere in the plane (adaptive windows too), so one thread
//    per (n, c) plane adds the plane's gradients in output order into gx (zeroed first), as
//    the CPU does. Parallel over planes only: slow for few large planes.
#include "common.cuh"

namespace dl::cuda {

namespace {

struct Strides4 {
  int64_t s0, s1, s2, s3;
};

Strides4 strides_of(const Tensor& t) { return Strides4{t.strides[0], t.strides[1], t.strides[2], t.strides[3]}; }

struct PoolArgs {
  int64_t N, C, H, W, oh, ow;
  PoolGeom g;
};

struct Win {
  int64_t first, count;
};

/** Taps o*s - p + t*dil (t < k) inside [0, size): the first one and how many. */
__device__ inline Win clipped_window(int64_t o, int64_t size, int64_t k, int64_t s, int64_t p, int64_t dil) {
  const int64_t st = o * s - p;
  const int64_t lo = st >= 0 ? 0 : (-st + dil - 1) / dil;
  const int64_t hi = size - 1 - st < 0 ? 0 : min(k, (size - 1 - st) / dil + 1);
  if (hi > lo) return Win{st + lo * dil, hi - lo};
  return Win{min(max(st, int64_t(0)), size - 1), 0};  // no valid tap: the nearest cell
}

/** Adaptive window o of `out` over `size`: [floor(o*size/out), ceil((o+1)*size/out)). */
__device__ inline Win adaptive_window(int64_t o, int64_t size, int64_t out) {
  const int64_t st = o * size / out;
  const int64_t en = ((o + 1) * size + out - 1) / out;
  return Win{st, en - st};
}

__device__ inline Win window_h(const PoolArgs& a, int64_t oy) {
  return a.g.adaptive ? adaptive_window(oy, a.H, a.oh) : clipped_window(oy, a.H, a.g.kh, a.g.sh, a.g.ph, a.g.dh);
}
__device__ inline Win window_w(const PoolArgs& a, int64_t ox) {
  return a.g.adaptive ? adaptive_window(ox, a.W, a.ow) : clipped_window(ox, a.W, a.g.kw, a.g.sw, a.g.pw, a.g.dw);
}

/** Divisor of average window (oy, ox), given its clipped extents. */
__device__ inline double avg_divisor(const PoolArgs& a, int64_t oy, int64_t ox, const Win& hw, const Win& ww) {
  if (a.g.adaptive) return static_cast<double>(hw.count * ww.count);
  if (a.g.divisor == a.g.divisor) return a.g.divisor;
  if (!a.g.count_include_pad) return static_cast<double>(hw.count * ww.count);
  const int64_t hs = oy * a.g.sh - a.g.ph, ws = ox * a.g.sw - a.g.pw;
  const int64_t he = min(hs + a.g.kh, a.H + a.g.ph), we = min(ws + a.g.kw, a.W + a.g.pw);
  return static_cast<double>((he - hs) * (we - ws));
}

/** (n, c, oy, ox) of output element e of (N, C, oh, ow). */
__device__ inline void unravel4(int64_t e, int64_t d1, int64_t d2, int64_t d3, int64_t& i0, int64_t& i1, int64_t& i2,
                                int64_t& i3) {
  i3 = e % d3;
  e /= d3;
  i2 = e % d2;
  e /= d2;
  i1 = e % d1;
  i0 = e / d1;
}

template <int DT>
__global__ void __launch_bounds__(kBlock) max_pool_kernel(PoolArgs a, const storage_t<DT>* x, Strides4 xs,
                                                          storage_t<DT>* y, Strides4 ys, int32_t* ind, Strides4 is) {
  using T = storage_t<DT>;
  const int64_t total = a.N * a.C * a.oh * a.ow;
  const int64_t dh = a.g.adaptive ? 1 : a.g.dh, dw = a.g.adaptive ? 1 : a.g.dw;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t n, c, oy, ox;
    unravel4(e, a.C, a.oh, a.ow, n, c, oy, ox);
    const Win hw = window_h(a, oy), ww = window_w(a, ox);
    const T* xp = x + n * xs.s0 + c * xs.s1;
    T best = -static_cast<T>(INFINITY);
    int64_t arg = hw.first * a.W + ww.first;
    for (int64_t i = 0; i < hw.count; i++) {
      const int64_t h = hw.first + i * dh;
      for (int64_t j = 0; j < ww.count; j++) {
        const int64_t w = ww.first + j * dw;
        const T v = xp[h * xs.s2 + w * xs.s3];
        if (v > best || v != v) {
          best = v;
          arg = h * a.W + w;
        }
      }
    }
    y[n * ys.s0 + c * ys.s1 + oy * ys.s2 + ox * ys.s3] = best;
    ind[n * is.s0 + c * is.s1 + oy * is.s2 + ox * is.s3] = static_cast<int32_t>(arg);
  }
}

template <int DT>
__global__ void __launch_bounds__(kBlock) avg_pool_kernel(PoolArgs a, const storage_t<DT>* x, Strides4 xs,
                                                          storage_t<DT>* y, Strides4 ys) {
  const int64_t total = a.N * a.C * a.oh * a.ow;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t n, c, oy, ox;
    unravel4(e, a.C, a.oh, a.ow, n, c, oy, ox);
    const Win hw = window_h(a, oy), ww = window_w(a, ox);
    const storage_t<DT>* xp = x + n * xs.s0 + c * xs.s1;
    double sum = 0;
    for (int64_t i = 0; i < hw.count; i++)
      for (int64_t j = 0; j < ww.count; j++) sum += static_cast<double>(xp[(hw.first + i) * xs.s2 + (ww.first + j) * xs.s3]);
    const double v = hw.count == 0 || ww.count == 0 ? 0.0 : sum / avg_divisor(a, oy, ox, hw, ww);
    y[n * ys.s0 + c * ys.s1 + oy * ys.s2 + ox * ys.s3] = static_cast<storage_t<DT>>(v);
  }
}

__device__ inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
__device__ inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

/** The outputs along one axis whose windows may contain input cell h: [lo, hi] (checked by the caller). */
__device__ inline void candidates(const PoolArgs& a, bool rows, int64_t h, int64_t& lo, int64_t& hi) {
  const int64_t size = rows ? a.H : a.W, out = rows ? a.oh : a.ow;
  if (a.g.adaptive) {
    lo = h * out / size;
    hi = ((h + 1) * out + size - 1) / size - 1;
  } else {
    const int64_t k = rows ? a.g.kh : a.g.kw, s = rows ? a.g.sh : a.g.sw, p = rows ? a.g.ph : a.g.pw;
    lo = ceil_div(h + p - k + 1, s);
    hi = floor_div(h + p, s);
  }
  lo = max(lo, int64_t(0));
  hi = min(hi, out - 1);
}

template <int DT>
__global__ void __launch_bounds__(kBlock) avg_pool_backward_kernel(PoolArgs a, const storage_t<DT>* gy, Strides4 gs,
                                                                   storage_t<DT>* gx, Strides4 xs) {
  const int64_t total = a.N * a.C * a.H * a.W;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t n, c, h, w;
    unravel4(e, a.C, a.H, a.W, n, c, h, w);
    int64_t ylo, yhi, xlo, xhi;
    candidates(a, true, h, ylo, yhi);
    candidates(a, false, w, xlo, xhi);
    const storage_t<DT>* gp = gy + n * gs.s0 + c * gs.s1;
    double acc = 0;
    for (int64_t oy = ylo; oy <= yhi; oy++) {
      const Win hw = window_h(a, oy);
      if (h < hw.first || h >= hw.first + hw.count) continue;
      for (int64_t ox = xlo; ox <= xhi; ox++) {
        const Win ww = window_w(a, ox);
        if (w < ww.first || w >= ww.first + ww.count) continue;
        acc += static_cast<double>(gp[oy * gs.s2 + ox * gs.s3]) / avg_divisor(a, oy, ox, hw, ww);
      }
    }
    gx[n * xs.s0 + c * xs.s1 + h * xs.s2 + w * xs.s3] = static_cast<storage_t<DT>>(acc);
  }
}

template <int DT>
__global__ void __launch_bounds__(kBlock) max_pool_backward_kernel(PoolArgs a, const storage_t<DT>* gy, Strides4 gs,
                                                                   const int32_t* ind, Strides4 is,
                                                                   storage_t<DT>* gx, Strides4 xs, ErrSite site) {
  const int64_t planes = a.N * a.C, plane = a.H * a.W;
  for (int64_t pl = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; pl < planes;
       pl += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = pl / a.C, c = pl - n * a.C;
    const storage_t<DT>* gp = gy + n * gs.s0 + c * gs.s1;
    const int32_t* ip = ind + n * is.s0 + c * is.s1;
    storage_t<DT>* xp = gx + n * xs.s0 + c * xs.s1;
    for (int64_t oy = 0; oy < a.oh; oy++) {
      for (int64_t ox = 0; ox < a.ow; ox++) {
        const int64_t k = ip[oy * is.s2 + ox * is.s3];
        if (k < 0 || k >= plane) {
          report(site, kErrIndex, static_cast<double>(k), static_cast<double>(plane), 0);
          continue;
        }
        xp[(k / a.W) * xs.s2 + (k % a.W) * xs.s3] += gp[oy * gs.s2 + ox * gs.s3];
      }
    }
  }
}

PoolArgs args_of(const PoolGeom& g, const Tensor& in, const Tensor& out) {
  return PoolArgs{in.shape[0], in.shape[1], in.shape[2], in.shape[3], out.shape[2], out.shape[3], g};
}

}  // namespace

void max_pool2d(const Ctx& c, const PoolGeom& g, const Tensor& x, const Tensor& y, const Tensor& indices) {
  const PoolArgs a = args_of(g, x, y);
  const int64_t total = a.N * a.C * a.oh * a.ow;
  if (total == 0) return;
  DL_SWITCH_FLOAT("maxPool2d", DT, x.dtype, {
    using T = storage_t<DT>;
    max_pool_kernel<DT><<<blocks_for(total), kBlock, 0, c.stream>>>(a, x.as<const T>(), strides_of(x), y.as<T>(),
                                                                    strides_of(y), indices.as<int32_t>(),
                                                                    strides_of(indices));
  })
  DL_CUDA_CHECK_LAUNCH("max_pool_kernel");
}

void max_pool2d_backward(const Ctx& c, const Tensor& gy, const Tensor& indices, const Tensor& gx) {
  const PoolArgs a = args_of(PoolGeom{}, gx, gy);  // the sizes only: indices say where each gradient goes
  if (a.N * a.C * a.H * a.W == 0) return;
  fill(c, gx, 0);
  if (a.oh * a.ow == 0) return;
  DL_SWITCH_FLOAT("maxPool2dBackward", DT, gy.dtype, {
    using T = storage_t<DT>;
    max_pool_backward_kernel<DT><<<blocks_for(a.N * a.C), kBlock, 0, c.stream>>>(
        a, gy.as<const T>(), strides_of(gy), indices.as<const int32_t>(), strides_of(indices), gx.as<T>(),
        strides_of(gx), c.site);
  })
  DL_CUDA_CHECK_LAUNCH("max_pool_backward_kernel");
}

void avg_pool2d(const Ctx& c, const PoolGeom& g, const Tensor& x, const Tensor& y) {
  const PoolArgs a = args_of(g, x, y);
  const int64_t total = a.N * a.C * a.oh * a.ow;
  if (total == 0) return;
  DL_SWITCH_FLOAT(g.adaptive ? "adaptiveAvgPool2d" : "avgPool2d", DT, x.dtype, {
    using T = storage_t<DT>;
    avg_pool_kernel<DT><<<blocks_for(total), kBlock, 0, c.stream>>>(a, x.as<const T>(), strides_of(x), y.as<T>(),
                                                                    strides_of(y));
  })
  DL_CUDA_CHECK_LAUNCH("avg_pool_kernel");
}

void avg_pool2d_backward(const Ctx& c, const PoolGeom& g, const Tensor& gy, const Tensor& gx) {
  const PoolArgs a = args_of(g, gx, gy);
  const int64_t total = a.N * a.C * a.H * a.W;
  if (total == 0) return;
  DL_SWITCH_FLOAT(g.adaptive ? "adaptiveAvgPool2dBackward" : "avgPool2dBackward", DT, gy.dtype, {
    using T = storage_t<DT>;
    avg_pool_backward_kernel<DT><<<blocks_for(total), kBlock, 0, c.stream>>>(a, gy.as<const T>(), strides_of(gy),
                                                                             gx.as<T>(), strides_of(gx));
  })
  DL_CUDA_CHECK_LAUNCH("avg_pool_backward_kernel");
}

}  // namespace dl::cuda
