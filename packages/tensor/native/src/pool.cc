#include "pool.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "thread_pool.h"

namespace dl {

namespace {

struct Windows {
  std::vector<i64> first, count;
};

// Output o covers taps start(o) + t * dil, t < k, start(o) = o * s - p; keep those in [0, size).
Windows clipped(i64 out, i64 size, i64 k, i64 s, i64 p, i64 dil) {
  Windows w;
  w.first.resize(static_cast<std::size_t>(out));
  w.count.resize(static_cast<std::size_t>(out));
  for (i64 o = 0; o < out; o++) {
    const i64 st = o * s - p;
    const i64 tLo = st >= 0 ? 0 : (-st + dil - 1) / dil;
    const i64 tHi = size - 1 - st < 0 ? 0 : imin(k, (size - 1 - st) / dil + 1);
    if (tHi > tLo) {
      w.first[o] = st + tLo * dil;
      w.count[o] = tHi - tLo;
    } else {
      w.first[o] = imin(imax(st, 0), size - 1);
      w.count[o] = 0;
    }
  }
  return w;
}

std::vector<double> avg_divisors(const PoolGeom& g, bool include_pad, double override_) {
  std::vector<double> div(static_cast<std::size_t>(g.oh * g.ow));
  for (i64 oy = 0; oy < g.oh; oy++) {
    const i64 hs = oy * g.sh - g.ph;
    const i64 heP = imin(hs + g.kh, g.H + g.ph);
    const i64 hCnt = imin(heP, g.H) - imax(hs, 0);
    for (i64 ox = 0; ox < g.ow; ox++) {
      const i64 ws = ox * g.sw - g.pw;
      const i64 weP = imin(ws + g.kw, g.W + g.pw);
      const i64 wCnt = imin(weP, g.W) - imax(ws, 0);
      double d;
      if (override_ > 0) d = override_;
      else if (include_pad) d = static_cast<double>((heP - hs) * (weP - ws));
      else d = static_cast<double>(hCnt * wCnt);
      div[oy * g.ow + ox] = d;
    }
  }
  return div;
}

constexpr i64 kPlaneGrain = 4096;  // elements per parallel chunk (roughly)

template <class F>
void for_planes(i64 planes, i64 per_plane, F&& f) {
  const i64 grain = imax(1, kPlaneGrain / imax(1, per_plane));
  parallel_chunks(planes, grain, [&](i64 b, i64 e) {
    for (i64 p = b; p < e; p++) f(p);
  });
}

}  // namespace

template <typename T>
void max_pool2d(const PoolGeom& g, const T* x, Strides4 xs, T* y, std::int32_t* ind) {
  const Windows hw = clipped(g.oh, g.H, g.kh, g.sh, g.ph, g.dh);
  const Windows ww = clipped(g.ow, g.W, g.kw, g.sw, g.pw, g.dw);
  const i64 out = g.oh * g.ow;
  const bool fast2 = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 &&
                     g.dw == 1 && xs.s3 == 1 && g.oh * 2 <= g.H && g.ow * 2 <= g.W;
  for_planes(g.N * g.C, g.H * g.W, [&](i64 plane) {
    const i64 n = plane / g.C, c = plane % g.C;
    const T* xb = x + n * xs.s0 + c * xs.s1;
    T* yp = y + plane * out;
    std::int32_t* ip = ind + plane * out;
    if (fast2) {
      // The ConvNet's 2x2 / stride 2 pool: every window is full.
      for (i64 oy = 0; oy < g.oh; oy++) {
        const T* r0 = xb + (2 * oy) * xs.s2;
        const T* r1 = r0 + xs.s2;
        const std::int32_t base = static_cast<std::int32_t>(2 * oy * g.W);
        for (i64 ox = 0; ox < g.ow; ox++) {
          const T v0 = r0[2 * ox], v1 = r0[2 * ox + 1], v2 = r1[2 * ox], v3 = r1[2 * ox + 1];
          T m = v0;
          std::int32_t a = base + static_cast<std::int32_t>(2 * ox);
          if (v1 > m || std::isnan(v1)) m = v1, a = base + static_cast<std::int32_t>(2 * ox + 1);
          if (v2 > m || std::isnan(v2)) m = v2, a = base + static_cast<std::int32_t>(g.W + 2 * ox);
          if (v3 > m || std::isnan(v3)) m = v3, a = base + static_cast<std::int32_t>(g.W + 2 * ox + 1);
          // Same order and test as the generic loop (which starts from -inf): a NaN wins, and
          // a later NaN replaces an earlier one.
          yp[oy * g.ow + ox] = m;
          ip[oy * g.ow + ox] = a;
        }
      }
      return;
    }
    for (i64 oy = 0; oy < g.oh; oy++) {
      const i64 h0 = hw.first[oy], nh = hw.count[oy];
      for (i64 ox = 0; ox < g.ow; ox++) {
        const i64 w0 = ww.first[ox], nw = ww.count[ox];
        T m = -std::numeric_limits<T>::infinity();
        i64 arg = h0 * g.W + w0;
        for (i64 a = 0; a < nh; a++) {
          const i64 h = h0 + a * g.dh;
          const T* row = xb + h * xs.s2;
          for (i64 b = 0; b < nw; b++) {
            const i64 w = w0 + b * g.dw;
            const T v = row[w * xs.s3];
            if (v > m || std::isnan(v)) {
              m = v;
              arg = h * g.W + w;
            }
          }
        }
        yp[oy * g.ow + ox] = m;
        ip[oy * g.ow + ox] = static_cast<std::int32_t>(arg);
      }
    }
  });
}

template <typename T>
void max_pool2d_backward(const PoolGeom& g, const T* gy, Strides4 gs, const std::int32_t* ind, Strides4 is, T* gx) {
  const i64 plane = g.H * g.W;
  for_planes(g.N * g.C, plane, [&](i64 p) {
    const i64 n = p / g.C, c = p % g.C;
    T* dst = gx + p * plane;
    std::memset(dst, 0, sizeof(T) * static_cast<std::size_t>(plane));
    const T* gb = gy + n * gs.s0 + c * gs.s1;
    const std::int32_t* ib = ind + n * is.s0 + c * is.s1;
    for (i64 oy = 0; oy < g.oh; oy++) {
      const T* gr = gb + oy * gs.s2;
      const std::int32_t* ir = ib + oy * is.s2;
      for (i64 ox = 0; ox < g.ow; ox++) dst[ir[ox * is.s3]] += gr[ox * gs.s3];
    }
  });
}

template <typename T>
void avg_pool2d(const PoolGeom& g, bool include_pad, double override_, const T* x, Strides4 xs, T* y) {
  const Windows hw = clipped(g.oh, g.H, g.kh, g.sh, g.ph, 1);
  const Windows ww = clipped(g.ow, g.W, g.kw, g.sw, g.pw, 1);
  const std::vector<double> div = avg_divisors(g, include_pad, override_);
  const i64 out = g.oh * g.ow;
  for_planes(g.N * g.C, g.H * g.W, [&](i64 p) {
    const i64 n = p / g.C, c = p % g.C;
    const T* xb = x + n * xs.s0 + c * xs.s1;
    T* yp = y + p * out;
    for (i64 oy = 0; oy < g.oh; oy++) {
      const i64 nh = hw.count[oy];
      for (i64 ox = 0; ox < g.ow; ox++) {
        const i64 nw = ww.count[ox];
        double s = 0.0;
        for (i64 a = 0; a < nh; a++) {
          const T* row = xb + (hw.first[oy] + a) * xs.s2 + ww.first[ox] * xs.s3;
          for (i64 b = 0; b < nw; b++) s += row[b * xs.s3];
        }
        yp[oy * g.ow + ox] = nh == 0 || nw == 0 ? T(0) : static_cast<T>(s / div[oy * g.ow + ox]);
      }
    }
  });
}

template <typename T>
void avg_pool2d_backward(const PoolGeom& g, bool include_pad, double override_, const T* gy, Strides4 gs, T* gx) {
  const Windows hw = clipped(g.oh, g.H, g.kh, g.sh, g.ph, 1);
  const Windows ww = clipped(g.ow, g.W, g.kw, g.sw, g.pw, 1);
  const std::vector<double> div = avg_divisors(g, include_pad, override_);
  const i64 plane = g.H * g.W;
  for_planes(g.N * g.C, plane, [&](i64 p) {
    const i64 n = p / g.C, c = p % g.C;
    T* dst = gx + p * plane;
    std::memset(dst, 0, sizeof(T) * static_cast<std::size_t>(plane));
    const T* gb = gy + n * gs.s0 + c * gs.s1;
    for (i64 oy = 0; oy < g.oh; oy++) {
      const i64 nh = hw.count[oy];
      for (i64 ox = 0; ox < g.ow; ox++) {
        const i64 nw = ww.count[ox];
        // As the TypeScript kernel: the quotient in double, accumulated in T.
        const T v = static_cast<T>(static_cast<double>(gb[oy * gs.s2 + ox * gs.s3]) / div[oy * g.ow + ox]);
        for (i64 a = 0; a < nh; a++) {
          T* row = dst + (hw.first[oy] + a) * g.W + ww.first[ox];
          for (i64 b = 0; b < nw; b++) row[b] += v;
        }
      }
    }
  });
}

template void max_pool2d<float>(const PoolGeom&, const float*, Strides4, float*, std::int32_t*);
template void max_pool2d<double>(const PoolGeom&, const double*, Strides4, double*, std::int32_t*);
template void max_pool2d_backward<float>(const PoolGeom&, const float*, Strides4, const std::int32_t*, Strides4, float*);
template void max_pool2d_backward<double>(const PoolGeom&, const double*, Strides4, const std::int32_t*, Strides4, double*);
template void avg_pool2d<float>(const PoolGeom&, bool, double, const float*, Strides4, float*);
template void avg_pool2d<double>(const PoolGeom&, bool, double, const double*, Strides4, double*);
template void avg_pool2d_backward<float>(const PoolGeom&, bool, double, const float*, Strides4, float*);
template void avg_pool2d_backward<double>(const PoolGeom&, bool, double, const double*, Strides4, double*);

}  // namespace dl
