// Layer normalization over the trailing dims and its gradient (KernelAttrs layerNorm /
// layerNormBackward): x contiguous, seen as R rows of C; batch normalization over dim 1 and its
// gradient (batchNorm / batchNormBackward): x contiguous, seen as N x C x S. Every sum
// accumulates in double, for float32 too, in an order fixed by the shapes alone
// (deterministic, no atomics).
//
//  - forward and gx: one block per row (C rounded up to a warp, 32 to 256 threads), threads
//    striding the row, then a block reduction: a butterfly within each warp, then every warp
//    folds the warps' partials the same way, so all threads hold the same bits. The forward
//    makes two passes, the mean and then the centred sum of squares (no cancellation).
//  - gw, gb: column sums over the rows. A block takes a tile of 32 columns (a warp reads 32
//    neighbours in a row) over a run of rows, warp k taking rows k, k+8, ..., and folds the 8
//    warps' partials in order. With few tiles and many rows the rows are split into segments
//    whose partials (scratch memory) a second kernel folds in segment order.
//
// Batch norm: channel c's M = N * S numbers (k = n * S + s, at (n * C + c) * S + s) are cut
// into tiles of kBnTile consecutive k, and every kernel but the per-channel folds takes block
// items (channel, tile), so a few wide channels (64 of 524288 numbers in ResNet-9's first
// layers) fill the device as well as many narrow ones (512 of 8192). Thread i of a block takes
// numbers k0 + i + j * kBlock (j < kBnPer) of its tile, so a warp reads runs of consecutive
// elements; each kernel loads them into registers (the reductions all kBnPer, the elementwise
// passes kBnRound at a time) before any arithmetic waits on them, keeping many loads in flight.
//  - forward: per tile, the sum and the centred sum of squares about the tile's own mean (two
//    passes over the registers, x read once), into scratch; a warp per channel folds its tiles
//    in a fixed order into the exact two-pass mean and variance (below) and the channel's scale;
//    then y = (x - mean) * scale + bias per tile.
//  - backward: per tile the sums of gy and of gy * (x - mean); a warp per channel folds them
//    into gb, gw and gx's three coefficients; then gx per tile.
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

// ---------------------------------------------------------------- batch normalization

constexpr int kBnPer = 16;                    // numbers per thread per tile
constexpr int64_t kBnTile = kBnPer * kBlock;  // numbers of one channel per block item
// Numbers an elementwise pass loads before it stores: all kBnPer would take ~140 registers
// (a block per SM), 8 keep it near 40.
constexpr int kBnRound = 8;

/** x seen as N x C x S, channels cut into `tiles` tiles of kBnTile numbers (see the top). */
struct BnLayout {
  int64_t C, S, M, tiles;
  int64_t cs;         // C * S: from x[n, c, s] to x[n + 1, c, s]
  int64_t step_base;  // (kBlock / S) * C * S and kBlock % S: a step of kBlock numbers as whole
  int64_t step_s;     // runs and the rest of a run
};

BnLayout bn_layout(int64_t N, int64_t C, int64_t S) {
  const int64_t M = N * S;
  return {C, S, M, ceil_div(M, kBnTile), C * S, S > 0 ? kBlock / S * C * S : 0, S > 0 ? kBlock % S : 0};
}

/**
 * The offsets in x of a thread's numbers k, k + kBlock, ... of channel c, without a division per
 * step; I: int32_t where every offset it passes fits (bn_index32), else int64_t.
 */
template <typename I>
struct BnCursor {
  I base, s;  // (n * C + c) * S and s of the current k
  __device__ BnCursor(const BnLayout& L, int64_t c, int64_t k) {
    const int64_t n = k / L.S;
    s = static_cast<I>(k - n * L.S);
    base = static_cast<I>((n * L.C + c) * L.S);
  }
  __device__ I offset() const { return base + s; }
  __device__ void next(const BnLayout& L) {
    base += static_cast<I>(L.step_base);
    s += static_cast<I>(L.step_s);
    if (s >= static_cast<I>(L.S)) {
      s -= static_cast<I>(L.S);
      base += static_cast<I>(L.cs);
    }
  }
};

/**
 * Whether 32-bit offsets suffice: a cursor ends below number M + kBnTile + kBlock of its channel,
 * at an offset below that times C plus a run, C * S.
 */
bool bn_index32(const BnLayout& L, int64_t numel) {
  return numel + (kBnTile + kBlock + L.S) * L.C < (int64_t{1} << 31);
}

