#include "norm.h"

#include <algorithm>
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

namespace {
/**
 * Over a run of n: sum(a - k) and sum((a - k)^2), or with b: sum(b) and sum(b * (a - k)), in eight
 * double lanes each (term i in lane i % 8, the lanes added as ((0+1)+(2+3))+((4+5)+(6+7)), then
 * the last n % 8 terms in order): the order of runSums in src/backend/cpu/norm.ts. The lanes
 * vectorise without reassociating.
 */
template <typename T>
inline void run_sums(i64 n, const T* a, double k, const T* b, double& first, double& second) {
  double p[8] = {0, 0, 0, 0, 0, 0, 0, 0}, q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  i64 i = 0;
  if (b) {
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; j++) {
        const double g = b[i + j];
        p[j] += g;
        q[j] += g * (a[i + j] - k);
      }
  } else {
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; j++) {
        const double d = a[i + j] - k;
        p[j] += d;
        q[j] += d * d;
      }
  }
  double f = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  double s = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
  for (; i < n; i++) {
    const double d = a[i] - k;
    const double g = b ? static_cast<double>(b[i]) : d;
    f += g;
    s += g * d;
  }
  first = f;
  second = s;
}

/** Channels per parallel chunk: about kGrain numbers each. */
inline i64 channel_grain(i64 M) { return imax(1, kGrain / imax(1, M)); }
}  // namespace

template <typename T>
void batch_norm(i64 N, i64 C, i64 S, double eps, const T* x, const T* w, const T* b, T* y, T* mean, T* var) {
  const double M = static_cast<double>(N * S);
  parallel_chunks(C, channel_grain(N * S), [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; c++) {
      // One pass, shifted by the channel's first number (see batchNorm in src/backend/cpu/norm.ts).
      const double k = N * S == 0 ? 0.0 : static_cast<double>(x[c * S]);
      double s1 = 0, s2 = 0;
      for (i64 n = 0; n < N; n++) {
        double f, q;
        run_sums<T>(S, x + (n * C + c) * S, k, nullptr, f, q);
        s1 += f;
        s2 += q;
      }
      const double dm = s1 / M;
      const double m = k + dm;
      const double v = std::max(0.0, s2 / M - dm * dm);
      mean[c] = static_cast<T>(m);
      var[c] = static_cast<T>(v);
      const double rstd = 1 / std::sqrt(v + eps);
      const double scale = w ? rstd * w[c] : rstd;
      const double shift = b ? static_cast<double>(b[c]) : 0.0;
      for (i64 n = 0; n < N; n++) {
        const T* xr = x + (n * C + c) * S;
        T* yr = y + (n * C + c) * S;
        for (i64 i = 0; i < S; i++) yr[i] = static_cast<T>((xr[i] - m) * scale + shift);
      }
    }
  });
}

template <typename T>
void batch_norm_backward(i64 N, i64 C, i64 S, double eps, const T* gy, const T* x, const T* mean, const T* var, const T* w,
                         T* gx, T* gw, T* gb) {
  const double M = static_cast<double>(N * S);
  parallel_chunks(C, channel_grain(N * S), [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; c++) {
      const double m = mean[c];
      const double rstd = 1 / std::sqrt(var[c] + eps);
      double sg = 0, sgx = 0;
      for (i64 n = 0; n < N; n++) {
        double f, q;
        run_sums<T>(S, x + (n * C + c) * S, m, gy + (n * C + c) * S, f, q);
        sg += f;
        sgx += q;
      }
      const double gwc = rstd * sgx;
      gw[c] = static_cast<T>(gwc);
      gb[c] = static_cast<T>(sg);
      const double k = w ? w[c] * rstd : rstd;
      const double shift = (k * sg) / M;
      const double slope = (k * rstd * gwc) / M;
      for (i64 n = 0; n < N; n++) {
        const T* gyr = gy + (n * C + c) * S;
        const T* xr = x + (n * C + c) * S;
        T* gxr = gx + (n * C + c) * S;
        for (i64 i = 0; i < S; i++) gxr[i] = static_cast<T>(k * gyr[i] - shift - (xr[i] - m) * slope);
      }
    }
  });
}

template void layer_norm<float>(i64, i64, double, const float*, const float*, const float*, float*, float*, float*);
template void layer_norm<double>(i64, i64, double, const double*, const double*, const double*, double*, double*, double*);
template void layer_norm_backward<float>(i64, i64, const float*, const float*, const float*, const float*, const float*, float*,
                                         float*, float*);
template void layer_norm_backward<double>(i64, i64, const double*, const double*, const double*, const double*, const double*,
                                          double*, double*, double*);

template void batch_norm<float>(i64, i64, i64, double, const float*, const float*, const float*, float*, float*, float*);
template void batch_norm<double>(i64, i64, i64, double, const double*, const double*, const double*, double*, double*,
                                 double*);
template void batch_norm_backward<float>(i64, i64, i64, double, const float*, const float*, const float*, const float*,
                                         const float*, float*, float*, float*);
template void batch_norm_backward<double>(i64, i64, i64, double, const double*, const double*, const double*, const double*,
                                          const double*, double*, double*, double*);

}  // namespace dl
