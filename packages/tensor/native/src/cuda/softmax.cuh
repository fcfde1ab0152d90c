// The max-subtracted row statistics behind softmax/logSoftmax (reduce.cu) and the fused
// cross-entropy (loss.cu), so both fold a row in the same order and get the same bits.
#pragma once

#include "common.cuh"

namespace dl::cuda {

/**
 * One warp's pass over a row of `len` elements at stride `sx` (lane `lane` takes elements
 * lane, lane+32, ...; every lane gets the results): m = the row's max (NaN if the row holds a
 * NaN), s = the sum of exp(x - m) in DT's exp precision, both by butterfly reductions.
 */
template <int DT>
__device__ __forceinline__ void row_max_sumexp(const storage_t<DT>* xr, int64_t len, int64_t sx, int lane, double& m,
                                               double& s) {
  m = -static_cast<double>(INFINITY);
  for (int64_t k = lane; k < len; k += 32) m = nan_max(m, static_cast<double>(xr[k * sx]));
  m = warp_allreduce(m, [](double a, double b) { return nan_max(a, b); });
  s = 0;
  for (int64_t k = lane; k < len; k += 32) s += exp_of<DT>(static_cast<double>(xr[k * sx]) - m);
  s = warp_allreduce(s, [](double a, double b) { return a + b; });
}

}  // namespace dl::cuda