/** Block item -> channel c, the tile's first number k0 and its count n; `left`: n less this thread's first. */
struct BnTile {
  int64_t c, k0;
  int n, left;
  __device__ BnTile(const BnLayout& L, int64_t item) {
    c = item / L.tiles;
    k0 = (item - c * L.tiles) * kBnTile;
    n = static_cast<int>(L.M - k0 < kBnTile ? L.M - k0 : kBnTile);
    left = n - static_cast<int>(threadIdx.x);
  }
  /** Whether this thread's j-th number is in the tile. */
  __device__ bool has(int j) const { return j * kBlock < left; }
};

/**
 * Per block item (c, t): the sum of the tile's numbers and their centred sum of squares about
 * the tile's own mean, into part[item] and part[items + item]. Runs with kBlock threads.
 */
template <int DT, typename I>
__global__ void __launch_bounds__(kBlock) bn_tile_moments(BnLayout L, const storage_t<DT>* x, double* part) {
  __shared__ double sm[kWarps];
  const int64_t items = L.C * L.tiles;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const BnTile tile(L, item);
    BnCursor<I> at(L, tile.c, tile.k0 + threadIdx.x);
    double v[kBnPer];
#pragma unroll
    for (int j = 0; j < kBnPer; j++) {
      v[j] = tile.has(j) ? static_cast<double>(x[at.offset()]) : 0.0;
      at.next(L);
    }
    double s = 0;
#pragma unroll
    for (int j = 0; j < kBnPer; j++) s += v[j];
    const double sum = block_sum(s, sm);
    const double m = sum / tile.n;
    double q = 0;
#pragma unroll
    for (int j = 0; j < kBnPer; j++) {
      const double d = v[j] - m;
      if (tile.has(j)) q += d * d;
    }
    q = block_sum(q, sm);
    if (threadIdx.x == 0) {
      part[item] = sum;
      part[items + item] = q;
    }
  }
}

/** Numbers in tile t of a channel. */
__device__ __forceinline__ double bn_tile_count(const BnLayout& L, int64_t t) {
  return static_cast<double>(L.M - t * kBnTile < kBnTile ? L.M - t * kBnTile : kBnTile);
}

/**
 * A warp per channel, lanes taking tiles lane, lane + 32, ... then a butterfly: mean = sum / M
 * and var = (sum over tiles of q_t + n_t * (mean_t - mean)^2) / M, the exact centred sum of
 * squares regrouped by tile (no cancellation). Writes mean and var, and for bn_apply coef[c] =
 * mean, coef[C + c] = weight / sqrt(var + eps) in double.
 */
template <int DT>
__global__ void __launch_bounds__(kBlock) bn_stats(BnLayout L, double eps, const double* part, const storage_t<DT>* w,
                                                   storage_t<DT>* mean, storage_t<DT>* var, double* coef) {
  using T = storage_t<DT>;
  const auto add = [](double a, double b) { return a + b; };
  const int lane = threadIdx.x & 31;
  const int64_t items = L.C * L.tiles;
  for (int64_t c = warp_id(); c < L.C; c += warp_count()) {
    const double *ps = part + c * L.tiles, *pq = part + items + c * L.tiles;
    double s = 0;
    for (int64_t t = lane; t < L.tiles; t += 32) s += ps[t];
    const double m = warp_allreduce(s, add) / static_cast<double>(L.M);
    double q = 0;
    for (int64_t t = lane; t < L.tiles; t += 32) {
      const double n = bn_tile_count(L, t), d = ps[t] / n - m;
      q += pq[t] + n * d * d;
    }
    const double v = warp_allreduce(q, add) / static_cast<double>(L.M);
    if (lane == 0) {
      mean[c] = static_cast<T>(m);
      var[c] = static_cast<T>(v);
      coef[c] = m;
      coef[L.C + c] = 1.0 / sqrt(v + eps) * (w ? static_cast<double>(w[c]) : 1.0);
    }
  }
}

/** y = (x - mean) * scale + bias, per block item as bn_tile_moments. */
template <int DT, typename I>
__global__ void __launch_bounds__(kBlock) bn_apply(BnLayout L, const double* coef, const storage_t<DT>* b,
                                                   const storage_t<DT>* x, storage_t<DT>* y) {
  using T = storage_t<DT>;
  for (int64_t item = blockIdx.x; item < L.C * L.tiles; item += gridDim.x) {
    const BnTile tile(L, item);
    const double m = coef[tile.c], scale = coef[L.C + tile.c], shift = b ? static_cast<double>(b[tile.c]) : 0.0;
    BnCursor<I> at(L, tile.c, tile.k0 + threadIdx.x), out = at;
#pragma unroll 1
    for (int r = 0; r < kBnPer; r += kBnRound) {
      T v[kBnRound];
#pragma unroll
      for (int j = 0; j < kBnRound; j++) {
        v[j] = tile.has(r + j) ? x[at.offset()] : T(0);
        at.next(L);
      }
#pragma unroll
      for (int j = 0; j < kBnRound; j++) {
        if (tile.has(r + j)) y[out.offset()] = static_cast<T>((static_cast<double>(v[j]) - m) * scale + shift);
        out.next(L);
      }
    }
  }
}

