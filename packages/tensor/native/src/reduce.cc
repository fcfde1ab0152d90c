#include "reduce.h"

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "gemm.h"
#include "thread_pool.h"
#include "vec_math.h"

namespace dl {

namespace {

constexpr int kMaxDims = 16;

/**
 * Sum of n elements of x with stride s, returned in double. Contiguous float runs go in blocks
 * of 1024: 32 float accumulators over a block (each adds 32 numbers, so a block's rounding is
 * that of a pairwise sum), the block sums added in double. Float accumulators vectorise four or
 * eight to an instruction where converting each element to double does two, so this is about
 * 2.5 times faster and still more accurate than a float32 result can show.
 */
template <typename T>
double sum_run(const T* x, i64 n, i64 s) {
  i64 i = 0;
  double t = 0;
  if (s == 1) {
    if constexpr (std::is_same<T, float>::value) {
      constexpr int kBlock = 1024, kLanes = 32;
      for (; i + kBlock <= n; i += kBlock) {
        float acc[kLanes] = {};
        for (int k = 0; k < kBlock; k += kLanes)
          for (int j = 0; j < kLanes; j++) acc[j] += x[i + k + j];
        double b = 0;
        for (int j = 0; j < kLanes; j++) b += static_cast<double>(acc[j]);
        t += b;
      }
    }
    // Eight independent double accumulators: vectorises without reassociating.
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; j++) acc[j] += static_cast<double>(x[i + j]);
    t += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) t += static_cast<double>(x[i]);
    return t;
  }
  for (; i < n; i++) t += static_cast<double>(x[i * s]);
  return t;
}

}  // namespace

template <typename T>
void sum_reduce(int nd, const i64* shape, const T* x, const i64* xs, T* y, const i64* ys) {
  // Coalesce: drop size-1 dims, merge neighbours that step as one in both x and y.
  i64 sh[kMaxDims], sx[kMaxDims], sy[kMaxDims];
  int d = 0;
  for (int i = 0; i < nd; i++) {
    if (shape[i] == 0) return;  // empty: y is already zeros (fresh allocation)
    if (shape[i] == 1) continue;
    if (d > 0 && sx[d - 1] == xs[i] * shape[i] && sy[d - 1] == ys[i] * shape[i]) {
      sh[d - 1] *= shape[i];
      sx[d - 1] = xs[i];
      sy[d - 1] = ys[i];
      continue;
    }
    if (d == kMaxDims) return;  // caller guarantees nd <= kMaxDims
    sh[d] = shape[i];
    sx[d] = xs[i];
    sy[d] = ys[i];
    d++;
  }
  if (d == 0) {
    y[0] = x[0];
    return;
  }
  if (d == 1 && sy[0] == 0) {
    // A full reduction of one run: fixed 64 Ki-element parts (so the result does not depend on
    // the thread count), partial sums in double, added in order.
    ThreadPool& pool = ThreadPool::instance();
    const i64 n = sh[0];
    const i64 parts = imax(1, (n + (1 << 16) - 1) >> 16);
    std::vector<double> part(static_cast<std::size_t>(parts), 0.0);
    const i64 chunk = (n + parts - 1) / parts;
    pool.run(parts, pool.size(), [&](i64 t, int) {
      const i64 b = t * chunk, e = imin(n, b + chunk);
      if (b < e) part[t] = sum_run(x + b * sx[0], e - b, sx[0]);
    });
    double s = 0;
    for (double v : part) s += v;
    y[0] = static_cast<T>(s);
    return;
  }
  // Walk x in the coalesced order (odometer over dims 0..d-2, a run over d-1).
  // Output offsets go straight to y when the innermost dim is reduced (one double per output
  // row); otherwise accumulate into a double buffer laid out like y's offsets.
  i64 yMax = 0;
  for (int i = 0; i < d; i++) yMax += (sh[i] - 1) * (sy[i] < 0 ? 0 : sy[i]);
  std::vector<double> acc(static_cast<std::size_t>(yMax + 1), 0.0);
  const i64 n = sh[d - 1];
  const i64 rows = [&] {
    i64 r = 1;
    for (int i = 0; i + 1 < d; i++) r *= sh[i];
    return r;
  }();
  i64 idx[kMaxDims] = {0};
  i64 xo = 0, yo = 0;
  const i64 sxi = sx[d - 1], syi = sy[d - 1];
  for (i64 r = 0; r < rows; r++) {
    if (syi == 0) {
      acc[yo] += sum_run(x + xo, n, sxi);
    } else {
      const T* xr = x + xo;
      double* ar = acc.data() + yo;
      for (i64 i = 0; i < n; i++) ar[i * syi] += static_cast<double>(xr[i * sxi]);
    }
    for (int k = d - 2; k >= 0; k--) {
      xo += sx[k];
      yo += sy[k];
      if (++idx[k] < sh[k]) break;
      xo -= sx[k] * sh[k];
      yo -= sy[k] * sh[k];
      idx[k] = 0;
    }
  }
  // Copy the accumulators to y (y's offsets are exactly those touched).
  i64 oidx[kMaxDims] = {0};
  i64 o = 0;
  i64 total = 1;
  for (int i = 0; i < d; i++)
    if (sy[i] != 0) total *= sh[i];
  int kd[kMaxDims], nk = 0;
  for (int i = 0; i < d; i++)
    if (sy[i] != 0) kd[nk++] = i;
  for (i64 t = 0; t < total; t++) {
    y[o] = static_cast<T>(acc[o]);
    for (int k = nk - 1; k >= 0; k--) {
      const int dd = kd[k];
      o += sy[dd];
      if (++oidx[k] < sh[dd]) break;
      o -= sy[dd] * sh[dd];
      oidx[k] = 0;
    }
  }
}

