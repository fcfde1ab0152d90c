// The kernel families of the CUDA backend as plain C++ launch functions: what launch.cc (host
// compiler) calls and the *.cu files (nvcc) define. Every launcher enqueues its kernels on
// ctx.stream and returns without waiting; operands arrive validated (ranks, dtypes, shapes,
// extents inside their blocks), so the launchers only dispatch on dtype and plan the grid.
// No CUDA keywords in this header: it is compiled by both compilers.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cstdint>

namespace dl::cuda {

constexpr int kMaxRank = 8;

/** dtype codes = the index in DTYPES of src/dtype.ts. bool is stored as one byte, 0 or 1. */
enum DType : int { kBool = 0, kUInt8 = 1, kInt32 = 2, kFloat32 = 3, kFloat64 = 4, kDTypeCount = 5 };

inline int dtype_size(int dt) { return dt == kFloat64 ? 8 : dt == kInt32 || dt == kFloat32 ? 4 : 1; }
inline bool is_float(int dt) { return dt == kFloat32 || dt == kFloat64; }
inline const char* dtype_name(int dt) {
  switch (dt) {
    case kBool: return "bool";
    case kUInt8: return "uint8";
    case kInt32: return "int32";
    case kFloat32: return "float32";
    case kFloat64: return "float64";
    default: return "an unknown dtype";
  }
}

/**
 * The device error flag (one per device, in device memory): the first kernel that finds bad
 * data (an index out of range, a non-finite value cast to an integer) sets it; the next
 * synchronising call (download, synchronize) reports it as an Error and clears it.
 */
struct DeviceError {
  int flag;  // 0: none
  int op;    // launch code
  int kind;  // ErrorKind
  int unused;
  double value;  // the offending value
  double limit;  // kErrIndex / kErrTarget: the size it must stay below
  double extra;  // kErrTarget: ignoreIndex; kErrNonFinite: the target dtype code
};
enum ErrorKind : int { kErrIndex = 1, kErrTarget = 2, kErrNonFinite = 3 };

/** What a kernel needs to report a device error: the flag and its launch code. */
struct ErrSite {
  DeviceError* err;
  int op;
};

/**
 * Where and how a launcher enqueues work. `cublas` is the device's cuBLAS handle and `cudnn` its
 * cuDNN context (cudnn.h), each null when the library is missing.
 */
struct Ctx {
  cudaStream_t stream;
  ErrSite site;
  void* cublas;
  void* cudnn;
};

/** A strided operand. `data` is the address of element 0 of the view (buffer + offset). */
struct Tensor {
  char* data = nullptr;
  int dtype = 0;
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < rank; d++) n *= shape[d];
    return n;
  }
  template <typename T>
  T* as() const {
    return reinterpret_cast<T*>(data);
  }
};

/**
 * K operands walked together over one shape, as kernels take it (by value). Dims of size 1
 * are dropped and neighbouring dims merged wherever every operand steps through them as one
 * run, so most layouts become rank 1; `contiguous`: rank <= 1 with unit strides (element i
 * is at offset i in every operand). size/stride entries past nd are 1/0.
 */
template <int K>
struct Iter {
  int nd;
  bool contiguous;
  int64_t numel;
  int64_t size[kMaxRank];
  int64_t stride[K][kMaxRank];
};

template <int K>
Iter<K> make_iter(int rank, const int64_t* shape, const std::array<const int64_t*, K>& strides) {
  Iter<K> it{};
  it.numel = 1;
  for (int d = 0; d < rank; d++) it.numel *= shape[d];
  // Groups innermost first while scanning, stored outermost first.
  int64_t gs[kMaxRank];
  int64_t gst[K][kMaxRank];
  int ng = 0;
  for (int d = rank - 1; d >= 0; d--) {
    if (shape[d] == 1) continue;
    bool merge = ng > 0;
    for (int k = 0; k < K && merge; k++) merge = strides[k][d] == gst[k][ng - 1] * gs[ng - 1];
    if (merge) {
      gs[ng - 1] *= shape[d];
    } else {
      gs[ng] = shape[d];
      for (int k = 0; k < K; k++) gst[k][ng] = strides[k][d];
      ng++;
    }
  }
  it.nd = ng;
  for (int d = 0; d < kMaxRank; d++) {
    const bool used = d < ng;
    it.size[d] = used ? gs[ng - 1 - d] : 1;
    for (int k = 0; k < K; k++) it.stride[k][d] = used ? gst[k][ng - 1 - d] : 0;
  }
  it.contiguous = ng == 0;
  if (ng == 1) {
    it.contiguous = true;
    for (int k = 0; k < K; k++) it.contiguous = it.contiguous && it.stride[k][0] == 1;
  }
  return it;
}

// ------------------------------------------------------------------ launchers

// elementwise_unary.cu. op: kOp_neg .. kOp_logicalNot (ops.h); y of x's shape.
void unary(const Ctx& c, int op, const Tensor& x, const Tensor& y);
/** y = min(max(x, lo), hi) (NaN passes); an absent bound is -inf / +inf. */
void clamp(const Ctx& c, const Tensor& x, const Tensor& y, double lo, double hi);

// elementwise_binary.cu. op: kOp_add .. kOp_logicalOr.
void binary(const Ctx& c, int op, const Tensor& a, const Tensor& b, const Tensor& y);
void where(const Ctx& c, const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& y);

// copy.cu
/** dst = src converted to dst's dtype (copy and cast); any layouts of one shape. */
void convert(const Ctx& c, const Tensor& src, const Tensor& dst);
/** y[...] = value converted to y's dtype. */
void fill(const Ctx& c, const Tensor& y, double value);

