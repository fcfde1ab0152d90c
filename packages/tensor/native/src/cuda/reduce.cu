// Reductions over a dim mask (sum, prod, max, min, all, any), argmax/argmin and
// softmax/logSoftmax along one dim. Deterministic: every result comes from a fixed reduction
// tree chosen from the shapes alone (never from the device or timing); no atomics.
//
// Accumulators follow the CPU backend (backend/cpu/reduce.ts accumulates in doubles): float
// sum/prod and all max/min accumulate in double; integer and bool sum/prod in uint32, which
// is the exact sum/product modulo 2^32 (= the CPU's double result stored into int32). Results
// are stored with the CPU's typed-array conversion. NaN propagates through max/min.
//
// Plans for dims reductions (outputs = kept positions, r = reduced elements per output):
//  - thread mode: one thread folds a run of r for one output with an odometer (consecutive
//    threads take consecutive outputs: coalesced when a kept dim is innermost);
//  - block mode, when the innermost reduced dim has unit stride and r >= 128: a block of 256
//    threads folds a run, thread t taking elements t, t+256, ..., then a shared-memory tree.
// A long reduction is split into at most 256 segments (partials in scratch memory) when there
// are too few outputs to fill the device; a second kernel folds each output's partials in order.
//
// argmax/argmin/softmax: one warp per row along the dim (lanes stride the row, then a
// butterfly reduction: with commutative combines every lane holds identical bits).
#include "common.cuh"
#include "softmax.cuh"

namespace dl::cuda {

namespace {

enum Red : int { kRSum, kRProd, kRMax, kRMin, kRAll, kRAny };

template <int R, int DT>
struct Reducer {
  using In = storage_t<DT>;
  static constexpr bool kIntAcc = (R == kRSum || R == kRProd) && !is_float_dt(DT);
  using Acc = std::conditional_t<kIntAcc, uint32_t, double>;
  static constexpr int kOut = (R == kRAll || R == kRAny) ? kBool
                              : (R == kRSum || R == kRProd) ? (is_float_dt(DT) ? DT : kInt32)
                                                            : DT;
  using Out = storage_t<kOut>;

  __device__ static Acc init() {
    if constexpr (R == kRSum || R == kRAny) return Acc(0);
    else if constexpr (R == kRProd || R == kRAll) return Acc(1);
    else if constexpr (R == kRMax) return -static_cast<double>(INFINITY);
    else return static_cast<double>(INFINITY);
  }
  __device__ static Acc load(In v) {
    if constexpr (R == kRAll || R == kRAny) return v != 0 ? 1.0 : 0.0;  // NaN counts as true
    else if constexpr (kIntAcc) return static_cast<uint32_t>(v);
    else return static_cast<double>(v);
  }
  __device__ static Acc combine(Acc a, Acc b) {
    if constexpr (R == kRSum) return a + b;
    else if constexpr (R == kRProd) return a * b;
    else if constexpr (R == kRMax) return nan_max(a, b);
    else if constexpr (R == kRMin) return nan_min(a, b);
    else if constexpr (R == kRAll) return (a != 0 && b != 0) ? 1.0 : 0.0;
    else return (a != 0 || b != 0) ? 1.0 : 0.0;
  }
  __device__ static Out store(Acc a) {
    if constexpr (kIntAcc) return static_cast<int32_t>(a);
    else return from_double<kOut>(a);
  }
};

/** Thread mode: work item t = (segment s, output o) with o fastest. */
template <int R, int DT>
__global__ void __launch_bounds__(kBlock) reduce_threads(Iter<2> out, Iter<1> red, int64_t segs, int64_t seg_len,
                                                         const storage_t<DT>* x,
                                                         typename Reducer<R, DT>::Out* y,
                                                         typename Reducer<R, DT>::Acc* partial) {
  using Rd = Reducer<R, DT>;
  const int64_t total = out.numel * segs;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = t % out.numel, s = t / out.numel;
    int64_t off[2];
    iter_offsets(out, o, off);
    const int64_t r0 = s * seg_len;
    const int64_t r1 = r0 + seg_len < red.numel ? r0 + seg_len : red.numel;
    typename Rd::Acc acc = Rd::init();
    if (r0 < r1) {
      int64_t idx[kMaxRank], roff[1];
      iter_start(red, r0, idx, roff);
      const storage_t<DT>* p = x + off[0];
      for (int64_t r = r0; r < r1; r++) {
        acc = Rd::combine(acc, Rd::load(p[roff[0]]));
        iter_next(red, idx, roff);
      }
    }
    if (partial) partial[o * segs + s] = acc;
    else y[off[1]] = Rd::store(acc);
  }
}

/** Block mode: block item b = (output o, segment s). */
template <int R, int DT>
__global__ void __launch_bounds__(kBlock) reduce_blocks(Iter<2> out, Iter<1> red, int64_t segs, int64_t seg_len,
                                                        const storage_t<DT>* x,
                                                        typename Reducer<R, DT>::Out* y,
                                                        typename Reducer<R, DT>::Acc* partial) {
  using Rd = Reducer<R, DT>;
  using Acc = typename Rd::Acc;
  __shared__ Acc sm[kBlock];
  const int tid = threadIdx.x;
  for (int64_t b = blockIdx.x; b < out.numel * segs; b += gridDim.x) {
    const int64_t o = b / segs, s = b - o * segs;
    int64_t off[2];
    iter_offsets(out, o, off);
    const int64_t r0 = s * seg_len;
    const int64_t r1 = r0 + seg_len < red.numel ? r0 + seg_len : red.numel;
    Acc acc = Rd::init();
    for (int64_t r = r0 + tid; r < r1; r += kBlock) {
      int64_t roff[1];
      iter_offsets(red, r, roff);
      acc = Rd::combine(acc, Rd::load(x[off[0] + roff[0]]));
    }
    sm[tid] = acc;
    __syncthreads();
    for (int w = kBlock / 2; w > 0; w >>= 1) {
      if (tid < w) sm[tid] = Rd::combine(sm[tid], sm[tid + w]);
      __syncthreads();
    }
    if (tid == 0) {
      if (partial) partial[o * segs + s] = sm[0];
      else y[off[1]] = Rd::store(sm[0]);
    }
    __syncthreads();  // sm is rewritten by the next item
  }
}

/** Folds each output's partials in segment order. */
template <int R, int DT>
__global__ void __launch_bounds__(kBlock) reduce_partials(Iter<2> out, int64_t segs,
                                                          const typename Reducer<R, DT>::Acc* partial,
                                                          typename Reducer<R, DT>::Out* y) {
  using Rd = Reducer<R, DT>;
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < out.numel;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[2];
    iter_offsets(out, o, off);
    typename Rd::Acc acc = partial[o * segs];
    for (int64_t s = 1; s < segs; s++) acc = Rd::combine(acc, partial[o * segs + s]);
    y[off[1]] = Rd::store(acc);
  }
}

