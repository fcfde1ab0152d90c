// copy, cast and fill over any strides (the destination may be any view).
//
// Conversions are the CPU backend's typed-array stores (backend/cpu/movement.ts castInto):
// float to int32/uint8 truncates toward zero and wraps; NaN or +-Infinity to an integer dtype
// sets the device error flag (reported at the next synchronising call) and stores 0; anything
// to bool is x != 0 (NaN -> true); int/float to float32 rounds to nearest.
#include "common.cuh"

namespace dl::cuda {

namespace {

template <int SD, int DD>
__device__ inline storage_t<DD> convert_value(storage_t<SD> v, const ErrSite& site) {
  if constexpr (SD == DD) return v;
  else if constexpr (DD == kBool) return v != 0 ? 1 : 0;
  else if constexpr (is_float_dt(SD) && !is_float_dt(DD)) {
    const double d = static_cast<double>(v);
    if (!(d - d == 0)) {
      report(site, kErrNonFinite, d, 0, DD);
      return 0;
    }
    return from_double<DD>(d);
  } else if constexpr (DD == kUInt8) return static_cast<uint8_t>(v);  // int32 wraps, bool is 0/1
  else return static_cast<storage_t<DD>>(v);                         // to int32 or float: exact or rounded
}

template <int SD, int DD>
struct ConvertAt {
  const storage_t<SD>* src;
  storage_t<DD>* dst;
  ErrSite site;
  __device__ void operator()(const int64_t (&o)[2]) const { dst[o[0]] = convert_value<SD, DD>(src[o[1]], site); }
};

template <int DT>
struct FillAt {
  storage_t<DT>* y;
  storage_t<DT> value;
  __device__ void operator()(const int64_t (&o)[1]) const { y[o[0]] = value; }
};

}  // namespace

void convert(const Ctx& c, const Tensor& src, const Tensor& dst) {
  const Iter<2> it = make_iter<2>(dst.rank, dst.shape, {dst.strides, src.strides});
  DL_SWITCH_ALL("copy", SD, src.dtype,
                DL_SWITCH_ALL("copy", DD, dst.dtype,
                              launch_elementwise(c, it,
                                                 ConvertAt<SD, DD>{src.as<const storage_t<SD>>(),
                                                                   dst.as<storage_t<DD>>(), c.site})))
}

void fill(const Ctx& c, const Tensor& y, double value) {
  const Iter<1> it = make_iter<1>(y.rank, y.shape, {y.strides});
  DL_SWITCH_ALL("fill", DT, y.dtype,
                launch_elementwise(c, it, FillAt<DT>{y.as<storage_t<DT>>(), from_double<DT>(value)}))
}

}  // namespace dl::cuda
