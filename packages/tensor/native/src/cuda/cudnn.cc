// cuDNN through dlopen (cudnn.h): the legacy convolution API (cudnnConvolutionForward and the two
// backward passes), whose prototypes, enum values and the algorithm-result struct are declared
// here from cuDNN's documentation, so no header is needed to build.
//
// A plan per geometry and layout (descriptors, algorithm, workspace size) is made on first use
// and cached per device. The algorithm is the first of cuDNN's heuristic list (cudnnGet*_v7, no
// benchmarking) that succeeds, is deterministic and does not use tensor-op math (so fp32 stays
// fp32, as with cuBLAS here). A geometry cuDNN declines is remembered and left to conv.cu.
#include "cudnn.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime.h"

namespace dl::cuda {

namespace {

// The subset of cudnn_ops.h / cudnn_cnn.h the addon uses.
using cudnnHandle_t = void*;
using cudnnStatus_t = int;
using Desc = void*;
constexpr cudnnStatus_t CUDNN_STATUS_SUCCESS = 0;
constexpr int CUDNN_DATA_FLOAT = 0, CUDNN_DATA_DOUBLE = 1;
constexpr int CUDNN_TENSOR_NCHW = 0;
constexpr int CUDNN_CROSS_CORRELATION = 1;
constexpr int CUDNN_TENSOR_OP_MATH = 1, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2, CUDNN_FMA_MATH = 3;
constexpr int CUDNN_DETERMINISTIC = 1;
constexpr int kMinMajor = 8;  // CUDNN_FMA_MATH and the _v7 heuristics
constexpr int kMaxAlgos = 16;
constexpr size_t kMaxPlans = 512;
constexpr size_t kMaxWorkspace = size_t(1) << 30;

// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t share this layout.
struct AlgoPerf {
  int algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  int determinism;
  int math_type;
  int reserved[3];
};

using Heuristic = cudnnStatus_t (*)(cudnnHandle_t, Desc, Desc, Desc, Desc, int, int*, AlgoPerf*);
using Workspace = cudnnStatus_t (*)(cudnnHandle_t, Desc, Desc, Desc, Desc, int, size_t*);
using Run = cudnnStatus_t (*)(cudnnHandle_t, const void*, Desc, const void*, Desc, const void*, Desc, int, void*, size_t,
                              const void*, Desc, void*);

struct Api {
  size_t (*get_version)();
  const char* (*error_string)(cudnnStatus_t);
  cudnnStatus_t (*create)(cudnnHandle_t*);
  cudnnStatus_t (*destroy)(cudnnHandle_t);
  cudnnStatus_t (*set_stream)(cudnnHandle_t, cudaStream_t);
  cudnnStatus_t (*create_tensor)(Desc*);
  cudnnStatus_t (*destroy_tensor)(Desc);
  cudnnStatus_t (*set_tensor)(Desc, int, int, int, int, int, int, int, int, int);  // cudnnSetTensor4dDescriptorEx
  cudnnStatus_t (*create_filter)(Desc*);
  cudnnStatus_t (*destroy_filter)(Desc);
  cudnnStatus_t (*set_filter)(Desc, int, int, int, int, int, int);  // dtype, format, k, c, h, w
  cudnnStatus_t (*create_conv)(Desc*);
  cudnnStatus_t (*destroy_conv)(Desc);
  cudnnStatus_t (*set_conv)(Desc, int, int, int, int, int, int, int, int);  // pads, strides, dilations, mode, compute
  cudnnStatus_t (*set_groups)(Desc, int);
  cudnnStatus_t (*set_math)(Desc, int);
  cudnnStatus_t (*output_dim)(Desc, Desc, Desc, int*, int*, int*, int*);
  // Per pass, the descriptors in cuDNN's order: forward (x, w, conv, y), backward data
  // (w, dy, conv, dx), backward filter (x, dy, conv, dw).
  Heuristic heuristic[3];
  Workspace workspace[3];
  Run run[3];
};

const char* const kRunNames[3] = {"cudnnConvolutionForward", "cudnnConvolutionBackwardData",
                                  "cudnnConvolutionBackwardFilter"};

using Library = Loaded<Api>;

std::mutex g_mutex;

std::vector<std::string> candidates() {
  const std::vector<std::string> names = {"libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"};
  std::vector<std::string> out;
  const char* dir = std::getenv("DL_CUDNN_PATH");
  if (dir && *dir) {
    const std::string d(dir);
    if (d.find(".so") != std::string::npos) return {d};  // the library file itself
    for (const auto& n : names) out.push_back(d + "/" + n);
  }
  for (const auto& c : toolkit_candidates(names)) out.push_back(c);
  return out;
}

void load(Library& l) {
  const char* off = std::getenv("DL_CUDNN");
  if (off && std::string(off) == "0") {
    l.info.error = "turned off by DL_CUDNN=0 (conv2d uses the built-in kernels)";
    return;
  }
  Api& a = l.api;
  void* lib = open_first(candidates(),
                         [&](void* h) {
                           std::string m;
                           a = Api{};
                           bind_symbol(h, "cudnnGetVersion", a.get_version, m);
                           bind_symbol(h, "cudnnGetErrorString", a.error_string, m);
                           bind_symbol(h, "cudnnCreate", a.create, m);
                           bind_symbol(h, "cudnnDestroy", a.destroy, m);
                           bind_symbol(h, "cudnnSetStream", a.set_stream, m);
                           bind_symbol(h, "cudnnCreateTensorDescriptor", a.create_tensor, m);
                           bind_symbol(h, "cudnnDestroyTensorDescriptor", a.destroy_tensor, m);
                           bind_symbol(h, "cudnnSetTensor4dDescriptorEx", a.set_tensor, m);
                           bind_symbol(h, "cudnnCreateFilterDescriptor", a.create_filter, m);
                           bind_symbol(h, "cudnnDestroyFilterDescriptor", a.destroy_filter, m);
                           bind_symbol(h, "cudnnSetFilter4dDescriptor", a.set_filter, m);
                           bind_symbol(h, "cudnnCreateConvolutionDescriptor", a.create_conv, m);
                           bind_symbol(h, "cudnnDestroyConvolutionDescriptor", a.destroy_conv, m);
                           bind_symbol(h, "cudnnSetConvolution2dDescriptor", a.set_conv, m);
                           bind_symbol(h, "cudnnSetConvolutionGroupCount", a.set_groups, m);
                           bind_symbol(h, "cudnnSetConvolutionMathType", a.set_math, m);
                           bind_symbol(h, "cudnnGetConvolution2dForwardOutputDim", a.output_dim, m);
                           bind_symbol(h, "cudnnGetConvolutionForwardAlgorithm_v7", a.heuristic[0], m);
                           bind_symbol(h, "cudnnGetConvolutionBackwardDataAlgorithm_v7", a.heuristic[1], m);
                           bind_symbol(h, "cudnnGetConvolutionBackwardFilterAlgorithm_v7", a.heuristic[2], m);
                           bind_symbol(h, "cudnnGetConvolutionForwardWorkspaceSize", a.workspace[0], m);
                           bind_symbol(h, "cudnnGetConvolutionBackwardDataWorkspaceSize", a.workspace[1], m);
                           bind_symbol(h, "cudnnGetConvolutionBackwardFilterWorkspaceSize", a.workspace[2], m);
                           bind_symbol(h, kRunNames[0], a.run[0], m);
                           bind_symbol(h, kRunNames[1], a.run[1], m);
                           bind_symbol(h, kRunNames[2], a.run[2], m);
                           return m;
                         },
                         l.info);
  if (!lib) {
    l.api = Api{};
    l.info.error = "cuDNN not found (conv2d uses the built-in kernels): " + l.info.error;
    return;
  }
  // CUDNN_VERSION: major*1000 + minor*100 + patch up to 8.x, major*10000 + minor*100 + patch from 9.
  const size_t v = a.get_version();
  const int major = static_cast<int>(v >= 90000 ? v / 10000 : v / 1000);
  const int minor = static_cast<int>(v >= 90000 ? v / 100 % 100 : v / 100 % 10);
  l.info.version = major * 10000 + minor * 100 + static_cast<int>(v % 100);
  if (major < kMinMajor) {
    l.info.found = false;
    l.info.error = l.info.path + " is cuDNN " + std::to_string(major) + "." + std::to_string(minor) + "; cuDNN " +
                   std::to_string(kMinMajor) + " or newer is needed (conv2d uses the built-in kernels)";
    l.api = Api{};
  }
}

Library& library() { return load_once<Api>(load); }

std::string status_text(cudnnStatus_t s) {
  const char* e = library().api.error_string ? library().api.error_string(s) : nullptr;
  return std::string(e ? e : "CUDNN_STATUS_(unknown)") + " (" + std::to_string(s) + ")";
}

struct Plan {
  bool ok = false;
  bool ran = false;  // has run once: a failure after that is an error, not a declined case
  Desc x = nullptr, y = nullptr, w = nullptr, conv = nullptr;
  int algo = 0;
  size_t workspace = 0;
};

struct Context {
  cudnnHandle_t handle;
  std::map<std::vector<int64_t>, Plan> plans;
};

void release(const Api& a, Plan& p) {
  if (p.x) a.destroy_tensor(p.x);
  if (p.y) a.destroy_tensor(p.y);
  if (p.w) a.destroy_filter(p.w);
  if (p.conv) a.destroy_conv(p.conv);
  p = Plan{};
}

bool fits_int(int64_t v) { return v >= 0 && v <= 0x7fffffff; }

/**
 * t, or a packed copy of it (kept alive by `hold`) when it has a zero stride: an expanded
 * gradient, such as sum()'s backward gives, has no cuDNN descriptor, and one copy costs less than
 * leaving the pass to conv.cu's GEMMs.
 */
Tensor packed_if_expanded(const Ctx& c, const Tensor& t, std::unique_ptr<DeviceBuffer>& hold) {
  bool expanded = false;
  for (int d = 0; d < t.rank; d++) expanded = expanded || (t.shape[d] > 1 && t.strides[d] == 0);
  if (!expanded) return t;
  hold = std::make_unique<DeviceBuffer>(static_cast<size_t>(t.numel() * dtype_size(t.dtype)));
  Tensor p = t;
  p.data = hold->as<char>();
  int64_t stride = 1;
  for (int d = t.rank - 1; d >= 0; d--) {
    p.strides[d] = stride;
    stride *= t.shape[d];
  }
  convert(c, t, p);
  return p;
}

/** Strides for a cuDNN descriptor: size-1 dims get the packed value; false for zero or negative strides. */
bool descriptor_strides(const Tensor& t, int out[4]) {
  int64_t packed = 1;
  for (int d = 3; d >= 0; d--) {
    int64_t s = t.strides[d];
    if (t.shape[d] == 1) s = packed;
    if (s < 1 || !fits_int(s)) return false;
    out[d] = static_cast<int>(s);
    packed = s * t.shape[d];
  }
  return true;
}

bool packed(const Tensor& t) {
  int64_t expect = 1;
  for (int d = 3; d >= 0; d--) {
    if (t.shape[d] != 1 && t.strides[d] != expect) return false;
    expect *= t.shape[d];
  }
  return true;
}

Plan make_plan(cudnnHandle_t h, ConvPass pass, const ConvGeom& g, const Tensor& x, const Tensor& y) {
  const Api& a = library().api;
  Plan p;
  const int dt = x.dtype == kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  int xs[4], ys[4];
  if (!descriptor_strides(x, xs) || !descriptor_strides(y, ys)) return p;
  const int64_t dims[] = {g.N, g.C, g.H, g.W, g.O, g.C / g.G, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.G};
  for (int64_t d : dims)
    if (!fits_int(d)) return p;
  auto I = [](int64_t v) { return static_cast<int>(v); };
  bool ok = a.create_tensor(&p.x) == CUDNN_STATUS_SUCCESS && a.create_tensor(&p.y) == CUDNN_STATUS_SUCCESS &&
            a.create_filter(&p.w) == CUDNN_STATUS_SUCCESS && a.create_conv(&p.conv) == CUDNN_STATUS_SUCCESS &&
            a.set_tensor(p.x, dt, I(g.N), I(g.C), I(g.H), I(g.W), xs[0], xs[1], xs[2], xs[3]) == CUDNN_STATUS_SUCCESS &&
            a.set_tensor(p.y, dt, I(g.N), I(g.O), I(g.oh), I(g.ow), ys[0], ys[1], ys[2], ys[3]) == CUDNN_STATUS_SUCCESS &&
            a.set_filter(p.w, dt, CUDNN_TENSOR_NCHW, I(g.O), I(g.C / g.G), I(g.kh), I(g.kw)) == CUDNN_STATUS_SUCCESS &&
            a.set_conv(p.conv, I(g.ph), I(g.pw), I(g.sh), I(g.sw), I(g.dh), I(g.dw), CUDNN_CROSS_CORRELATION, dt) ==
                CUDNN_STATUS_SUCCESS &&
            a.set_groups(p.conv, I(g.G)) == CUDNN_STATUS_SUCCESS && a.set_math(p.conv, CUDNN_FMA_MATH) == CUDNN_STATUS_SUCCESS;
  int n = 0, c = 0, oh = 0, ow = 0;
  ok = ok && a.output_dim(p.conv, p.x, p.w, &n, &c, &oh, &ow) == CUDNN_STATUS_SUCCESS && n == g.N && c == g.O &&
       oh == g.oh && ow == g.ow;
  if (!ok) {
    release(a, p);
    return p;
  }
  const int k = static_cast<int>(pass);
  // cuDNN's order of descriptors for this pass (see Api).
  const Desc d0 = pass == ConvPass::kBackwardData ? p.w : p.x;
  const Desc d1 = pass == ConvPass::kForward ? p.w : p.y;
  const Desc d3 = pass == ConvPass::kForward ? p.y : pass == ConvPass::kBackwardData ? p.x : p.w;
  AlgoPerf perf[kMaxAlgos] = {};
  int returned = 0;
  if (a.heuristic[k](h, d0, d1, p.conv, d3, kMaxAlgos, &returned, perf) == CUDNN_STATUS_SUCCESS) {
    for (int i = 0; i < returned && i < kMaxAlgos; i++) {
      const AlgoPerf& r = perf[i];
      if (r.status != CUDNN_STATUS_SUCCESS || r.determinism != CUDNN_DETERMINISTIC ||
          r.math_type == CUDNN_TENSOR_OP_MATH || r.math_type == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
        continue;
      size_t ws = 0;
      if (a.workspace[k](h, d0, d1, p.conv, d3, r.algo, &ws) != CUDNN_STATUS_SUCCESS || ws > kMaxWorkspace) continue;
      p.ok = true;
      p.algo = r.algo;
      p.workspace = ws;
      return p;
    }
  }
  release(a, p);
  return p;
}

}  // namespace

LibraryInfo cudnn_info() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return library().snapshot();
}

void* cudnn_create(cudaStream_t stream, int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Library& l = library();
  if (!l.info.found) return nullptr;
  cudnnHandle_t h = nullptr;
  std::string failed;
  cudnnStatus_t s = l.api.create(&h);
  if (s != CUDNN_STATUS_SUCCESS) {
    failed = "cudnnCreate";
  } else if ((s = l.api.set_stream(h, stream)) != CUDNN_STATUS_SUCCESS) {
    failed = "cudnnSetStream";
  }
  if (failed.empty()) return new Context{h, {}};
  if (h) l.api.destroy(h);
  l.info.error = failed + " failed on device " + std::to_string(device) + ": " + status_text(s) +
                 " (conv2d uses the built-in kernels there)";
  return nullptr;
}

bool cudnn_conv(const Ctx& c, ConvPass pass, const ConvGeom& g, const Tensor& x_arg, const Tensor& w, const Tensor& y_arg,
                bool accumulate) {
  if (!c.cudnn || !packed(w)) return false;
  for (const Tensor* t : {&x_arg, &w, &y_arg})
    if (t->numel() == 0 || !fits_int(t->numel())) return false;
  // The pass's inputs (x forward, dy backward data, x and dy backward filter) as cuDNN can describe them.
  std::unique_ptr<DeviceBuffer> hold_x, hold_y;
  const Tensor x = pass == ConvPass::kBackwardData ? x_arg : packed_if_expanded(c, x_arg, hold_x);
  const Tensor y = pass == ConvPass::kForward ? y_arg : packed_if_expanded(c, y_arg, hold_y);
  for (const Tensor* t : {&x, &w, &y})
    if (reinterpret_cast<uintptr_t>(t->data) % 16 != 0) return false;
  auto* ctx = static_cast<Context*>(c.cudnn);
  Library& l = library();
  const Api& a = l.api;
  std::vector<int64_t> key = {static_cast<int64_t>(pass), x.dtype, g.N, g.C, g.H, g.W, g.O, g.G, g.kh, g.kw, g.oh,
                              g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw};
  for (const Tensor* t : {&x, &y})
    for (int d = 0; d < 4; d++) key.push_back(t->shape[d] == 1 ? 0 : t->strides[d]);
  auto it = ctx->plans.find(key);
  if (it == ctx->plans.end()) {
    if (ctx->plans.size() >= kMaxPlans) {
      for (auto& kv : ctx->plans) release(a, kv.second);
      ctx->plans.clear();
    }
    it = ctx->plans.emplace(key, make_plan(ctx->handle, pass, g, x, y)).first;
  }
  Plan& p = it->second;
  if (!p.ok) return false;
  std::unique_ptr<DeviceBuffer> ws;
  if (p.workspace > 0) ws = std::make_unique<DeviceBuffer>(p.workspace);
  void* wsp = ws ? ws->as<void>() : nullptr;
  const double one64 = 1, beta64 = accumulate ? 1 : 0;
  const float one32 = 1, beta32 = accumulate ? 1 : 0;
  const bool dbl = x.dtype == kFloat64;
  const void* alpha = dbl ? static_cast<const void*>(&one64) : &one32;
  const void* beta = dbl ? static_cast<const void*>(&beta64) : &beta32;
  const int k = static_cast<int>(pass);
  cudnnStatus_t s;
  if (pass == ConvPass::kForward)
    s = a.run[k](ctx->handle, alpha, p.x, x.data, p.w, w.data, p.conv, p.algo, wsp, p.workspace, beta, p.y, y.data);
  else if (pass == ConvPass::kBackwardData)
    s = a.run[k](ctx->handle, alpha, p.w, w.data, p.y, y.data, p.conv, p.algo, wsp, p.workspace, beta, p.x, x.data);
  else
    s = a.run[k](ctx->handle, alpha, p.x, x.data, p.y, y.data, p.conv, p.algo, wsp, p.workspace, beta, p.w, w.data);
  if (s != CUDNN_STATUS_SUCCESS) {
    const std::string what = std::string(kRunNames[k]) + " failed: " + status_text(s) + " (algorithm " +
                             std::to_string(p.algo) + ", N=" + std::to_string(g.N) + " C=" + std::to_string(g.C) + " " +
                             std::to_string(g.H) + "x" + std::to_string(g.W) + " O=" + std::to_string(g.O) + " kernel " +
                             std::to_string(g.kh) + "x" + std::to_string(g.kw) + ")";
    // A plan's first run that cuDNN refuses before doing anything (an unsupported or bad
    // parameter its heuristics did not foresee) leaves the case to conv.cu, and doctor shows it.
    const std::string text = status_text(s);
    if (!p.ran && (text.rfind("CUDNN_STATUS_NOT_SUPPORTED", 0) == 0 || text.rfind("CUDNN_STATUS_BAD_PARAM", 0) == 0)) {
      p.ok = false;
      l.info.error = what + "; that case runs on the built-in kernels";
      return false;
    }
    throw Error(what + " at cuda/cudnn.cc:" + std::to_string(__LINE__) + "; DL_CUDNN=0 runs conv2d on the built-in kernels");
  }
  p.ran = true;
  l.calls++;
  return true;
}

}  // namespace dl::cuda
