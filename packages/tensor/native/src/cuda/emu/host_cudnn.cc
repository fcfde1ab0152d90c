// A host stand-in for the part of cuDNN the addon calls (cuda/cudnn.cc: the legacy convolution
// API), for the emulated CUDA device only (its device memory is host memory): build.mjs makes it
// build/Emulated/libcudnn.so.9, and the emulated addon loads it when DL_CUDA_EMU_LIBS names that
// folder. Written from cuDNN's API reference:
// - the descriptors of a call must agree as documented (data types, NCHW filters, x's channels =
//   the filter's times the group count, y's size = cudnnGetConvolution2dForwardOutputDim), else
//   CUDNN_STATUS_BAD_PARAM;
// - y = alpha * op + beta * y, y not read when beta is 0; cross-correlation only;
// - the heuristics list a tensor-op algorithm and a non-deterministic one before the one the
//   addon must choose (algorithm 0: deterministic, FMA math, 4 KiB of workspace); running any
//   other, or with less workspace, is CUDNN_STATUS_NOT_SUPPORTED.
// Computes in double, on the stream set with cudnnSetStream (in order with the emulated kernels;
// descriptors, alpha and beta are read at the call); without a stream it refuses (the addon
// always sets one). Stands for cuDNN 9.1.0 (its status numbering).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stream.h"

