// indexSelect, indexAdd, gather, scatter, scatterAdd along one dim (any dtype, int32 indices),
// as the CPU backend (backend/cpu/movement.ts). An index outside [0, size) sets the device error
// flag (reported at the next synchronising call) and that element is skipped (reads give 0).
//
// indexAdd and scatter/scatterAdd are deterministic without atomics: y = self is copied first,
// then one thread per position (every coordinate but `dim`) walks the index along `dim` in
// order, so duplicate indices accumulate (or, for scatter, overwrite: the last wins) in the
// CPU's order. Parallel over positions only: a 1-D scatterAdd runs on one thread.
#include "common.cuh"

namespace dl::cuda {

namespace {

/** Whether index k lies in [0, size); if not, sets the device error flag (kErrIndex, k, size) at `site`. */
__device__ __forceinline__ bool index_ok(const ErrSite& site, int64_t k, int64_t size) {
  if (k >= 0 && k < size) return true;
  report(site, kErrIndex, static_cast<double>(k), static_cast<double>(size), 0);
  return false;
}

/** a + b in the dtype's arithmetic: floats add, integers wrap, bool is or. */
template <int DT>
__device__ inline storage_t<DT> accumulate(storage_t<DT> a, storage_t<DT> b) {
  if constexpr (DT == kBool) return (a != 0 || b != 0) ? 1 : 0;
  else if constexpr (DT == kInt32) return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
  else return static_cast<storage_t<DT>>(a + b);
}

template <int DT>
struct IndexSelectAt {
  const storage_t<DT>* x;
  storage_t<DT>* y;
  const int32_t* index;
  int64_t si, sxd, size;
  ErrSite site;
  // o: y, x (dim stride 0), the coordinate along dim
  __device__ void operator()(const int64_t (&o)[3]) const {
    const int64_t k = index[o[2] * si];
    if (!index_ok(site, k, size)) {
      y[o[0]] = 0;
      return;
    }
    y[o[0]] = x[o[1] + k * sxd];
  }
};

template <int DT>
struct GatherAt {
  const storage_t<DT>* x;
  storage_t<DT>* y;
  const int32_t* index;
  int64_t sxd, size;
  ErrSite site;
  // o: y, index, x (dim stride 0)
  __device__ void operator()(const int64_t (&o)[3]) const {
    const int64_t k = index[o[1]];
    if (!index_ok(site, k, size)) {
      y[o[0]] = 0;
      return;
    }
    y[o[0]] = x[o[2] + k * sxd];
  }
};

template <int DT, bool ACC>
struct ScatterAt {
  const storage_t<DT>* src;
  storage_t<DT>* y;
  const int32_t* index;
  int64_t len, sid, ssd, syd, size;
  ErrSite site;
  // o: index, src, y (dim stride 0) at coordinate 0 along dim
  __device__ void operator()(const int64_t (&o)[3]) const {
    for (int64_t i = 0; i < len; i++) {
      const int64_t k = index[o[0] + i * sid];
      if (!index_ok(site, k, size)) continue;
      storage_t<DT>& dst = y[o[2] + k * syd];
      const storage_t<DT> v = src[o[1] + i * ssd];
      if constexpr (ACC) dst = accumulate<DT>(dst, v);
      else dst = v;
    }
  }
};

template <int DT>
struct IndexAddAt {
  const storage_t<DT>* source;
  storage_t<DT>* y;
  const int32_t* index;
  int64_t len, si, ssd, syd, size;
  ErrSite site;
  // o: source, y (dim stride 0) at coordinate 0 along dim
  __device__ void operator()(const int64_t (&o)[2]) const {
    for (int64_t i = 0; i < len; i++) {
      const int64_t k = index[i * si];
      if (!index_ok(site, k, size)) continue;
      storage_t<DT>& dst = y[o[1] + k * syd];
      dst = accumulate<DT>(dst, source[o[0] + i * ssd]);
    }
  }
};

/** `strides` with dim's entry zeroed. */
struct DimStrides {
  int64_t s[kMaxRank];
  DimStrides(const Tensor& t, int dim) {
    for (int d = 0; d < kMaxRank; d++) s[d] = d < t.rank && d != dim ? t.strides[d] : 0;
  }
};

/** `shape` with dim's size set to 1: the positions of a walk along dim. */
struct Positions {
  int64_t s[kMaxRank];
  Positions(const Tensor& t, int dim) {
    for (int d = 0; d < kMaxRank; d++) s[d] = d == dim ? 1 : d < t.rank ? t.shape[d] : 1;
  }
};

}  // namespace

void index_select(const Ctx& c, const Tensor& x, const Tensor& index, const Tensor& y, int dim) {
  const DimStrides xs(x, dim);
  int64_t unit[kMaxRank] = {};
  unit[dim] = 1;  // a pseudo operand whose offset is the coordinate along dim
  const Iter<3> it = make_iter<3>(y.rank, y.shape, {y.strides, xs.s, unit});
  DL_SWITCH_ALL("indexSelect", DT, x.dtype,
                launch_elementwise(c, it,
                                   IndexSelectAt<DT>{x.as<const storage_t<DT>>(), y.as<storage_t<DT>>(),
                                                     index.as<const int32_t>(), index.strides[0], x.strides[dim],
                                                     x.shape[dim], c.site}))
}

void gather(const Ctx& c, const Tensor& x, const Tensor& index, const Tensor& y, int dim) {
  const DimStrides xs(x, dim);
  const Iter<3> it = make_iter<3>(index.rank, index.shape, {y.strides, index.strides, xs.s});
  DL_SWITCH_ALL("gather", DT, x.dtype,
                launch_elementwise(c, it,
                                   GatherAt<DT>{x.as<const storage_t<DT>>(), y.as<storage_t<DT>>(),
                                                index.as<const int32_t>(), x.strides[dim], x.shape[dim], c.site}))
}

void scatter(const Ctx& c, bool accumulate, const Tensor& self, const Tensor& index, const Tensor& src,
             const Tensor& y, int dim) {
  convert(c, self, y);
  const Positions pos(index, dim);
  const DimStrides ys(y, dim);
  const Iter<3> it = make_iter<3>(index.rank, pos.s, {index.strides, src.strides, ys.s});
  const int64_t len = index.shape[dim];
  if (len == 0) return;
  DL_SWITCH_ALL(accumulate ? "scatterAdd" : "scatter", DT, y.dtype, {
    using T = storage_t<DT>;
    if (accumulate)
      launch_elementwise(c, it, ScatterAt<DT, true>{src.as<const T>(), y.as<T>(), index.as<const int32_t>(), len,
                                                    index.strides[dim], src.strides[dim], y.strides[dim], y.shape[dim], c.site});
    else
      launch_elementwise(c, it, ScatterAt<DT, false>{src.as<const T>(), y.as<T>(), index.as<const int32_t>(), len,
                                                     index.strides[dim], src.strides[dim], y.strides[dim], y.shape[dim], c.site});
  })
}

void index_add(const Ctx& c, const Tensor& self, const Tensor& index, const Tensor& source, const Tensor& y, int dim) {
  convert(c, self, y);
  const Positions pos(source, dim);
  const DimStrides ys(y, dim);
  const Iter<2> it = make_iter<2>(source.rank, pos.s, {source.strides, ys.s});
  const int64_t len = index.shape[0];
  if (len == 0) return;
  DL_SWITCH_ALL("indexAdd", DT, y.dtype, {
    using T = storage_t<DT>;
    launch_elementwise(c, it, IndexAddAt<DT>{source.as<const T>(), y.as<T>(), index.as<const int32_t>(), len,
                                             index.strides[0], source.strides[dim], y.strides[dim], y.shape[dim], c.site});
  })
}

}  // namespace dl::cuda