template <typename I>
I ceil_div(I a, I b) {
  return (a + b - 1) / b;
}

template <int R, int DT>
void run_reduce(const Ctx& c, const Tensor& x, const Tensor& y, uint32_t mask) {
  using Rd = Reducer<R, DT>;
  using Acc = typename Rd::Acc;
  // Kept dims (walked with x's and y's strides) and reduced dims (x's strides).
  int64_t kshape[kMaxRank], kxs[kMaxRank], kys[kMaxRank], rshape[kMaxRank], rxs[kMaxRank];
  int nk = 0, nr = 0;
  for (int d = 0; d < x.rank; d++) {
    if ((mask >> d) & 1u) {
      rshape[nr] = x.shape[d];
      rxs[nr++] = x.strides[d];
    } else {
      kshape[nk] = x.shape[d];
      kxs[nk] = x.strides[d];
      kys[nk++] = y.strides[d];
    }
  }
  const Iter<2> out = make_iter<2>(nk, kshape, {kxs, kys});
  const Iter<1> red = make_iter<1>(nr, rshape, {rxs});
  if (out.numel == 0) return;
  const int64_t n = red.numel;
  const bool block_mode = n >= 128 && red.nd > 0 && red.stride[0][red.nd - 1] == 1;
  int64_t segs = 1;
  if (block_mode && out.numel < 1024) {
    segs = std::min(ceil_div<int64_t>(n, 4096), ceil_div<int64_t>(1024, out.numel));
  } else if (!block_mode && n >= 1024) {
    segs = std::min(ceil_div<int64_t>(n, 256), ceil_div<int64_t>(65536, out.numel));
  }
  segs = std::max<int64_t>(1, std::min<int64_t>(segs, 256));
  const int64_t seg_len = n == 0 ? 0 : ceil_div(n, segs);
  if (seg_len > 0) segs = ceil_div(n, seg_len);  // no empty segment
  const auto* xp = x.as<const storage_t<DT>>();
  auto* yp = y.as<typename Rd::Out>();
  if (segs == 1) {
    if (block_mode) reduce_blocks<R, DT><<<blocks_for(out.numel, 1), kBlock, 0, c.stream>>>(out, red, 1, n, xp, yp, nullptr);
    else reduce_threads<R, DT><<<blocks_for(out.numel), kBlock, 0, c.stream>>>(out, red, 1, n, xp, yp, nullptr);
    DL_CUDA_CHECK_LAUNCH("reduce");
    return;
  }
  DeviceBuffer partial(static_cast<size_t>(out.numel * segs) * sizeof(Acc));
  Acc* pp = partial.as<Acc>();
  if (block_mode)
    reduce_blocks<R, DT><<<blocks_for(out.numel * segs, 1), kBlock, 0, c.stream>>>(out, red, segs, seg_len, xp, yp, pp);
  else
    reduce_threads<R, DT><<<blocks_for(out.numel * segs), kBlock, 0, c.stream>>>(out, red, segs, seg_len, xp, yp, pp);
  DL_CUDA_CHECK_LAUNCH("reduce");
  reduce_partials<R, DT><<<blocks_for(out.numel), kBlock, 0, c.stream>>>(out, segs, pp, yp);
  DL_CUDA_CHECK_LAUNCH("reduce_partials");
}