namespace {

constexpr int kSuccess = 0, kBadParam = 2000, kNotSupported = 3000;
constexpr int kFloat = 0, kDouble = 1, kNCHW = 0, kCrossCorrelation = 1;
constexpr int kDefaultMath = 0, kTensorOpMath = 1, kFmaMath = 3, kNonDeterministic = 0, kDeterministic = 1;
constexpr size_t kWorkspace = 4096;

struct TensorDesc {
  int dt = -1, n = 0, c = 0, h = 0, w = 0, ns = 0, cs = 0, hs = 0, ws = 0;
  int64_t at(int in, int ic, int ih, int iw) const { return int64_t(in) * ns + int64_t(ic) * cs + int64_t(ih) * hs + int64_t(iw) * ws; }
};
struct FilterDesc {
  int dt = -1, format = -1, k = 0, c = 0, h = 0, w = 0;
  int64_t at(int ik, int ic, int ih, int iw) const { return ((int64_t(ik) * c + ic) * h + ih) * w + iw; }
};
struct ConvDesc {
  int ph = 0, pw = 0, u = 0, v = 0, dh = 0, dw = 0, mode = -1, compute = -1, groups = 1, math = kDefaultMath;
};
struct AlgoPerf {
  int algo;
  int status;
  float time;
  size_t memory;
  int determinism;
  int math_type;
  int reserved[3];
};

int out_size(int in, int pad, int k, int dil, int stride) { return 1 + (in + 2 * pad - ((k - 1) * dil + 1)) / stride; }

/** The documented agreement of one convolution's descriptors (x, w, conv, y). */
bool consistent(const TensorDesc& x, const FilterDesc& w, const ConvDesc& c, const TensorDesc& y) {
  if (x.dt < 0 || w.dt != x.dt || y.dt != x.dt || c.compute != x.dt || w.format != kNCHW || c.mode != kCrossCorrelation)
    return false;
  if (c.groups < 1 || x.c != w.c * c.groups || w.k % c.groups != 0 || c.u < 1 || c.v < 1 || c.dh < 1 || c.dw < 1)
    return false;
  return y.n == x.n && y.c == w.k && y.h == out_size(x.h, c.ph, w.h, c.dh, c.u) && y.w == out_size(x.w, c.pw, w.w, c.dw, c.v) &&
         y.h > 0 && y.w > 0;
}

enum Pass { kForward, kBackwardData, kBackwardFilter };

/** One pass in double: every (n, k, oh, ow, c, i, j) product, accumulated into the pass's output. */
template <typename T>
void convolve(Pass pass, double alpha, double beta, const TensorDesc& xd, T* x, const FilterDesc& wd, T* w,
              const ConvDesc& cd, const TensorDesc& yd, T* y) {
  const int kg = wd.k / cd.groups, cg = wd.c;
  std::vector<double> acc(pass == kForward ? size_t(yd.n) * yd.c * yd.h * yd.w
                          : pass == kBackwardData ? size_t(xd.n) * xd.c * xd.h * xd.w
                                                  : size_t(wd.k) * wd.c * wd.h * wd.w, 0.0);
  for (int n = 0; n < xd.n; n++)
    for (int k = 0; k < wd.k; k++)
      for (int oh = 0; oh < yd.h; oh++)
        for (int ow = 0; ow < yd.w; ow++)
          for (int c = 0; c < cg; c++)
            for (int i = 0; i < wd.h; i++)
              for (int j = 0; j < wd.w; j++) {
                const int ih = oh * cd.u - cd.ph + i * cd.dh, iw = ow * cd.v - cd.pw + j * cd.dw;
                if (ih < 0 || ih >= xd.h || iw < 0 || iw >= xd.w) continue;
                const int ic = (k / kg) * cg + c;
                if (pass == kForward)
                  acc[((size_t(n) * yd.c + k) * yd.h + oh) * yd.w + ow] += double(x[xd.at(n, ic, ih, iw)]) * w[wd.at(k, c, i, j)];
                else if (pass == kBackwardData)
                  acc[((size_t(n) * xd.c + ic) * xd.h + ih) * xd.w + iw] += double(y[yd.at(n, k, oh, ow)]) * w[wd.at(k, c, i, j)];
                else
                  acc[((size_t(k) * wd.c + c) * wd.h + i) * wd.w + j] += double(y[yd.at(n, k, oh, ow)]) * x[xd.at(n, ic, ih, iw)];
              }
  const auto store = [&](T& out, double v) { out = static_cast<T>(beta == 0 ? alpha * v : alpha * v + beta * double(out)); };
  size_t q = 0;
  if (pass == kForward) {
    for (int n = 0; n < yd.n; n++)
      for (int k = 0; k < yd.c; k++)
        for (int h = 0; h < yd.h; h++)
          for (int v = 0; v < yd.w; v++) store(y[yd.at(n, k, h, v)], acc[q++]);
  } else if (pass == kBackwardData) {
    for (int n = 0; n < xd.n; n++)
      for (int c = 0; c < xd.c; c++)
        for (int h = 0; h < xd.h; h++)
          for (int v = 0; v < xd.w; v++) store(x[xd.at(n, c, h, v)], acc[q++]);
  } else {
    for (size_t e = 0; e < acc.size(); e++) store(w[e], acc[e]);
  }
}

struct Handle {
  CUstream_st* stream = nullptr;
};

int run(void* handle, Pass pass, const void* alpha, const TensorDesc& x, void* xp, const FilterDesc& w, void* wp,
        const ConvDesc& c, int algo, void* workspace, size_t workspace_bytes, const void* beta, const TensorDesc& y, void* yp) {
  CUstream_st* stream = static_cast<Handle*>(handle)->stream;
  if (!stream || !consistent(x, w, c, y)) return kBadParam;
  if (algo != 0 || !workspace || workspace_bytes < kWorkspace) return kNotSupported;
  const bool f32 = x.dt == kFloat;
  const double al = f32 ? *static_cast<const float*>(alpha) : *static_cast<const double*>(alpha);
  const double be = f32 ? *static_cast<const float*>(beta) : *static_cast<const double*>(beta);
  dl_emu::enqueue_on(stream, [=] {
    for (size_t i = 0; i < kWorkspace; i++) static_cast<unsigned char*>(workspace)[i] = 0x5A;  // it must be writable memory
    if (f32)
      convolve(pass, al, be, x, static_cast<float*>(xp), w, static_cast<float*>(wp), c, y, static_cast<float*>(yp));
    else
      convolve(pass, al, be, x, static_cast<double*>(xp), w, static_cast<double*>(wp), c, y, static_cast<double*>(yp));
  });
  return kSuccess;
}

int heuristics(const TensorDesc& x, const FilterDesc& w, const ConvDesc& c, const TensorDesc& y, int requested,
               int* returned, AlgoPerf* perf) {
  if (!consistent(x, w, c, y) || requested < 1) return kBadParam;
  const AlgoPerf list[] = {
      {2, kSuccess, 0.1f, 0, kDeterministic, kTensorOpMath, {}},
      {1, kSuccess, 0.2f, 0, kNonDeterministic, kDefaultMath, {}},
      {0, kSuccess, 0.3f, kWorkspace, kDeterministic, kFmaMath, {}},
  };
  *returned = requested < 3 ? requested : 3;
  for (int i = 0; i < *returned; i++) perf[i] = list[i];
  return kSuccess;
}

int workspace_size(const TensorDesc& x, const FilterDesc& w, const ConvDesc& c, const TensorDesc& y, int algo, size_t* bytes) {
  if (!consistent(x, w, c, y) || algo < 0 || algo > 2) return kBadParam;
  *bytes = algo == 0 ? kWorkspace : 0;
  return kSuccess;
}

template <typename D>
D& desc(void* p) {
  return *static_cast<D*>(p);
}

}  // namespace

