// Layer normalization over the trailing dims and its gradient (KernelAttrs layerNorm /
// layerNormBackward): x contiguous, seen as R rows of C. Every sum accumulates in double, for
// float32 too, in an order fixed by the shapes alone (deterministic, no atomics).
//
//  - forward and gx: one block per row (C rounded up to a warp, 32 to 256 threads), threads
//    striding the row, then a block reduction: a butterfly within each warp, then every warp
//    folds the warps' partials the same way, so all threads hold the same bits. The forward
//    makes two passes, the mean and then the centred sum of squares (no cancellation).
//  - gw, gb: column sums over the rows. A block takes a tile of 32 columns (a warp reads 32
//    neighbours in a row) over a run of rows, warp k taking rows k, k+8, ..., and folds the 8
//    warps' partials in order. With few tiles and many rows the rows are split into segments
//    whose partials (scratch memory) a second kernel folds in segment order.
#include "common.cuh"

namespace dl::cuda {

namespace {

constexpr int kWarps = kBlock / 32;

/** Threads of a block per row of C elements: C rounded up to a warp, at most kBlock. */
unsigned row_threads(int64_t C) { return static_cast<unsigned>(std::min<int64_t>(kBlock, std::max<int64_t>(32, (C + 31) / 32 * 32))); }

/**
 * The sum of v over the block (blockDim.x a multiple of 32), the same bits in every thread.
 * `sm`: kWarps doubles of shared memory; every thread of the block must call it.
 */
__device__ __forceinline__ double block_sum(double v, double* sm) {
  const auto add = [](double a, double b) { return a + b; };
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_allreduce(v, add);
  __syncthreads();  // the previous call's partials have been read
  if (lane == 0) sm[warp] = v;
  __syncthreads();
  return warp_allreduce(lane < static_cast<int>(blockDim.x >> 5) ? sm[lane] : 0.0, add);
}

template <int DT>
__global__ void __launch_bounds__(kBlock) ln_forward(int64_t R, int64_t C, double eps, const storage_t<DT>* x,
                                                     const storage_t<DT>* w, const storage_t<DT>* b, storage_t<DT>* y,
                                                     storage_t<DT>* mean, storage_t<DT>* rstd) {
  using T = storage_t<DT>;
  __shared__ double sm[kWarps];
  const double n = static_cast<double>(C);
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    double s = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += static_cast<double>(xr[c]);
    const double m = block_sum(s, sm) / n;
    double q = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const double d = static_cast<double>(xr[c]) - m;
      q += d * d;
    }
    const double rs = 1.0 / sqrt(block_sum(q, sm) / n + eps);
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      double v = (static_cast<double>(xr[c]) - m) * rs;
      if (w) v *= static_cast<double>(w[c]);
      if (b) v += static_cast<double>(b[c]);
      yr[c] = static_cast<T>(v);
    }
    if (threadIdx.x == 0) {
      mean[r] = static_cast<T>(m);
      rstd[r] = static_cast<T>(rs);
    }
  }
}

/** gx = rstd * (g - mean_C(g) - xhat * mean_C(g * xhat)), g = gy * w (or gy), xhat = (x - mean) * rstd. */
template <int DT>
__global__ void __launch_bounds__(kBlock) ln_backward_input(int64_t R, int64_t C, const storage_t<DT>* gy,
                                                            const storage_t<DT>* x, const storage_t<DT>* mean,
                                                            const storage_t<DT>* rstd, const storage_t<DT>* w,
                                                            storage_t<DT>* gx) {
  using T = storage_t<DT>;
  __shared__ double sm[kWarps];
  const double n = static_cast<double>(C);
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T *gr = gy + r * C, *xr = x + r * C;
    T* out = gx + r * C;
    const double m = static_cast<double>(mean[r]), rs = static_cast<double>(rstd[r]);
    double sg = 0, sgx = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const double g = static_cast<double>(gr[c]) * (w ? static_cast<double>(w[c]) : 1.0);
      sg += g;
      sgx += g * (static_cast<double>(xr[c]) - m) * rs;
    }
    const double mg = block_sum(sg, sm) / n;
    const double mgx = block_sum(sgx, sm) / n;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const double g = static_cast<double>(gr[c]) * (w ? static_cast<double>(w[c]) : 1.0);
      const double xhat = (static_cast<double>(xr[c]) - m) * rs;
      out[c] = static_cast<T>(rs * (g - mg - xhat * mgx));
    }
  }
}

/**
 * gw = sum over rows of gy * xhat, gb = sum over rows of gy, per column. Block item = (tile t,
 * segment s) = t + s * tiles; with `partial` the segment's sums go to partial[s * C + c] (gw)
 * and partial[(segs + s) * C + c] (gb), else straight to gw and gb. Runs with kBlock threads.
 */