/** Per block item: the sums of gy and of gy * (x - mean) over the tile, into part[item] and part[items + item]. */
template <int DT, typename I>
__global__ void __launch_bounds__(kBlock) bn_tile_grad_sums(BnLayout L, const storage_t<DT>* gy, const storage_t<DT>* x,
                                                            const storage_t<DT>* mean, double* part) {
  using T = storage_t<DT>;
  __shared__ double sm[kWarps];
  const int64_t items = L.C * L.tiles;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const BnTile tile(L, item);
    const double m = static_cast<double>(mean[tile.c]);
    T g[kBnPer], v[kBnPer];
    BnCursor<I> at(L, tile.c, tile.k0 + threadIdx.x);
#pragma unroll
    for (int j = 0; j < kBnPer; j++) {
      g[j] = tile.has(j) ? gy[at.offset()] : T(0);
      v[j] = tile.has(j) ? x[at.offset()] : T(0);
      at.next(L);
    }
    double sg = 0, sgx = 0;
#pragma unroll
    for (int j = 0; j < kBnPer; j++) {
      if (!tile.has(j)) continue;
      sg += static_cast<double>(g[j]);
      sgx += static_cast<double>(g[j]) * (static_cast<double>(v[j]) - m);
    }
    sg = block_sum(sg, sm);
    sgx = block_sum(sgx, sm);
    if (threadIdx.x == 0) {
      part[item] = sg;
      part[items + item] = sgx;
    }
  }
}

/**
 * A warp per channel as bn_stats: gb = sum(gy), gw = rstd * sum(gy * (x - mean)); for
 * bn_grad_input with k = weight * rstd, coef[c] = mean, coef[C + c] = k, coef[2C + c] = k * gb / M,
 * coef[3C + c] = k * rstd * gw / M (gx = k * gy - k * gb / M - (x - mean) * k * rstd * gw / M).
 */
template <int DT>
__global__ void __launch_bounds__(kBlock) bn_grad_params(BnLayout L, double eps, const double* part,
                                                         const storage_t<DT>* mean, const storage_t<DT>* var,
                                                         const storage_t<DT>* w, storage_t<DT>* gw, storage_t<DT>* gb,
                                                         double* coef) {
  using T = storage_t<DT>;
  const auto add = [](double a, double b) { return a + b; };
  const int lane = threadIdx.x & 31;
  const int64_t items = L.C * L.tiles;
  const double M = static_cast<double>(L.M);
  for (int64_t c = warp_id(); c < L.C; c += warp_count()) {
    double sg = 0, sgx = 0;
    for (int64_t t = lane; t < L.tiles; t += 32) {
      sg += part[c * L.tiles + t];
      sgx += part[items + c * L.tiles + t];
    }
    sg = warp_allreduce(sg, add);
    sgx = warp_allreduce(sgx, add);
    if (lane == 0) {
      const double rstd = 1.0 / sqrt(static_cast<double>(var[c]) + eps);
      // No numbers (N or S zero): both sums are over nothing, 0 whatever var holds.
      const double g_w = L.M == 0 ? 0.0 : rstd * sgx;
      const double k = (w ? static_cast<double>(w[c]) : 1.0) * rstd;
      gw[c] = static_cast<T>(g_w);
      gb[c] = static_cast<T>(sg);
      coef[c] = static_cast<double>(mean[c]);
      coef[L.C + c] = k;
      coef[2 * L.C + c] = k * sg / M;
      coef[3 * L.C + c] = k * rstd * g_w / M;
    }
  }
}

/** gx = k * gy - k * gb / M - (x - mean) * k * rstd * gw / M, per block item as bn_tile_moments. */
template <int DT, typename I>
__global__ void __launch_bounds__(kBlock) bn_grad_input(BnLayout L, const double* coef, const storage_t<DT>* gy,
                                                        const storage_t<DT>* x, storage_t<DT>* gx) {
  using T = storage_t<DT>;
  for (int64_t item = blockIdx.x; item < L.C * L.tiles; item += gridDim.x) {
    const BnTile tile(L, item);
    const double m = coef[tile.c], k = coef[L.C + tile.c], shift = coef[2 * L.C + tile.c],
                 slope = coef[3 * L.C + tile.c];
    BnCursor<I> at(L, tile.c, tile.k0 + threadIdx.x), out = at;
#pragma unroll 1
    for (int r = 0; r < kBnPer; r += kBnRound) {
      T g[kBnRound], v[kBnRound];
#pragma unroll
      for (int j = 0; j < kBnRound; j++) {
        g[j] = tile.has(r + j) ? gy[at.offset()] : T(0);
        v[j] = tile.has(r + j) ? x[at.offset()] : T(0);
        at.next(L);
      }
#pragma unroll
      for (int j = 0; j < kBnRound; j++) {
        if (tile.has(r + j))
          gx[out.offset()] =
              static_cast<T>(k * static_cast<double>(g[j]) - shift - (static_cast<double>(v[j]) - m) * slope);
        out.next(L);
      }
    }
  }
}

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

