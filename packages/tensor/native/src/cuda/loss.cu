// Fused cross-entropy over dim 1 of x (N, C) and its gradient (KernelAttrs crossEntropy /
// crossEntropyBackward; the CPU version is backend/cpu/loss.ts). One warp per row, sums in
// double in a fixed butterfly order. A target outside [0, C) that is not ignoreIndex sets the
// device error flag (reported at the next synchronising call) and makes the row NaN.
#include "common.cuh"
#include "softmax.cuh"

namespace dl::cuda {

namespace {

struct CeArgs {
  int64_t N, C;
  int64_t sxn, sxc;  // x strides
  const int32_t* target;
  int64_t st;
  const void* weight;  // null without weight
  int64_t sw;
  int64_t ignore;
  double eps;
  ErrSite site;
};

/** logsumexp of row n (all lanes get it): max-subtracted; a NaN in the row gives NaN. */
template <int DT>
__device__ double row_lse(const storage_t<DT>* xr, int64_t C, int64_t sc, int lane) {
  double m, s;
  row_max_sumexp<DT>(xr, C, sc, lane, m, s);
  return m + log(s);
}

template <int DT>
__global__ void __launch_bounds__(kBlock) ce_forward(CeArgs a, const storage_t<DT>* x, storage_t<DT>* loss, int64_t sl,
                                                     storage_t<DT>* lse_out, int64_t sls) {
  using T = storage_t<DT>;
  const T* w = static_cast<const T*>(a.weight);
  const int lane = threadIdx.x & 31;
  for (int64_t n = warp_id(); n < a.N; n += warp_count()) {
    const T* xr = x + n * a.sxn;
    const double lse = row_lse<DT>(xr, a.C, a.sxc, lane);
    const int64_t t = a.target[n * a.st];
    double l = 0;
    if (t != a.ignore) {
      if (t < 0 || t >= a.C) {
        if (lane == 0) report(a.site, kErrTarget, static_cast<double>(t), static_cast<double>(a.C), static_cast<double>(a.ignore));
        l = static_cast<double>(NAN);
      } else {
        const double wt = w ? static_cast<double>(w[t * a.sw]) : 1.0;
        l = -(1 - a.eps) * wt * (static_cast<double>(xr[t * a.sxc]) - lse);
        if (a.eps > 0) {
          // Classes of weight 0 do not contribute (not even 0 * -Infinity).
          double s = 0;
          for (int64_t c = lane; c < a.C; c += 32) {
            const double wc = w ? static_cast<double>(w[c * a.sw]) : 1.0;
            if (wc != 0) s += wc * (static_cast<double>(xr[c * a.sxc]) - lse);
          }
          s = warp_allreduce(s, [](double p, double q) { return p + q; });
          l -= a.eps / static_cast<double>(a.C) * s;
        }
      }
    }
    if (lane == 0) {
      loss[n * sl] = static_cast<T>(l);
      lse_out[n * sls] = static_cast<T>(lse);
    }
  }
}

template <int DT>
__global__ void __launch_bounds__(kBlock) ce_backward(CeArgs a, const storage_t<DT>* gy, int64_t sg,
                                                      const storage_t<DT>* x, const storage_t<DT>* lse, int64_t sls,
                                                      storage_t<DT>* gx, int64_t sgn, int64_t sgc) {
  using T = storage_t<DT>;
  const T* w = static_cast<const T*>(a.weight);
  const int lane = threadIdx.x & 31;
  const double smooth = a.eps / static_cast<double>(a.C);
  for (int64_t n = warp_id(); n < a.N; n += warp_count()) {
    T* gr = gx + n * sgn;
    const int64_t t = a.target[n * a.st];
    if (t == a.ignore) {
      for (int64_t c = lane; c < a.C; c += 32) gr[c * sgc] = T(0);
      continue;
    }
    if (t < 0 || t >= a.C) {
      if (lane == 0) report(a.site, kErrTarget, static_cast<double>(t), static_cast<double>(a.C), static_cast<double>(a.ignore));
      for (int64_t c = lane; c < a.C; c += 32) gr[c * sgc] = static_cast<T>(NAN);
      continue;
    }
    // sum_c a_c = (1 - eps) * w[t] + (eps / C) * sum_c w[c]
    double wsum = static_cast<double>(a.C);
    if (w) {
      wsum = 0;
      for (int64_t c = lane; c < a.C; c += 32) wsum += static_cast<double>(w[c * a.sw]);
      wsum = warp_allreduce(wsum, [](double p, double q) { return p + q; });
    }
    const double g = static_cast<double>(gy[n * sg]);
    const double l = static_cast<double>(lse[n * sls]);
    const double hot = (1 - a.eps) * (w ? static_cast<double>(w[t * a.sw]) : 1.0);
    const double total = hot + smooth * wsum;
    const T* xr = x + n * a.sxn;
    for (int64_t c = lane; c < a.C; c += 32) {
      const double ac = smooth * (w ? static_cast<double>(w[c * a.sw]) : 1.0) + (c == t ? hot : 0.0);
      gr[c * sgc] = static_cast<T>(g * (total * exp_of<DT>(static_cast<double>(xr[c * a.sxc]) - l) - ac));
    }
  }
}

CeArgs ce_args(const Ctx& c, const Tensor& x, const Tensor& target, const Tensor* weight, int64_t ignore, double eps) {
  return CeArgs{x.shape[0],      x.shape[1], x.strides[0], x.strides[1], target.as<const int32_t>(), target.strides[0],
                weight ? weight->data : nullptr, weight ? weight->strides[0] : 0, ignore, eps, c.site};
}

constexpr int kWarpsPerBlock = kBlock / 32;

}  // namespace

void cross_entropy(const Ctx& c, const Tensor& x, const Tensor& target, const Tensor* weight, const Tensor& loss,
                   const Tensor& lse, int64_t ignore_index, double eps) {
  const CeArgs a = ce_args(c, x, target, weight, ignore_index, eps);
  if (a.N == 0) return;
  DL_SWITCH_FLOAT("crossEntropy", DT, x.dtype, {
    using T = storage_t<DT>;
    ce_forward<DT><<<blocks_for(a.N, kWarpsPerBlock), kBlock, 0, c.stream>>>(a, x.as<const T>(), loss.as<T>(), loss.strides[0],
                                                                             lse.as<T>(), lse.strides[0]);
  })
  DL_CUDA_CHECK_LAUNCH("ce_forward");
}

void cross_entropy_backward(const Ctx& c, const Tensor& gy, const Tensor& x, const Tensor& target,
                            const Tensor& lse, const Tensor* weight, const Tensor& gx, int64_t ignore_index,
                            double eps) {
  const CeArgs a = ce_args(c, x, target, weight, ignore_index, eps);
  if (a.N == 0 || a.C == 0) return;
  DL_SWITCH_FLOAT("crossEntropyBackward", DT, x.dtype, {
    using T = storage_t<DT>;
    ce_backward<DT><<<blocks_for(a.N, kWarpsPerBlock), kBlock, 0, c.stream>>>(
        a, gy.as<const T>(), gy.strides[0], x.as<const T>(), lse.as<const T>(), lse.strides[0], gx.as<T>(),
        gx.strides[0], gx.strides[1]);
  })
  DL_CUDA_CHECK_LAUNCH("ce_backward");
}

}  // namespace dl::cuda