namespace {

/**
 * Rows [b, e) of softmax (see below), W doubles at a time: along the row when inner == 1, else
 * across the inner positions, one step along the dim at a time. ws holds 2 inner + len inner
 * doubles for inner > 1 (the maxima, the sums, then the exp values), len for inner == 1; the
 * exp values go to y itself when T is double, and are not kept for logSoftmax.
 */
template <typename T, int W>
DL_INLINE void softmax_rows(bool log, i64 b, i64 e, i64 len, i64 inner, const T* x, T* y, double* ws) {
  using V = VecMath<W>;
  using D = typename V::D;
  for (i64 r = b; r < e; r++) {
    const T* xr = x + r * len * inner;
    T* yr = y + r * len * inner;
    double* er = nullptr;
    if (!log) {
      if constexpr (std::is_same<T, double>::value) er = yr;
      else er = inner == 1 ? ws : ws + 2 * inner;
    }
    if (inner == 1) {
      const double m = V::max_row(xr, 1, len);
      const double s = V::sum_exp_row(xr, 1, len, m, er);
      const D mv = V::splat(m), ls = V::splat(std::log(s)), sv = V::splat(s);
      for (i64 i = 0; i < len; i += W) {
        const i64 k = imin(W, len - i);
        V::store(yr + i, 1, log ? (V::load(xr + i, 1, k) - mv) - ls : V::load(er + i, 1, k) / sv, k);
      }
      continue;
    }
    double* mx = ws;
    double* sm = ws + inner;
    for (i64 j = 0; j < inner; j++) mx[j] = -std::numeric_limits<double>::infinity(), sm[j] = 0;
    for (i64 i = 0; i < len; i++)
      for (i64 j = 0; j < inner; j += W) {
        const i64 k = imin(W, inner - j);
        const D v = V::load(xr + i * inner + j, 1, k), m = V::load(mx + j, 1, k);
        V::store(mx + j, 1, (v > m) | (v != v) ? v : m, k);
      }
    for (i64 i = 0; i < len; i++)
      for (i64 j = 0; j < inner; j += W) {
        const i64 k = imin(W, inner - j);
        const D v = V::exp(V::load(xr + i * inner + j, 1, k) - V::load(mx + j, 1, k));
        if (er) V::store(er + i * inner + j, 1, v, k);
        V::store(sm + j, 1, V::load(sm + j, 1, k) + v, k);
      }
    if (log)
      for (i64 j = 0; j < inner; j++) sm[j] = std::log(sm[j]);
    for (i64 i = 0; i < len; i++)
      for (i64 j = 0; j < inner; j += W) {
        const i64 k = imin(W, inner - j);
        const D out = log ? (V::load(xr + i * inner + j, 1, k) - V::load(mx + j, 1, k)) - V::load(sm + j, 1, k)
                          : V::load(er + i * inner + j, 1, k) / V::load(sm + j, 1, k);
        V::store(yr + i * inner + j, 1, out, k);
      }
  }
}

template <typename T>
void softmax_rows_portable(bool log, i64 b, i64 e, i64 len, i64 inner, const T* x, T* y, double* ws) {
  softmax_rows<T, 2>(log, b, e, len, inner, x, y, ws);
}

#if defined(__x86_64__)
template <typename T>
__attribute__((target("avx2,fma"))) void softmax_rows_avx2(bool log, i64 b, i64 e, i64 len, i64 inner, const T* x,
                                                            T* y, double* ws) {
  softmax_rows<T, 4>(log, b, e, len, inner, x, y, ws);
}
#endif

}  // namespace

// Same arithmetic as the TypeScript kernel, in double: m = max (a NaN wins), s = sum exp(x - m)
// added in order along the dim, softmax = exp(x - m) / s, logSoftmax = x - m - log(s) (all -inf
// rows give NaN, as PyTorch). Each exp is computed once, by VecMath::exp (vec_math.h; within
// about 1 ulp of the C library's), W elements at a time: along the row when inner == 1, across
// the inner positions otherwise.
template <typename T>
void softmax(bool log, i64 outer, i64 len, i64 inner, const T* x, T* y) {
  if (outer * len * inner == 0) return;
  void (*rows)(bool, i64, i64, i64, i64, const T*, T*, double*) = softmax_rows_portable<T>;
#if defined(__x86_64__)
  if (kernels_use_avx2()) rows = softmax_rows_avx2<T>;
#endif
  const bool keep_exp = !log && !std::is_same<T, double>::value;
  const i64 ws = (inner == 1 ? 0 : 2 * inner) + (keep_exp ? len * inner : 0);
  parallel_chunks(outer, imax(1, 8192 / imax(1, len * inner)), [&](i64 b, i64 e) {
    std::vector<double> buf(static_cast<std::size_t>(ws));
    rows(log, b, e, len, inner, x, y, buf.data());
  });
}

template void sum_reduce<float>(int, const i64*, const float*, const i64*, float*, const i64*);
template void sum_reduce<double>(int, const i64*, const double*, const i64*, double*, const i64*);
template void softmax<float>(bool, i64, i64, i64, const float*, float*);
template void softmax<double>(bool, i64, i64, i64, const double*, double*);

}  // namespace dl