// ------------------------------------------------------------------ along one dim

/** Positions (every dim but `dim`) with x's and y's strides; the dim's length and strides. */
struct Rows {
  Iter<2> pos;
  int64_t len, sx, sy;
};

Rows rows_of(const Tensor& x, const Tensor& y, int dim) {
  int64_t shape[kMaxRank], xs[kMaxRank], ys[kMaxRank];
  int n = 0;
  for (int d = 0; d < x.rank; d++) {
    if (d == dim) continue;
    shape[n] = x.shape[d];
    xs[n] = x.strides[d];
    ys[n++] = y.strides[d];
  }
  Rows r;
  r.pos = make_iter<2>(n, shape, {xs, ys});
  r.len = x.rank == 0 ? 1 : x.shape[dim];
  r.sx = x.rank == 0 ? 0 : x.strides[dim];
  r.sy = x.rank == 0 ? 0 : y.strides[dim];
  return r;
}

/** (value, index) of the better candidate: NaN beats numbers, then the extreme, then the lower index. */
template <bool MAX>
__device__ inline bool arg_better(double v, int64_t k, double b, int64_t bk) {
  if (k < 0) return false;
  if (bk < 0) return true;
  const bool vn = v != v, bn = b != b;
  if (vn || bn) return vn && (!bn || k < bk);
  if (v == b) return k < bk;
  return MAX ? v > b : v < b;
}

template <int DT, bool MAX>
__global__ void __launch_bounds__(kBlock) arg_kernel(Iter<2> pos, int64_t len, int64_t sx, const storage_t<DT>* x,
                                                     int32_t* y) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = warp_id(); row < pos.numel; row += warp_count()) {
    int64_t off[2];
    iter_offsets(pos, row, off);
    double best = 0;
    int64_t bi = -1;
    for (int64_t k = lane; k < len; k += 32) {
      const double v = static_cast<double>(x[off[0] + k * sx]);
      if (arg_better<MAX>(v, k, best, bi)) {
        best = v;
        bi = k;
      }
    }
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) {
      const double ov = __shfl_xor_sync(0xffffffffu, best, m);
      const int64_t ok = __shfl_xor_sync(0xffffffffu, bi, m);
      if (arg_better<MAX>(ov, ok, best, bi)) {
        best = ov;
        bi = ok;
      }
    }
    if (lane == 0) y[off[1]] = static_cast<int32_t>(bi);
  }
}

template <int DT, bool LOG>
__global__ void __launch_bounds__(kBlock) softmax_kernel(Iter<2> pos, int64_t len, int64_t sx, int64_t sy,
                                                         const storage_t<DT>* x, storage_t<DT>* y) {
  using T = storage_t<DT>;
  const int lane = threadIdx.x & 31;
  for (int64_t row = warp_id(); row < pos.numel; row += warp_count()) {
    int64_t off[2];
    iter_offsets(pos, row, off);
    const T* xr = x + off[0];
    T* yr = y + off[1];
    double m, s;
    row_max_sumexp<DT>(xr, len, sx, lane, m, s);
    if constexpr (LOG) {
      const double ls = log(s);
      for (int64_t k = lane; k < len; k += 32) yr[k * sy] = static_cast<T>(static_cast<double>(xr[k * sx]) - m - ls);
    } else {
      for (int64_t k = lane; k < len; k += 32) yr[k * sy] = static_cast<T>(exp_of<DT>(static_cast<double>(xr[k * sx]) - m) / s);
    }
  }
}

constexpr int kWarpsPerBlock = kBlock / 32;