void batch_norm(const Ctx& c, const Tensor& x, const Tensor* weight, const Tensor* bias, const Tensor& y,
                const Tensor& mean, const Tensor& var, int64_t N, int64_t C, int64_t S, double eps) {
  if (C == 0) return;
  const BnLayout L = bn_layout(N, C, S);
  const int64_t items = C * L.tiles;
  // The tiles' (sum, centred sum of squares), then each channel's mean and scale.
  DeviceBuffer scratch(static_cast<size_t>(2 * items + 2 * C) * sizeof(double));
  double *part = scratch.as<double>(), *coef = part + 2 * items;
  DL_SWITCH_FLOAT("batchNorm", DT, x.dtype, {
    using T = storage_t<DT>;
    const auto tiles = [&](auto index) {
      using I = decltype(index);
      if (items > 0) {
        bn_tile_moments<DT, I><<<blocks_for(items, 1), kBlock, 0, c.stream>>>(L, x.as<const T>(), part);
        DL_CUDA_CHECK_LAUNCH("bn_tile_moments");
      }
      // With no numbers (N or S zero) this alone runs: mean and var are 0 / 0, NaN, as the reference's.
      bn_stats<DT><<<blocks_for(C, kWarps), kBlock, 0, c.stream>>>(L, eps, part, weight ? weight->as<const T>() : nullptr,
                                                                  mean.as<T>(), var.as<T>(), coef);
      DL_CUDA_CHECK_LAUNCH("bn_stats");
      if (items > 0) {
        bn_apply<DT, I><<<blocks_for(items, 1), kBlock, 0, c.stream>>>(L, coef, bias ? bias->as<const T>() : nullptr,
                                                                      x.as<const T>(), y.as<T>());
        DL_CUDA_CHECK_LAUNCH("bn_apply");
      }
    };
    if (bn_index32(L, x.numel())) tiles(int32_t{});
    else tiles(int64_t{});
  })
}
void batch_norm_backward(const Ctx& c, const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& var,
                         const Tensor* weight, const Tensor& gx, const Tensor& gw, const Tensor& gb, int64_t N,
                         int64_t C, int64_t S, double eps) {
  if (C == 0) return;
  const BnLayout L = bn_layout(N, C, S);
  const int64_t items = C * L.tiles;
  // The tiles' (sum of gy, sum of gy * (x - mean)), then each channel's four coefficients of gx.
  DeviceBuffer scratch(static_cast<size_t>(2 * items + 4 * C) * sizeof(double));
  double *part = scratch.as<double>(), *coef = part + 2 * items;
  DL_SWITCH_FLOAT("batchNormBackward", DT, x.dtype, {
    using T = storage_t<DT>;
    const auto tiles = [&](auto index) {
      using I = decltype(index);
      if (items > 0) {
        bn_tile_grad_sums<DT, I><<<blocks_for(items, 1), kBlock, 0, c.stream>>>(L, gy.as<const T>(), x.as<const T>(),
                                                                               mean.as<const T>(), part);
        DL_CUDA_CHECK_LAUNCH("bn_tile_grad_sums");
      }
      // With no numbers (N or S zero) this alone runs: gw and gb are sums over nothing.
      bn_grad_params<DT><<<blocks_for(C, kWarps), kBlock, 0, c.stream>>>(
          L, eps, part, mean.as<const T>(), var.as<const T>(), weight ? weight->as<const T>() : nullptr, gw.as<T>(),
          gb.as<T>(), coef);
      DL_CUDA_CHECK_LAUNCH("bn_grad_params");
      if (items > 0) {
        bn_grad_input<DT, I><<<blocks_for(items, 1), kBlock, 0, c.stream>>>(L, coef, gy.as<const T>(), x.as<const T>(),
                                                                           gx.as<T>());
        DL_CUDA_CHECK_LAUNCH("bn_grad_input");
      }
    };
    if (bn_index32(L, x.numel())) tiles(int32_t{});
    else tiles(int64_t{});
  })
}

}  // namespace dl::cuda