#define API extern "C" __attribute__((visibility("default")))

/** Marks a host stand-in: the emulated device refuses any library without it. */
API int dl_emu_host_library = 1;

API size_t cudnnGetVersion() { return 90100; }
API const char* cudnnGetErrorString(int status) {
  switch (status) {
    case kSuccess: return "CUDNN_STATUS_SUCCESS";
    case kBadParam: return "CUDNN_STATUS_BAD_PARAM";
    case kNotSupported: return "CUDNN_STATUS_NOT_SUPPORTED";
    default: return "CUDNN_STATUS_UNKNOWN";
  }
}
API int cudnnCreate(void** handle) {
  *handle = new Handle();
  return kSuccess;
}
API int cudnnDestroy(void* handle) {
  delete static_cast<Handle*>(handle);
  return kSuccess;
}
API int cudnnSetStream(void* handle, CUstream_st* stream) {
  static_cast<Handle*>(handle)->stream = stream;
  return kSuccess;
}
API int cudnnCreateTensorDescriptor(void** d) {
  *d = new TensorDesc();
  return kSuccess;
}
API int cudnnDestroyTensorDescriptor(void* d) {
  delete static_cast<TensorDesc*>(d);
  return kSuccess;
}
API int cudnnSetTensor4dDescriptorEx(void* d, int dt, int n, int c, int h, int w, int ns, int cs, int hs, int ws) {
  if ((dt != kFloat && dt != kDouble) || n < 1 || c < 1 || h < 1 || w < 1 || ns < 1 || cs < 1 || hs < 1 || ws < 1) return kBadParam;
  desc<TensorDesc>(d) = TensorDesc{dt, n, c, h, w, ns, cs, hs, ws};
  return kSuccess;
}
API int cudnnCreateFilterDescriptor(void** d) {
  *d = new FilterDesc();
  return kSuccess;
}
API int cudnnDestroyFilterDescriptor(void* d) {
  delete static_cast<FilterDesc*>(d);
  return kSuccess;
}
API int cudnnSetFilter4dDescriptor(void* d, int dt, int format, int k, int c, int h, int w) {
  if ((dt != kFloat && dt != kDouble) || k < 1 || c < 1 || h < 1 || w < 1) return kBadParam;
  desc<FilterDesc>(d) = FilterDesc{dt, format, k, c, h, w};
  return kSuccess;
}
API int cudnnCreateConvolutionDescriptor(void** d) {
  *d = new ConvDesc();
  return kSuccess;
}
API int cudnnDestroyConvolutionDescriptor(void* d) {
  delete static_cast<ConvDesc*>(d);
  return kSuccess;
}
API int cudnnSetConvolution2dDescriptor(void* d, int ph, int pw, int u, int v, int dh, int dw, int mode, int compute) {
  if (ph < 0 || pw < 0 || u < 1 || v < 1 || dh < 1 || dw < 1) return kBadParam;
  ConvDesc& c = desc<ConvDesc>(d);
  c = ConvDesc{ph, pw, u, v, dh, dw, mode, compute, c.groups, c.math};
  return kSuccess;
}
API int cudnnSetConvolutionGroupCount(void* d, int groups) {
  if (groups < 1) return kBadParam;
  desc<ConvDesc>(d).groups = groups;
  return kSuccess;
}
API int cudnnSetConvolutionMathType(void* d, int math) {
  desc<ConvDesc>(d).math = math;
  return kSuccess;
}
API int cudnnGetConvolution2dForwardOutputDim(void* conv, void* x, void* w, int* n, int* c, int* h, int* wo) {
  const ConvDesc& cd = desc<ConvDesc>(conv);
  const TensorDesc& xd = desc<TensorDesc>(x);
  const FilterDesc& wd = desc<FilterDesc>(w);
  if (xd.c != wd.c * cd.groups) return kBadParam;
  *n = xd.n;
  *c = wd.k;
  *h = out_size(xd.h, cd.ph, wd.h, cd.dh, cd.u);
  *wo = out_size(xd.w, cd.pw, wd.w, cd.dw, cd.v);
  return kSuccess;
}
// The three passes, each with its descriptors in cuDNN's order: forward (x, w, conv, y),
// backward data (w, dy, conv, dx), backward filter (x, dy, conv, dw).
API int cudnnGetConvolutionForwardAlgorithm_v7(void*, void* x, void* w, void* c, void* y, int req, int* ret, AlgoPerf* p) {
  return heuristics(desc<TensorDesc>(x), desc<FilterDesc>(w), desc<ConvDesc>(c), desc<TensorDesc>(y), req, ret, p);
}
API int cudnnGetConvolutionBackwardDataAlgorithm_v7(void*, void* w, void* dy, void* c, void* dx, int req, int* ret, AlgoPerf* p) {
  return heuristics(desc<TensorDesc>(dx), desc<FilterDesc>(w), desc<ConvDesc>(c), desc<TensorDesc>(dy), req, ret, p);
}
API int cudnnGetConvolutionBackwardFilterAlgorithm_v7(void*, void* x, void* dy, void* c, void* dw, int req, int* ret, AlgoPerf* p) {
  return heuristics(desc<TensorDesc>(x), desc<FilterDesc>(dw), desc<ConvDesc>(c), desc<TensorDesc>(dy), req, ret, p);
}
API int cudnnGetConvolutionForwardWorkspaceSize(void*, void* x, void* w, void* c, void* y, int algo, size_t* bytes) {
  return workspace_size(desc<TensorDesc>(x), desc<FilterDesc>(w), desc<ConvDesc>(c), desc<TensorDesc>(y), algo, bytes);
}
API int cudnnGetConvolutionBackwardDataWorkspaceSize(void*, void* w, void* dy, void* c, void* dx, int algo, size_t* bytes) {
  return workspace_size(desc<TensorDesc>(dx), desc<FilterDesc>(w), desc<ConvDesc>(c), desc<TensorDesc>(dy), algo, bytes);
}
API int cudnnGetConvolutionBackwardFilterWorkspaceSize(void*, void* x, void* dy, void* c, void* dw, int algo, size_t* bytes) {
  return workspace_size(desc<TensorDesc>(x), desc<FilterDesc>(dw), desc<ConvDesc>(c), desc<TensorDesc>(dy), algo, bytes);
}
API int cudnnConvolutionForward(void* h, const void* alpha, void* xd, const void* x, void* wd, const void* w, void* c,
                                int algo, void* ws, size_t wsb, const void* beta, void* yd, void* y) {
  return run(h, kForward, alpha, desc<TensorDesc>(xd), const_cast<void*>(x), desc<FilterDesc>(wd), const_cast<void*>(w),
             desc<ConvDesc>(c), algo, ws, wsb, beta, desc<TensorDesc>(yd), y);
}
API int cudnnConvolutionBackwardData(void* h, const void* alpha, void* wd, const void* w, void* dyd, const void* dy, void* c,
                                     int algo, void* ws, size_t wsb, const void* beta, void* dxd, void* dx) {
  return run(h, kBackwardData, alpha, desc<TensorDesc>(dxd), dx, desc<FilterDesc>(wd), const_cast<void*>(w), desc<ConvDesc>(c),
             algo, ws, wsb, beta, desc<TensorDesc>(dyd), const_cast<void*>(dy));
}
API int cudnnConvolutionBackwardFilter(void* h, const void* alpha, void* xd, const void* x, void* dyd, const void* dy, void* c,
                                       int algo, void* ws, size_t wsb, const void* beta, void* dwd, void* dw) {
  return run(h, kBackwardFilter, alpha, desc<TensorDesc>(xd), const_cast<void*>(x), desc<FilterDesc>(dwd), dw, desc<ConvDesc>(c),
             algo, ws, wsb, beta, desc<TensorDesc>(dyd), const_cast<void*>(dy));
}