// ------------------------------------------------------------------ sort
//
// Every line along the dim at once, by a bitonic network over (key, index) pairs padded to a
// power of two P per line: log2(P) * (log2(P) + 1) / 2 launches of rows * P / 2 compare-swaps.
// Comparing the index when keys are equal makes the order total, so the network (not stable by
// itself) gives the stable order. Keys are doubles: every dtype's values convert exactly.

#define DL_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); i += static_cast<int64_t>(gridDim.x) * blockDim.x)

/** Whether (ka, ia) comes after (kb, ib): padding (index -1) last, NaN above numbers, then the index. */
__device__ inline bool sort_after(double ka, int32_t ia, double kb, int32_t ib, bool desc) {
  if (ia < 0) return ib >= 0;
  if (ib < 0) return false;
  const bool na = ka != ka, nb = kb != kb;
  if (na != nb) return desc ? nb : na;
  if (!na && ka != kb) return desc ? ka < kb : ka > kb;
  return ia > ib;
}

template <int DT>
__global__ void __launch_bounds__(kBlock) sort_load(Iter<2> pos, int64_t len, int64_t sx, int64_t P,
                                                    const storage_t<DT>* x, double* key, int32_t* idx) {
  DL_GRID_STRIDE(t, pos.numel * P) {
    const int64_t row = t / P, j = t % P;
    if (j < len) {
      int64_t off[2];
      iter_offsets(pos, row, off);
      key[t] = static_cast<double>(x[off[0] + j * sx]);
      idx[t] = static_cast<int32_t>(j);
    } else {
      key[t] = 0;
      idx[t] = -1;
    }
  }
}

/** One stage of the network: partners i and i ^ j, in ascending runs where i & k is 0. */
__global__ void __launch_bounds__(kBlock) sort_step(int64_t total, int64_t P, int64_t k, int64_t j, bool desc,
                                                    double* key, int32_t* idx) {
  DL_GRID_STRIDE(t, total) {
    const int64_t i = t % P, l = i ^ j;
    if (l <= i) continue;
    const int64_t a = t, b = t - i + l;
    const bool up = (i & k) == 0;
    if (up ? sort_after(key[a], idx[a], key[b], idx[b], desc) : sort_after(key[b], idx[b], key[a], idx[a], desc)) {
      const double kt = key[a];
      key[a] = key[b];
      key[b] = kt;
      const int32_t it = idx[a];
      idx[a] = idx[b];
      idx[b] = it;
    }
  }
}

template <int DT>
__global__ void __launch_bounds__(kBlock) sort_store(Iter<2> pos, int64_t len, int64_t sy, int64_t P, const double* key,
                                                     const int32_t* idx, storage_t<DT>* values, int32_t* indices) {
  DL_GRID_STRIDE(t, pos.numel * len) {
    const int64_t row = t / len, j = t % len;
    int64_t off[2];
    iter_offsets(pos, row, off);
    values[off[1] + j * sy] = static_cast<storage_t<DT>>(key[row * P + j]);
    indices[off[1] + j * sy] = idx[row * P + j];
  }
}

/** One thread per line: floats summed in double, int32 in int64 and wrapped on the store. */
template <int DT>
__global__ void __launch_bounds__(kBlock) cumsum_kernel(Iter<2> pos, int64_t len, int64_t sx, int64_t sy,
                                                        const storage_t<DT>* x, storage_t<DT>* y) {
  using T = storage_t<DT>;
  DL_GRID_STRIDE(row, pos.numel) {
    int64_t off[2];
    iter_offsets(pos, row, off);
    if constexpr (DT == kInt32) {
      int64_t acc = 0;
      for (int64_t k = 0; k < len; k++) {
        acc += x[off[0] + k * sx];
        y[off[1] + k * sy] = static_cast<T>(static_cast<uint32_t>(acc));
      }
    } else {
      double acc = 0;
      for (int64_t k = 0; k < len; k++) {
        acc += static_cast<double>(x[off[0] + k * sx]);
        y[off[1] + k * sy] = static_cast<T>(acc);
      }
    }
  }
}

}  // namespace

void cumsum(const Ctx& c, const Tensor& x, const Tensor& y, int dim) {
  const Rows r = rows_of(x, y, dim);
  if (r.pos.numel == 0 || r.len == 0) return;
  DL_SWITCH_ALL("cumsum", DT, x.dtype, {
    cumsum_kernel<DT><<<blocks_for(r.pos.numel), kBlock, 0, c.stream>>>(r.pos, r.len, r.sx, r.sy, x.as<const storage_t<DT>>(),
                                                                        y.as<storage_t<DT>>());
  })
  DL_CUDA_CHECK_LAUNCH("cumsum_kernel");
}

