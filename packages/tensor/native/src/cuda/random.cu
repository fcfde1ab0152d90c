// philoxUniform / philoxNormal into a contiguous float32/float64 output. Element i uses word
// i % 4 of Philox4x32-10 at counter (offset + i / 4) (words 0-1 = its low and high 32 bits,
// words 2-3 = 0) and key (seedLo, seedHi), so a value depends only on the seed, the offset and i.
//
//  uniform: u = w * 2^-32 (float64) or (w >> 8) * 2^-24 (float32), in [0, 1);
//           y = low + (high - low) * u, computed in double; a float32 result that rounds up
//           to high is moved one step below it, so y stays in [low, high).
//  normal:  Box-Muller on the word pairs (0, 1) and (2, 3): u1 = (w_even + 1/2) * 2^-32 in
//           (0, 1), u2 = w_odd * 2^-32; r = sqrt(-2 ln u1); the even element takes
//           r cos(2 pi u2), the odd one r sin(2 pi u2); y = mean + std * z, in double.
#include "common.cuh"
#include "philox.cuh"

namespace dl::cuda {

namespace {

constexpr double kTwoM32 = 1.0 / 4294967296.0;

template <int DT, bool NORMAL>
__global__ void __launch_bounds__(kBlock) philox_kernel(storage_t<DT>* y, int64_t n, uint32_t k0, uint32_t k1,
                                                        uint64_t offset, double a, double b) {
  using T = storage_t<DT>;
  const int64_t groups = (n + 3) / 4;
  for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups;
       g += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint64_t ctr = offset + static_cast<uint64_t>(g);
    const Philox4 r = philox4x32_10(Philox4{{static_cast<uint32_t>(ctr), static_cast<uint32_t>(ctr >> 32), 0u, 0u}}, k0, k1);
    double z[4];
    if constexpr (NORMAL) {
#pragma unroll
      for (int p = 0; p < 4; p += 2) {
        const double u1 = (static_cast<double>(r.v[p]) + 0.5) * kTwoM32;
        const double u2 = static_cast<double>(r.v[p + 1]) * kTwoM32;
        const double rad = sqrt(-2.0 * log(u1));
        double s, c;
        sincospi(2.0 * u2, &s, &c);
        z[p] = a + b * (rad * c);
        z[p + 1] = a + b * (rad * s);
      }
    } else {
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const double u = DT == kFloat32 ? static_cast<double>(r.v[j] >> 8) * (1.0 / 16777216.0)
                                        : static_cast<double>(r.v[j]) * kTwoM32;
        z[j] = a + (b - a) * u;
      }
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int64_t i = 4 * g + j;
      if (i >= n) break;
      T v = static_cast<T>(z[j]);
      if constexpr (!NORMAL) {
        const T hi = static_cast<T>(b);
        if (a < b && v >= hi) {
          if constexpr (DT == kFloat32) v = nextafterf(hi, static_cast<float>(a));
          else v = nextafter(hi, a);
        }
      }
      y[i] = v;
    }
  }
}

}  // namespace

void philox(const Ctx& c, bool normal, const Tensor& y, uint32_t key0, uint32_t key1, uint64_t offset, double a,
            double b) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const unsigned grid = blocks_for((n + 3) / 4);
  DL_SWITCH_FLOAT(normal ? "philoxNormal" : "philoxUniform", DT, y.dtype, {
    using T = storage_t<DT>;
    if (normal) philox_kernel<DT, true><<<grid, kBlock, 0, c.stream>>>(y.as<T>(), n, key0, key1, offset, a, b);
    else philox_kernel<DT, false><<<grid, kBlock, 0, c.stream>>>(y.as<T>(), n, key0, key1, offset, a, b);
  })
  DL_CUDA_CHECK_LAUNCH("philox_kernel");
}

}  // namespace dl::cuda