template <int DT>
__global__ void __launch_bounds__(kBlock) ln_backward_params(int64_t R, int64_t C, int64_t tiles, int64_t segs,
                                                             int64_t seg_len, const storage_t<DT>* gy,
                                                             const storage_t<DT>* x, const storage_t<DT>* mean,
                                                             const storage_t<DT>* rstd, storage_t<DT>* gw,
                                                             storage_t<DT>* gb, double* partial) {
  using T = storage_t<DT>;
  __shared__ double sw[kWarps][32];
  __shared__ double sb[kWarps][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t item = blockIdx.x; item < tiles * segs; item += gridDim.x) {
    const int64_t t = item % tiles, s = item / tiles;
    const int64_t c = t * 32 + lane;
    const int64_t r1 = (s + 1) * seg_len < R ? (s + 1) * seg_len : R;
    double aw = 0, ab = 0;
    if (c < C) {
      for (int64_t r = s * seg_len + warp; r < r1; r += kWarps) {
        const double g = static_cast<double>(gy[r * C + c]);
        aw += g * (static_cast<double>(x[r * C + c]) - static_cast<double>(mean[r])) * static_cast<double>(rstd[r]);
        ab += g;
      }
    }
    sw[warp][lane] = aw;
    sb[warp][lane] = ab;
    __syncthreads();
    if (warp == 0 && c < C) {
      double tw = sw[0][lane], tb = sb[0][lane];
      for (int k = 1; k < kWarps; k++) {
        tw += sw[k][lane];
        tb += sb[k][lane];
      }
      if (partial) {
        partial[s * C + c] = tw;
        partial[(segs + s) * C + c] = tb;
      } else {
        gw[c] = static_cast<T>(tw);
        gb[c] = static_cast<T>(tb);
      }
    }
    __syncthreads();  // sw and sb are rewritten by the next item
  }
}

/** Folds each column's segment partials in segment order. */
template <int DT>
__global__ void __launch_bounds__(kBlock) ln_fold_params(int64_t C, int64_t segs, const double* partial,
                                                         storage_t<DT>* gw, storage_t<DT>* gb) {
  using T = storage_t<DT>;
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < C;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double tw = partial[c], tb = partial[segs * C + c];
    for (int64_t s = 1; s < segs; s++) {
      tw += partial[s * C + c];
      tb += partial[(segs + s) * C + c];
    }
    gw[c] = static_cast<T>(tw);
    gb[c] = static_cast<T>(tb);
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

void layer_norm(const Ctx& c, const Tensor& x, const Tensor* weight, const Tensor* bias, const Tensor& y,
                const Tensor& mean, const Tensor& rstd, int64_t R, int64_t C, double eps) {
  if (R == 0) return;
  DL_SWITCH_FLOAT("layerNorm", DT, x.dtype, {
    using T = storage_t<DT>;
    ln_forward<DT><<<blocks_for(R, 1), row_threads(C), 0, c.stream>>>(
        R, C, eps, x.as<const T>(), weight ? weight->as<const T>() : nullptr, bias ? bias->as<const T>() : nullptr,
        y.as<T>(), mean.as<T>(), rstd.as<T>());
  })
  DL_CUDA_CHECK_LAUNCH("ln_forward");
}

void layer_norm_backward(const Ctx& c, const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                         const Tensor* weight, const Tensor& gx, const Tensor& gw, const Tensor& gb, int64_t R,
                         int64_t C) {
  if (C == 0) return;
  DL_SWITCH_FLOAT("layerNormBackward", DT, x.dtype, {
    using T = storage_t<DT>;
    if (R > 0) {
      ln_backward_input<DT><<<blocks_for(R, 1), row_threads(C), 0, c.stream>>>(
          R, C, gy.as<const T>(), x.as<const T>(), mean.as<const T>(), rstd.as<const T>(),
          weight ? weight->as<const T>() : nullptr, gx.as<T>());
      DL_CUDA_CHECK_LAUNCH("ln_backward_input");
    }
    // Segments of at least 64 rows, enough of them to give the device ~1024 blocks.
    const int64_t tiles = ceil_div(C, 32);
    int64_t segs = std::max<int64_t>(1, std::min<int64_t>({256, ceil_div(R, 64), ceil_div(1024, tiles)}));
    const int64_t seg_len = R == 0 ? 0 : ceil_div(R, segs);
    if (seg_len > 0) segs = ceil_div(R, seg_len);  // no empty segment
    const auto column_sums = [&](double* partial) {
      ln_backward_params<DT><<<blocks_for(tiles * segs, 1), kBlock, 0, c.stream>>>(
          R, C, tiles, segs, seg_len, gy.as<const T>(), x.as<const T>(), mean.as<const T>(), rstd.as<const T>(),
          gw.as<T>(), gb.as<T>(), partial);
      DL_CUDA_CHECK_LAUNCH("ln_backward_params");
    };
    if (segs == 1) {
      column_sums(nullptr);
    } else {
      DeviceBuffer partial(static_cast<size_t>(2 * segs * C) * sizeof(double));
      column_sums(partial.as<double>());
      ln_fold_params<DT><<<blocks_for(C), kBlock, 0, c.stream>>>(C, segs, partial.as<const double>(), gw.as<T>(),
                                                                 gb.as<T>());
      DL_CUDA_CHECK_LAUNCH("ln_fold_params");
    }
  })
}

}  // namespace dl::cuda
