#include "norm.h"

#include <cmath>
#include <vector>

#include "thread_pool.h"

namespace dl {

namespace {
constexpr i64 kGrain = 1 << 14;  // elements per parallel chunk at least
}

template <typename T>
void layer_norm(i64 R, i64 C, double eps, const T* x, const T* w, const T* b, T* y, T* mean, T* rstd) {
  parallel_chunks(R, imax(1, kGrain / imax(1, C)), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const T* xr = x + r * C;
      double s = 0;
      for (i64 c = 0; c < C; c++) s += xr[c];
      const double m = s / static_cast<double>(C);
      double v = 0;
      for (i64 c = 0; c < C; c++) {
        const double d = xr[c] - m;
        v += d * d;
      }
      const double rs = 1 / std::sqrt(v / static_cast<double>(C) + eps);
      mean[r] = static_cast<T>(m);
      rstd[r] = static_cast<T>(rs);
      T* yr = y + r * C;
      for (i64 c = 0; c < C; c++) {
        double t = (xr[c] - m) * rs;
        if (w) t *= w[c];
        if (b) t += b[c];
        yr[c] = static_cast<T>(t);
      }
    }
  });
}

template <typename T>
void layer_norm_backward(i64 R, i64 C, const T* gy, const T* x, const T* mean, const T* rstd, const T* w, T* gx, T* gw,
                         T* gb) {
  const double n = static_cast<double>(C);
  parallel_chunks(R, imax(1, kGrain / imax(1, C)), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const T* gyr = gy + r * C;
      const T* xr = x + r * C;
      const double m = mean[r], rs = rstd[r];
      double sum_g = 0, sum_gx = 0;
      for (i64 c = 0; c < C; c++) {
        const double xhat = (xr[c] - m) * rs;
        const double g = w ? static_cast<double>(gyr[c]) * w[c] : static_cast<double>(gyr[c]);
        sum_g += g;
        sum_gx += g * xhat;
      }
      const double a = sum_g / n, bb = sum_gx / n;
      T* gxr = gx + r * C;
      for (i64 c = 0; c < C; c++) {
        const double xhat = (xr[c] - m) * rs;
        const double g = w ? static_cast<double>(gyr[c]) * w[c] : static_cast<double>(gyr[c]);
        gxr[c] = static_cast<T>(rs * (g - a - xhat * bb));
      }
    }
  });
  // Column sums over the rows in order, each thread a band of columns (rows outer, so the inner
  // loop runs along contiguous memory).
  parallel_chunks(C, imax(1, kGrain / imax(1, R)), [&](i64 c0, i64 c1) {
    std::vector<double> sw(static_cast<size_t>(c1 - c0), 0.0), sb(static_cast<size_t>(c1 - c0), 0.0);
    for (i64 r = 0; r < R; r++) {
      const T* gyr = gy + r * C;
      const T* xr = x + r * C;
      const double m = mean[r], rs = rstd[r];
      for (i64 c = c0; c < c1; c++) {
        sw[c - c0] += gyr[c] * ((xr[c] - m) * rs);
        sb[c - c0] += gyr[c];
      }
    }
    for (i64 c = c0; c < c1; c++) {
      gw[c] = static_cast<T>(sw[c - c0]);
      gb[c] = static_cast<T>(sb[c - c0]);
    }
  });
}

template void layer_norm<float>(i64, i64, double, const float*, const float*, const float*, float*, float*, float*);
template void layer_norm<double>(i64, i64, double, const double*, const double*, const double*, double*, double*, double*);
template void layer_norm_backward<float>(i64, i64, const float*, const float*, const float*, const float*, const float*, float*,
                                         float*, float*);
template void layer_norm_backward<double>(i64, i64, const double*, const double*, const double*, const double*, const double*,
                                          double*, double*, double*);

}  // namespace dl