void sort(const Ctx& c, const Tensor& x, const Tensor& values, const Tensor& indices, int dim, bool descending) {
  const Rows r = rows_of(x, values, dim);
  if (r.pos.numel == 0 || r.len == 0) return;
  int64_t P = 1;
  while (P < r.len) P <<= 1;
  const int64_t total = r.pos.numel * P;
  DeviceBuffer keys(static_cast<size_t>(total) * sizeof(double));
  DeviceBuffer idx(static_cast<size_t>(total) * sizeof(int32_t));
  double* kp = keys.as<double>();
  int32_t* ip = idx.as<int32_t>();
  DL_SWITCH_ALL("sort", DT, x.dtype, {
    sort_load<DT><<<blocks_for(total), kBlock, 0, c.stream>>>(r.pos, r.len, r.sx, P, x.as<const storage_t<DT>>(), kp, ip);
    DL_CUDA_CHECK_LAUNCH("sort_load");
    for (int64_t k = 2; k <= P; k <<= 1)
      for (int64_t j = k >> 1; j > 0; j >>= 1) {
        sort_step<<<blocks_for(total), kBlock, 0, c.stream>>>(total, P, k, j, descending, kp, ip);
        DL_CUDA_CHECK_LAUNCH("sort_step");
      }
    sort_store<DT><<<blocks_for(r.pos.numel * r.len), kBlock, 0, c.stream>>>(r.pos, r.len, r.sy, P, kp, ip,
                                                                               values.as<storage_t<DT>>(), indices.as<int32_t>());
    DL_CUDA_CHECK_LAUNCH("sort_store");
  })
}

void reduce(const Ctx& c, int op, const Tensor& x, const Tensor& y, uint32_t mask) {
  switch (op) {
    case kOp_sum: DL_SWITCH_ALL("sum", DT, x.dtype, run_reduce<kRSum, DT>(c, x, y, mask)) break;
    case kOp_prod: DL_SWITCH_ALL("prod", DT, x.dtype, run_reduce<kRProd, DT>(c, x, y, mask)) break;
    case kOp_max: DL_SWITCH_ALL("max", DT, x.dtype, run_reduce<kRMax, DT>(c, x, y, mask)) break;
    case kOp_min: DL_SWITCH_ALL("min", DT, x.dtype, run_reduce<kRMin, DT>(c, x, y, mask)) break;
    case kOp_all: DL_SWITCH_ALL("all", DT, x.dtype, run_reduce<kRAll, DT>(c, x, y, mask)) break;
    case kOp_any: DL_SWITCH_ALL("any", DT, x.dtype, run_reduce<kRAny, DT>(c, x, y, mask)) break;
    default: throw Error(std::string("reduce: ") + op_name(op) + " is not a reduction");
  }
}

void arg_reduce(const Ctx& c, bool is_max, const Tensor& x, const Tensor& y, int dim) {
  const Rows r = rows_of(x, y, dim);
  if (r.pos.numel == 0 || r.len == 0) return;
  const unsigned grid = blocks_for(r.pos.numel, kWarpsPerBlock);
  DL_SWITCH_ALL(is_max ? "argmax" : "argmin", DT, x.dtype, {
    if (is_max) arg_kernel<DT, true><<<grid, kBlock, 0, c.stream>>>(r.pos, r.len, r.sx, x.as<const storage_t<DT>>(), y.as<int32_t>());
    else arg_kernel<DT, false><<<grid, kBlock, 0, c.stream>>>(r.pos, r.len, r.sx, x.as<const storage_t<DT>>(), y.as<int32_t>());
  })
  DL_CUDA_CHECK_LAUNCH("arg_kernel");
}

void softmax(const Ctx& c, bool log, const Tensor& x, const Tensor& y, int dim) {
  const Rows r = rows_of(x, y, dim);
  if (r.pos.numel == 0 || r.len == 0) return;
  const unsigned grid = blocks_for(r.pos.numel, kWarpsPerBlock);
  DL_SWITCH_FLOAT(log ? "logSoftmax" : "softmax", DT, x.dtype, {
    using T = storage_t<DT>;
    if (log) softmax_kernel<DT, true><<<grid, kBlock, 0, c.stream>>>(r.pos, r.len, r.sx, r.sy, x.as<const T>(), y.as<T>());
    else softmax_kernel<DT, false><<<grid, kBlock, 0, c.stream>>>(r.pos, r.len, r.sx, r.sy, x.as<const T>(), y.as<T>());
  })
  DL_CUDA_CHECK_LAUNCH("softmax_kernel");
}

}  // namespace dl::cuda