// reduce.cu. op: kOp_sum .. kOp_any; bit d of mask set = dim d reduced; y in keepdim form.
void reduce(const Ctx& c, int op, const Tensor& x, const Tensor& y, uint32_t mask);
void arg_reduce(const Ctx& c, bool is_max, const Tensor& x, const Tensor& y, int dim);
void softmax(const Ctx& c, bool log, const Tensor& x, const Tensor& y, int dim);
// values and indices (int32) contiguous, x's shape: every line along dim sorted stably.
void sort(const Ctx& c, const Tensor& x, const Tensor& values, const Tensor& indices, int dim, bool descending);
// y x's shape and dtype (float or int32): running sums along dim, one thread per line.
void cumsum(const Ctx& c, const Tensor& x, const Tensor& y, int dim);

// loss.cu
void cross_entropy(const Ctx& c, const Tensor& x, const Tensor& target, const Tensor* weight, const Tensor& loss,
                   const Tensor& lse, int64_t ignore_index, double eps);
void cross_entropy_backward(const Ctx& c, const Tensor& gy, const Tensor& x, const Tensor& target,
                            const Tensor& lse, const Tensor* weight, const Tensor& gx, int64_t ignore_index,
                            double eps);

// norm.cu: x, y, gy, gx contiguous, R rows of C; weight and bias (C, null when absent), mean and
// rstd (R), gw and gb (C) contiguous.
void layer_norm(const Ctx& c, const Tensor& x, const Tensor* weight, const Tensor* bias, const Tensor& y,
                const Tensor& mean, const Tensor& rstd, int64_t R, int64_t C, double eps);
void layer_norm_backward(const Ctx& c, const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                         const Tensor* weight, const Tensor& gx, const Tensor& gw, const Tensor& gb, int64_t R,
                         int64_t C);
// norm.cu: x, y, gy, gx contiguous, seen as N x C x S (S = the product of x's dims after 1);
// weight and bias (C, null when absent), mean, var, gw and gb (C) contiguous.
void batch_norm(const Ctx& c, const Tensor& x, const Tensor* weight, const Tensor* bias, const Tensor& y,
                const Tensor& mean, const Tensor& var, int64_t N, int64_t C, int64_t S, double eps);
void batch_norm_backward(const Ctx& c, const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& var,
                         const Tensor* weight, const Tensor& gx, const Tensor& gw, const Tensor& gb, int64_t N,
                         int64_t C, int64_t S, double eps);

// gemm.cu: y (B, M, N) = a (B, M, K) @ b (B, K, N).
void matmul(const Ctx& c, const Tensor& a, const Tensor& b, const Tensor& y);

// conv.cu
struct ConvGeom {
  int64_t N, C, H, W, O, G, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
};
void conv2d(const Ctx& c, const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y);
void conv2d_backward_input(const Ctx& c, const ConvGeom& g, const Tensor& gy, const Tensor& w, const Tensor& gx);
void conv2d_backward_weight(const Ctx& c, const ConvGeom& g, const Tensor& gy, const Tensor& x, const Tensor& gw);

// pool.cu
struct PoolGeom {
  bool adaptive;  // windows [floor(o*H/oh), ceil((o+1)*H/oh)); the fields below are unused
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool count_include_pad;
  double divisor;  // NaN: none
};
void max_pool2d(const Ctx& c, const PoolGeom& g, const Tensor& x, const Tensor& y, const Tensor& indices);
void max_pool2d_backward(const Ctx& c, const Tensor& gy, const Tensor& indices, const Tensor& gx);
void avg_pool2d(const Ctx& c, const PoolGeom& g, const Tensor& x, const Tensor& y);
void avg_pool2d_backward(const Ctx& c, const PoolGeom& g, const Tensor& gy, const Tensor& gx);

// index.cu (rank >= 1 operands: launch.cc widens 0-d ones to shape [1])
void index_select(const Ctx& c, const Tensor& x, const Tensor& index, const Tensor& y, int dim);
void index_add(const Ctx& c, const Tensor& self, const Tensor& index, const Tensor& source, const Tensor& y, int dim);
void gather(const Ctx& c, const Tensor& x, const Tensor& index, const Tensor& y, int dim);
void scatter(const Ctx& c, bool accumulate, const Tensor& self, const Tensor& index, const Tensor& src,
             const Tensor& y, int dim);

// random.cu: y contiguous float; element i from Philox4x32-10 counter (offset + i / 4), key (key0, key1).
void philox(const Ctx& c, bool normal, const Tensor& y, uint32_t key0, uint32_t key1, uint64_t offset, double a,
            double b);

// optim.cu: one launch over a table of chunks (in device memory) covering every parameter.
constexpr int64_t kOptimChunk = 1 << 16;
struct SgdChunk {
  float* param;
  const float* grad;
  float* momentum;  // null without momentum
  int64_t n;
};
struct SgdHyper {
  float lr, momentum, one_minus_dampening, weight_decay;
  bool nesterov, maximize, first_step;
};
struct AdamChunk {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  float* max_exp_avg_sq;  // null unless amsgrad
  int64_t n;
};
struct AdamHyper {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay;
  float decay_factor;           // decoupled: 1 - lr * weight_decay
  float step_size;              // lr / (1 - beta1^step)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^step)
  bool decoupled, amsgrad, maximize;
};
void sgd_step(const Ctx& c, const SgdHyper& h, const SgdChunk* chunks, int64_t count);
void adam_step(const Ctx& c, const AdamHyper& h, const AdamChunk* chunks, int64_t count);

}  // namespace dl::cuda
