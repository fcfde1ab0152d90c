// The decoder of launch(code, P) (layout in src/backend/cuda/addon.ts): P[0] = operand count,
// then OPERAND_SLOTS doubles per operand ([ptr, dtype, offset, rank, shape[8], strides[8]]),
// then the op's attributes in CUDA_ATTRS order; sgdStep/adamStep use the MULTI_TENSOR layout.
// Every operand is checked here, so that no kernel ever reads or writes outside its tensors:
// counts, ranks (<= 8), dtype codes and dtypes the op takes, shapes against each other,
// integral numbers, non-null pointers, and the extent of each view inside the live block of
// the current device that holds its buffer. Errors name the op and the operand.
#include "launch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels.h"
#include "ops.h"
#include "runtime.h"

namespace dl::cuda {

namespace {

constexpr int kSlots = 4 + 2 * kMaxRank;  // OPERAND_SLOTS
constexpr int kMaxOperands = 8;
constexpr double kExact = 9007199254740992.0;  // 2^53

std::string str(int64_t v) { return std::to_string(v); }

std::string shape_str(const Tensor& t) {
  std::string s = "[";
  for (int d = 0; d < t.rank; d++) s += (d ? ", " : "") + str(t.shape[d]);
  return s + "]";
}

class Launch {
 public:
  Launch(int code, const double* P, size_t len) : code_(code), P_(P), len_(len) {}

  [[noreturn]] void fail(const std::string& msg) const { throw Error(std::string(op_name(code_)) + ": " + msg); }

  int64_t integer(double v, const std::string& what) const {
    if (!(std::fabs(v) < kExact) || v != std::floor(v)) fail(what + " must be an integer, got " + std::to_string(v));
    return static_cast<int64_t>(v);
  }

  /** Reads the operands (count one of `counts`) and checks that `attrs` attributes follow. */
  void operands(std::initializer_list<int> counts, int attrs) {
    if (len_ < 1) fail("the parameter array is empty");
    const int64_t n = integer(P_[0], "the operand count P[0]");
    bool ok = false;
    for (int c : counts) ok = ok || n == c;
    if (!ok) {
      std::string want;
      for (int c : counts) want += (want.empty() ? "" : " or ") + str(c);
      fail("expected " + want + " operands, got " + str(n));
    }
    n_ = static_cast<int>(n);
    const size_t need = 1 + static_cast<size_t>(n_) * kSlots + attrs;
    if (len_ < need) fail("the parameter array holds " + str(len_) + " numbers, this launch needs " + str(need));
    for (int k = 0; k < n_; k++) t_[k] = operand(P_ + 1 + k * kSlots, k);
    attrs_ = P_ + 1 + n_ * kSlots;
  }

  int count() const { return n_; }
  Tensor& t(int k) { return t_[k]; }
  double attr(int i) const { return attrs_[i]; }
  int64_t int_attr(int i, const char* name, int64_t lo) const {
    const int64_t v = integer(attrs_[i], name);
    if (v < lo) fail(std::string(name) + " must be >= " + str(lo) + ", got " + str(v));
    return v;
  }

  void dtype(int k, const char* name, int dt) const {
    if (t_[k].dtype != dt)
      fail(std::string(name) + " must be " + dtype_name(dt) + ", got " + dtype_name(t_[k].dtype));
  }
  void floating(int k, const char* name) const {
    if (!is_float(t_[k].dtype)) fail(std::string(name) + " must be float32 or float64, got " + dtype_name(t_[k].dtype));
  }
  void rank(int k, const char* name, int r) const {
    if (t_[k].rank != r) fail(std::string(name) + " must have rank " + str(r) + ", got shape " + shape_str(t_[k]));
  }
  void same_shape(int a, const char* na, int b, const char* nb) const {
    bool ok = t_[a].rank == t_[b].rank;
    for (int d = 0; ok && d < t_[a].rank; d++) ok = t_[a].shape[d] == t_[b].shape[d];
    if (!ok) fail(std::string(na) + " " + shape_str(t_[a]) + " and " + nb + " " + shape_str(t_[b]) + " must have one shape");
  }
  void size(int k, const char* name, int d, int64_t want, const char* what) const {
    if (t_[k].shape[d] != want)
      fail(std::string(name) + " " + shape_str(t_[k]) + ": dim " + str(d) + " must be " + what + " = " + str(want));
  }
  /** Row-major with no gaps (size-1 dims ignored): the layout of a freshly allocated output. */
  void contiguous(int k, const char* name) const {
    if (t_[k].numel() == 0) return;
    int64_t expect = 1;
    for (int d = t_[k].rank - 1; d >= 0; d--) {
      if (t_[k].shape[d] == 1) continue;
      if (t_[k].strides[d] != expect) fail(std::string(name) + " must be contiguous");
      expect *= t_[k].shape[d];
    }
  }
  /** A 0-d operand as shape [1] (index ops address dim 0 of it, as the CPU kernels). */
  void at_least_1d(int k) {
    if (t_[k].rank == 0) {
      t_[k].rank = 1;
      t_[k].shape[0] = 1;
      t_[k].strides[0] = 0;
    }
  }
  int dim_attr(int i, int rank) const {
    const int64_t d = integer(attrs_[i], "dim");
    if (rank == 0) return 0;
    if (d < 0 || d >= rank) fail("dim " + str(d) + " is out of range for rank " + str(rank));
    return static_cast<int>(d);
  }

  /** A device pointer of the multi-tensor layouts: numel float32 elements inside a live block. */
  float* float_range(double v, int64_t numel, const std::string& what) const {
    const int64_t p = integer(v, what);
    if (p < 0) fail(what + " is not a device address");
    if (numel == 0) return reinterpret_cast<float*>(p);
    if (p == 0) fail(what + " is a null device pointer");
    if (p % 4 != 0) fail(what + ": address " + str(p) + " is not aligned to float32");
    const uintptr_t a = static_cast<uintptr_t>(p);
    current_device().alloc.check_range(a, a, a + static_cast<uintptr_t>(numel) * 4, std::string(op_name(code_)) + ": " + what);
    return reinterpret_cast<float*>(p);
  }

 private:
  Tensor operand(const double* s, int k) const {
    const std::string what = "operand " + str(k);
    Tensor t;
    const int64_t ptr = integer(s[0], what + " pointer");
    const int64_t dt = integer(s[1], what + " dtype code");
    const int64_t offset = integer(s[2], what + " offset");
    const int64_t rank = integer(s[3], what + " rank");
    if (ptr < 0) fail(what + ": not a device address");
    if (dt < 0 || dt >= kDTypeCount) fail(what + ": unknown dtype code " + str(dt));
    if (offset < 0) fail(what + ": negative offset " + str(offset));
    if (rank < 0 || rank > kMaxRank)
      fail(what + ": rank " + str(rank) + " (CUDA kernels take rank 0 to " + str(kMaxRank) + ")");
    t.dtype = static_cast<int>(dt);
    t.rank = static_cast<int>(rank);
    bool empty = false;
    __int128 lo = offset, hi = offset;
    for (int d = 0; d < t.rank; d++) {
      t.shape[d] = integer(s[4 + d], what + " shape");
      t.strides[d] = integer(s[4 + kMaxRank + d], what + " stride");
      if (t.shape[d] < 0) fail(what + ": negative size in shape " + shape_str(t));
      if (t.shape[d] == 0) empty = true;
      const __int128 span = static_cast<__int128>(t.shape[d] - 1) * t.strides[d];
      if (span > 0) hi += span;
      else lo += span;
    }
    const int64_t es = dtype_size(t.dtype);
    t.data = reinterpret_cast<char*>(ptr + offset * es);
    if (empty) return t;
    if (ptr == 0) fail(what + " is a null device pointer");
    // A misaligned access would be a sticky error that ends the process's CUDA context.
    if (ptr % es != 0) fail(what + ": address " + str(ptr) + " is not aligned to its " + str(es) + "-byte elements");
    const __int128 lo_b = ptr + lo * es, hi_b = ptr + (hi + 1) * es;
    if (lo_b < 0 || hi_b > static_cast<__int128>(INT64_MAX))
      fail(what + ": shape " + shape_str(t) + " with its strides reaches outside the address space");
    current_device().alloc.check_range(static_cast<uintptr_t>(ptr), static_cast<uintptr_t>(lo_b),
                                       static_cast<uintptr_t>(hi_b), std::string(op_name(code_)) + ": " + what);
    return t;
  }

  int code_;
  const double* P_;
  size_t len_;
  int n_ = 0;
  Tensor t_[kMaxOperands];
  const double* attrs_ = nullptr;
};

bool is_unary(int code) { return code >= kOp_neg && code <= kOp_logicalNot; }
bool float_only_unary(int code) {
  switch (code) {
    case kOp_exp: case kOp_log: case kOp_sqrt: case kOp_rsqrt: case kOp_sin: case kOp_cos: case kOp_tanh:
    case kOp_sigmoid: case kOp_gelu: case kOp_erf:
      return true;
    default:
      return false;
  }
}
bool is_binary(int code) { return code >= kOp_add && code <= kOp_logicalOr; }
bool bool_binary(int code) { return code >= kOp_eq && code <= kOp_logicalOr; }
bool is_reduction(int code) { return code >= kOp_sum && code <= kOp_any; }

/** floor((size + 2p - d(k-1) - 1) / s) + 1, at least 0. */
int64_t out_size(int64_t size, int64_t k, int64_t s, int64_t p, int64_t d) {
  const int64_t span = size + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

// ------------------------------------------------------------------ per family

void launch_conv(Launch& L, const Ctx& ctx, int code) {
  const bool forward = code == kOp_conv2d;
  L.operands(forward ? std::initializer_list<int>{3, 4} : std::initializer_list<int>{3}, 7);
  const int out = L.count() - 1;
  // forward: x, w, [bias], y; input: gy, w, gx; weight: gy, x, gw
  const std::vector<const char*> names = forward ? (L.count() == 4 ? std::vector<const char*>{"x", "w", "bias", "y"}
                                                                   : std::vector<const char*>{"x", "w", "y"})
                                         : code == kOp_conv2dBackwardInput ? std::vector<const char*>{"gy", "w", "gx"}
                                                                           : std::vector<const char*>{"gy", "x", "gw"};
  const int ix = forward ? 0 : code == kOp_conv2dBackwardInput ? out : 1;
  const int iw = forward ? 1 : code == kOp_conv2dBackwardInput ? 1 : out;
  const int iy = forward ? out : 0;
  for (int k = 0; k < L.count(); k++) {
    const bool bias = forward && L.count() == 4 && k == 2;
    L.rank(k, names[k], bias ? 1 : 4);
    L.floating(k, names[k]);
    L.dtype(k, names[k], L.t(0).dtype);
  }
  L.contiguous(out, names[out]);
  const Tensor &x = L.t(ix), &w = L.t(iw), &y = L.t(iy);
  ConvGeom g;
  g.N = x.shape[0];
  g.C = x.shape[1];
  g.H = x.shape[2];
  g.W = x.shape[3];
  g.O = w.shape[0];
  g.kh = w.shape[2];
  g.kw = w.shape[3];
  g.oh = y.shape[2];
  g.ow = y.shape[3];
  g.sh = L.int_attr(0, "strideH", 1);
  g.sw = L.int_attr(1, "strideW", 1);
  g.ph = L.int_attr(2, "padH", 0);
  g.pw = L.int_attr(3, "padW", 0);
  g.dh = L.int_attr(4, "dilationH", 1);
  g.dw = L.int_attr(5, "dilationW", 1);
  g.G = L.int_attr(6, "groups", 1);
  if (g.C % g.G != 0 || g.O % g.G != 0)
    L.fail("groups " + str(g.G) + " must divide the " + str(g.C) + " input and " + str(g.O) + " output channels");
  L.size(iw, names[iw], 1, g.C / g.G, "channels / groups");
  if (g.kh < 1 || g.kw < 1) L.fail("the kernel must be at least 1 x 1");
  L.size(iy, names[iy], 0, g.N, "the batch size");
  L.size(iy, names[iy], 1, g.O, "the output channels");
  L.size(iy, names[iy], 2, out_size(g.H, g.kh, g.sh, g.ph, g.dh), "the output height");
  L.size(iy, names[iy], 3, out_size(g.W, g.kw, g.sw, g.pw, g.dw), "the output width");
  if (forward) {
    const Tensor* bias = nullptr;
    if (L.count() == 4) {
      L.size(2, "bias", 0, g.O, "the output channels");
      bias = &L.t(2);
    }
    conv2d(ctx, g, x, w, bias, y);
  } else if (code == kOp_conv2dBackwardInput) {
    conv2d_backward_input(ctx, g, y, w, x);
  } else {
    conv2d_backward_weight(ctx, g, y, x, w);
  }
}

PoolGeom pool_geom(Launch& L, bool avg) {
  PoolGeom g{};
  g.kh = L.int_attr(0, "kernelH", 1);
  g.kw = L.int_attr(1, "kernelW", 1);
  g.sh = L.int_attr(2, "strideH", 1);
  g.sw = L.int_attr(3, "strideW", 1);
  g.ph = L.int_attr(4, "padH", 0);
  g.pw = L.int_attr(5, "padW", 0);
  g.dh = avg ? 1 : L.int_attr(6, "dilationH", 1);
  g.dw = avg ? 1 : L.int_attr(7, "dilationW", 1);
  g.count_include_pad = avg && L.attr(7) != 0;
  g.divisor = avg ? L.attr(8) : NAN;
  if (g.divisor == 0) L.fail("divisorOverride must not be 0");
  return g;
}

/** Pool operands: `in` (N, C, H, W) and `out` (N, C, oh, ow), float, one dtype. */
void pool_shapes(Launch& L, int in, const char* nin, int out, const char* nout) {
  L.rank(in, nin, 4);
  L.rank(out, nout, 4);
  L.floating(in, nin);
  L.dtype(out, nout, L.t(in).dtype);
  L.size(out, nout, 0, L.t(in).shape[0], "the batch size");
  L.size(out, nout, 1, L.t(in).shape[1], "the channels");
}

void launch_pool(Launch& L, const Ctx& ctx, int code) {
  switch (code) {
    case kOp_maxPool2d:
    case kOp_adaptiveMaxPool2d: {
      const bool adaptive = code == kOp_adaptiveMaxPool2d;
      L.operands({3}, adaptive ? 0 : 9);
      pool_shapes(L, 0, "x", 1, "y");
      L.same_shape(1, "y", 2, "indices");
      L.dtype(2, "indices", kInt32);
      if (L.t(1).numel() > 0 && L.t(0).shape[2] * L.t(0).shape[3] == 0) L.fail("an empty input plane has no maximum");
      PoolGeom g = adaptive ? PoolGeom{} : pool_geom(L, false);
      g.adaptive = adaptive;
      max_pool2d(ctx, g, L.t(0), L.t(1), L.t(2));
      return;
    }
    case kOp_maxPool2dBackward:
      L.operands({3}, 0);
      pool_shapes(L, 2, "gx", 0, "gy");
      L.same_shape(0, "gy", 1, "indices");
      L.dtype(1, "indices", kInt32);
      max_pool2d_backward(ctx, L.t(0), L.t(1), L.t(2));
      return;
    case kOp_avgPool2d:
    case kOp_adaptiveAvgPool2d: {
      const bool adaptive = code == kOp_adaptiveAvgPool2d;
      L.operands({2}, adaptive ? 0 : 9);
      pool_shapes(L, 0, "x", 1, "y");
      PoolGeom g = adaptive ? PoolGeom{} : pool_geom(L, true);
      g.adaptive = adaptive;
      avg_pool2d(ctx, g, L.t(0), L.t(1));
      return;
    }
    default: {  // avgPool2dBackward, adaptiveAvgPool2dBackward
      const bool adaptive = code == kOp_adaptiveAvgPool2dBackward;
      L.operands({2}, adaptive ? 0 : 9);
      pool_shapes(L, 1, "gx", 0, "gy");
      PoolGeom g = adaptive ? PoolGeom{} : pool_geom(L, true);
      g.adaptive = adaptive;
      avg_pool2d_backward(ctx, g, L.t(0), L.t(1));
      return;
    }
  }
}

void launch_cross_entropy(Launch& L, const Ctx& ctx, int code) {
  const bool backward = code == kOp_crossEntropyBackward;
  // forward: x, target, [weight], loss, lse; backward: gy, x, target, lse, [weight], gx
  L.operands(backward ? std::initializer_list<int>{5, 6} : std::initializer_list<int>{4, 5}, 2);
  const bool weighted = L.count() == (backward ? 6 : 5);
  const int ix = backward ? 1 : 0, it = ix + 1;
  L.rank(ix, "x", 2);
  L.floating(ix, "x");
  const int dt = L.t(ix).dtype;
  const int64_t N = L.t(ix).shape[0], C = L.t(ix).shape[1];
  L.rank(it, "target", 1);
  L.dtype(it, "target", kInt32);
  L.size(it, "target", 0, N, "the batch size of x");
  const int iw = weighted ? (backward ? 4 : 2) : -1;
  if (weighted) {
    L.rank(iw, "weight", 1);
    L.dtype(iw, "weight", dt);
    L.size(iw, "weight", 0, C, "the classes of x");
  }
  const int64_t ignore = L.integer(L.attr(0), "ignoreIndex");
  const double eps = L.attr(1);
  if (!(eps >= 0 && eps <= 1)) L.fail("labelSmoothing must lie in [0, 1], got " + std::to_string(eps));
  const Tensor* w = weighted ? &L.t(iw) : nullptr;
  if (!backward) {
    const int il = weighted ? 3 : 2, is = il + 1;
    for (int k : {il, is}) {
      const char* name = k == il ? "loss" : "lse";
      L.rank(k, name, 1);
      L.dtype(k, name, dt);
      L.size(k, name, 0, N, "the batch size of x");
    }
    cross_entropy(ctx, L.t(ix), L.t(it), w, L.t(il), L.t(is), ignore, eps);
    return;
  }
  const int igx = L.count() - 1;
  for (int k : {0, 3}) {
    const char* name = k == 0 ? "gy" : "lse";
    L.rank(k, name, 1);
    L.dtype(k, name, dt);
    L.size(k, name, 0, N, "the batch size of x");
  }
  L.same_shape(igx, "gx", ix, "x");
  L.dtype(igx, "gx", dt);
  cross_entropy_backward(ctx, L.t(0), L.t(ix), L.t(it), L.t(3), w, L.t(igx), ignore, eps);
}

/** A 0/1 attribute. */
bool flag_attr(const Launch& L, int i, const char* name) {
  const double v = L.attr(i);
  if (v != 0 && v != 1) L.fail(std::string(name) + " must be 0 or 1, got " + std::to_string(v));
  return v == 1;
}

/**
 * Checks the operands of a layer norm (x, mean and rstd; `params`: weight, bias, gw, gb, each -1
 * when absent): one float dtype, all contiguous, mean and rstd of R numbers, each of `params` C,
 * and x R rows of its trailing dims of C numbers.
 */
void layer_norm_rows(Launch& L, int ix, int imean, int irstd, std::initializer_list<std::pair<int, const char*>> params,
                     int64_t R, int64_t C) {
  L.floating(ix, "x");
  const int dt = L.t(ix).dtype;
  L.contiguous(ix, "x");
  for (const auto& [k, name] : {std::pair<int, const char*>{imean, "mean"}, {irstd, "rstd"}}) {
    L.dtype(k, name, dt);
    L.contiguous(k, name);
    if (L.t(k).numel() != R)
      L.fail(std::string(name) + " " + shape_str(L.t(k)) + " must hold R = " + str(R) + " numbers, as mean " +
             shape_str(L.t(imean)) + " does");
  }
  for (const auto& [k, name] : params) {
    if (k < 0) continue;
    L.dtype(k, name, dt);
    L.contiguous(k, name);
    if (L.t(k).numel() != C)
      L.fail(std::string(name) + " " + shape_str(L.t(k)) + " must hold C = " + str(C) +
             " numbers (the normalized trailing dims of x " + shape_str(L.t(ix)) + ")");
  }
  const Tensor& x = L.t(ix);
  bool trailing = C == 1;
  for (int64_t d = x.rank - 1, p = 1; d >= 0 && !trailing; d--) trailing = (p *= x.shape[d]) == C;
  if (!trailing || x.numel() != R * C)
    L.fail("x " + shape_str(x) + " must be R = " + str(R) + " rows (the numbers in mean and rstd) of C = " + str(C) +
           " numbers (the product of its normalized trailing dims)");
}

/** A normalization's forward operands: x, [weight], [bias], y and two statistics; eps and the weight and bias flags as attributes 0-2. */
struct NormOperands {
  double eps;
  bool has_w, has_b;
  int iw, ib, iy;  // -1 for an absent weight or bias; the statistics follow y
};

NormOperands norm_operands(Launch& L, const char* stats) {
  L.operands({4, 5, 6}, 3);
  const double eps = L.attr(0);
  const bool has_w = flag_attr(L, 1, "weight"), has_b = flag_attr(L, 2, "bias");
  const int iw = has_w ? 1 : -1, ib = has_b ? 1 + has_w : -1, iy = 1 + has_w + has_b;
  if (L.count() != iy + 3)
    L.fail(std::string("expected ") + str(iy + 3) + " operands (x" + (has_w ? ", weight" : "") + (has_b ? ", bias" : "") +
           ", y, " + stats + "), got " + str(L.count()));
  return {eps, has_w, has_b, iw, ib, iy};
}

void launch_layer_norm(Launch& L, const Ctx& ctx, int code) {
  if (code == kOp_layerNorm) {
    const auto [eps, has_w, has_b, iw, ib, iy] = norm_operands(L, "mean, rstd");
    const int64_t R = L.t(iy + 1).numel();
    // C: x's numbers per row; with no rows, weight's or bias's length (nothing is computed then).
    const int64_t C = R > 0 ? L.t(0).numel() / R : has_w || has_b ? L.t(has_w ? iw : ib).numel() : 0;
    layer_norm_rows(L, 0, iy + 1, iy + 2, {{iw, "weight"}, {ib, "bias"}}, R, C);
    L.same_shape(iy, "y", 0, "x");
    L.dtype(iy, "y", L.t(0).dtype);
    L.contiguous(iy, "y");
    return layer_norm(ctx, L.t(0), has_w ? &L.t(iw) : nullptr, has_b ? &L.t(ib) : nullptr, L.t(iy), L.t(iy + 1),
                      L.t(iy + 2), R, C, eps);
  }
  // gy, x, mean, rstd, [weight], gx, gw, gb
  L.operands({7, 8}, 1);
  const bool has_w = flag_attr(L, 0, "weight");
  const int iw = has_w ? 4 : -1, igx = 4 + has_w;
  if (L.count() != igx + 3)
    L.fail(std::string("expected ") + str(igx + 3) + " operands (gy, x, mean, rstd" + (has_w ? ", weight" : "") +
           ", gx, gw, gb), got " + str(L.count()));
  const int64_t R = L.t(2).numel(), C = L.t(igx + 1).numel();
  layer_norm_rows(L, 1, 2, 3, {{iw, "weight"}, {igx + 1, "gw"}, {igx + 2, "gb"}}, R, C);
  for (int k : {0, igx}) {
    const char* name = k == 0 ? "gy" : "gx";
    L.same_shape(k, name, 1, "x");
    L.dtype(k, name, L.t(1).dtype);
    L.contiguous(k, name);
  }
  return layer_norm_backward(ctx, L.t(0), L.t(1), L.t(2), L.t(3), has_w ? &L.t(iw) : nullptr, L.t(igx),
                             L.t(igx + 1), L.t(igx + 2), R, C);
}

/** x's dims as batch norm sees them: N x C x S, S the product of the dims after 1. */
struct BnShape {
  int64_t N, C, S;
};

/**
 * Checks the operands of a batch norm around x (operand ix): x float, contiguous, of rank >= 2
 * (N, C, *); `full`: the operands of x's shape (y; gy, gx); `channels`: those of C numbers
 * (mean, var, weight, bias, gw, gb; -1 when absent); all of x's dtype and contiguous.
 */
BnShape batch_norm_shape(Launch& L, int ix, std::initializer_list<std::pair<int, const char*>> full,
                         std::initializer_list<std::pair<int, const char*>> channels) {
  const Tensor& x = L.t(ix);
  L.floating(ix, "x");
  L.contiguous(ix, "x");
  if (x.rank < 2) L.fail("x " + shape_str(x) + " must have at least 2 dims (N, C, *)");
  BnShape s{x.shape[0], x.shape[1], 1};
  for (int d = 2; d < x.rank; d++) s.S *= x.shape[d];
  for (const auto& [k, name] : full) {
    L.same_shape(k, name, ix, "x");
    L.dtype(k, name, x.dtype);
    L.contiguous(k, name);
  }
  for (const auto& [k, name] : channels) {
    if (k < 0) continue;
    L.dtype(k, name, x.dtype);
    L.contiguous(k, name);
    if (L.t(k).numel() != s.C)
      L.fail(std::string(name) + " " + shape_str(L.t(k)) + " must hold C = " + str(s.C) + " numbers (dim 1 of x " +
             shape_str(x) + ")");
  }
  return s;
}

void launch_batch_norm(Launch& L, const Ctx& ctx, int code) {
  if (code == kOp_batchNorm) {
    const auto [eps, has_w, has_b, iw, ib, iy] = norm_operands(L, "mean, var");
    const BnShape s =
        batch_norm_shape(L, 0, {{iy, "y"}}, {{iy + 1, "mean"}, {iy + 2, "var"}, {iw, "weight"}, {ib, "bias"}});
    return batch_norm(ctx, L.t(0), has_w ? &L.t(iw) : nullptr, has_b ? &L.t(ib) : nullptr, L.t(iy), L.t(iy + 1),
                      L.t(iy + 2), s.N, s.C, s.S, eps);
  }
  // gy, x, mean, var, [weight], gx, gw, gb
  L.operands({7, 8}, 2);
  const double eps = L.attr(0);
  const bool has_w = flag_attr(L, 1, "weight");
  const int iw = has_w ? 4 : -1, igx = 4 + has_w;
  if (L.count() != igx + 3)
    L.fail(std::string("expected ") + str(igx + 3) + " operands (gy, x, mean, var" + (has_w ? ", weight" : "") +
           ", gx, gw, gb), got " + str(L.count()));
  const BnShape s = batch_norm_shape(L, 1, {{0, "gy"}, {igx, "gx"}},
                                     {{2, "mean"}, {3, "var"}, {iw, "weight"}, {igx + 1, "gw"}, {igx + 2, "gb"}});
  return batch_norm_backward(ctx, L.t(0), L.t(1), L.t(2), L.t(3), has_w ? &L.t(iw) : nullptr, L.t(igx), L.t(igx + 1),
                             L.t(igx + 2), s.N, s.C, s.S, eps);
}

void launch_index(Launch& L, const Ctx& ctx, int code) {
  switch (code) {
    case kOp_indexSelect: {  // x, index, y
      L.operands({3}, 1);
      for (int k = 0; k < 3; k++) L.at_least_1d(k);
      const Tensor &x = L.t(0), &y = L.t(2);
      L.rank(1, "index", 1);
      L.dtype(1, "index", kInt32);
      L.dtype(2, "y", x.dtype);
      L.rank(2, "y", x.rank);
      const int dim = L.dim_attr(0, x.rank);
      for (int d = 0; d < x.rank; d++)
        L.size(2, "y", d, d == dim ? L.t(1).shape[0] : x.shape[d], d == dim ? "the index length" : "x's size");
      index_select(ctx, x, L.t(1), y, dim);
      return;
    }
    case kOp_indexAdd: {  // self, index, source, y
      L.operands({4}, 1);
      for (int k = 0; k < 4; k++) L.at_least_1d(k);
      const Tensor& self = L.t(0);
      L.rank(1, "index", 1);
      L.dtype(1, "index", kInt32);
      L.same_shape(3, "y", 0, "self");
      L.dtype(3, "y", self.dtype);
      L.dtype(2, "source", self.dtype);
      L.rank(2, "source", self.rank);
      const int dim = L.dim_attr(0, self.rank);
      for (int d = 0; d < self.rank; d++)
        L.size(2, "source", d, d == dim ? L.t(1).shape[0] : self.shape[d], d == dim ? "the index length" : "self's size");
      index_add(ctx, self, L.t(1), L.t(2), L.t(3), dim);
      return;
    }
    case kOp_gather: {  // x, index, y
      L.operands({3}, 1);
      for (int k = 0; k < 3; k++) L.at_least_1d(k);
      const Tensor &x = L.t(0), &index = L.t(1);
      L.dtype(1, "index", kInt32);
      L.rank(1, "index", x.rank);
      L.same_shape(2, "y", 1, "index");
      L.dtype(2, "y", x.dtype);
      const int dim = L.dim_attr(0, x.rank);
      for (int d = 0; d < x.rank; d++)
        if (d != dim && index.shape[d] > x.shape[d])
          L.fail("index " + shape_str(index) + " is larger than x " + shape_str(x) + " in dim " + str(d));
      gather(ctx, x, index, L.t(2), dim);
      return;
    }
    default: {  // scatter, scatterAdd: self, index, src, y
      L.operands({4}, 1);
      for (int k = 0; k < 4; k++) L.at_least_1d(k);
      const Tensor &self = L.t(0), &index = L.t(1), &src = L.t(2);
      L.dtype(1, "index", kInt32);
      L.rank(1, "index", self.rank);
      L.rank(2, "src", self.rank);
      L.dtype(2, "src", self.dtype);
      L.same_shape(3, "y", 0, "self");
      L.dtype(3, "y", self.dtype);
      const int dim = L.dim_attr(0, self.rank);
      for (int d = 0; d < self.rank; d++) {
        if (index.shape[d] > src.shape[d] || (d != dim && index.shape[d] > self.shape[d]))
          L.fail("index " + shape_str(index) + " is larger than src " + shape_str(src) + " or self " +
                 shape_str(self) + " in dim " + str(d));
      }
      scatter(ctx, code == kOp_scatterAdd, self, index, src, L.t(3), dim);
      return;
    }
  }
}

/** Splits `numel` elements starting at each pointer into chunks of kOptimChunk. */
template <typename Chunk, typename Make>
void chunks_of(std::vector<Chunk>& out, int64_t numel, Make make) {
  for (int64_t s = 0; s < numel; s += kOptimChunk) out.push_back(make(s, std::min(kOptimChunk, numel - s)));
}

template <typename Chunk>
const Chunk* upload_table(Device& dev, const std::vector<Chunk>& chunks, std::unique_ptr<DeviceBuffer>& table) {
  const size_t bytes = chunks.size() * sizeof(Chunk);
  table = std::make_unique<DeviceBuffer>(bytes);
  dev.upload(reinterpret_cast<uintptr_t>(table->as<char>()), chunks.data(), bytes);
  return table->as<const Chunk>();
}

/**
 * The tensor count of a fused step's parameter array (P[0], then a `header` of hyperparameters,
 * then `per` numbers per tensor), checked against the array's length.
 */
int64_t tensor_count(const Launch& L, const double* P, size_t len, size_t header, size_t per, const char* op) {
  if (len < 1 + header) L.fail(std::string("the parameter array is too short for the ") + op + " header");
  const int64_t count = L.integer(P[0], "the tensor count");
  if (count < 0 || len < 1 + header + per * static_cast<size_t>(count))
    L.fail("the parameter array holds " + str(len) + " numbers, too few for " + str(count) + " tensors");
  return count;
}

/** Tensor i of a fused step: its numbers `e`, its name in messages, its numel (e[numel_at]), param (e[0]) and grad (e[1]). */
struct StepTensor {
  const double* e;
  std::string name;
  int64_t n;
  float* param;
  const float* grad;
};

StepTensor step_tensor(const Launch& L, const double* e, int64_t i, size_t numel_at) {
  StepTensor t{e, "tensor " + str(i), 0, nullptr, nullptr};
  t.n = L.integer(e[numel_at], t.name + " numel");
  if (t.n < 0) L.fail(t.name + ": negative numel");
  t.param = L.float_range(e[0], t.n, t.name + " param");
  t.grad = L.float_range(e[1], t.n, t.name + " grad");
  return t;
}

void launch_sgd(Launch& L, Device& dev, const Ctx& ctx, const double* P, size_t len) {
  constexpr size_t kHeader = 7, kPer = 4;
  const int64_t count = tensor_count(L, P, len, kHeader, kPer, "sgdStep");
  SgdHyper h;
  h.lr = static_cast<float>(P[1]);
  h.momentum = static_cast<float>(P[2]);
  h.one_minus_dampening = static_cast<float>(1.0 - P[3]);
  h.weight_decay = static_cast<float>(P[4]);
  h.nesterov = P[5] != 0;
  h.maximize = P[6] != 0;
  h.first_step = P[7] != 0;
  std::vector<SgdChunk> chunks;
  for (int64_t i = 0; i < count; i++) {
    const StepTensor t = step_tensor(L, P + 1 + kHeader + kPer * i, i, 3);
    float* buf = h.momentum != 0 ? L.float_range(t.e[2], t.n, t.name + " momentumBuf") : nullptr;
    chunks_of(chunks, t.n, [&](int64_t s, int64_t m) { return SgdChunk{t.param + s, t.grad + s, buf ? buf + s : nullptr, m}; });
  }
  if (chunks.empty()) return;
  std::unique_ptr<DeviceBuffer> table;
  sgd_step(ctx, h, upload_table(dev, chunks, table), static_cast<int64_t>(chunks.size()));
}

void launch_adam(Launch& L, Device& dev, const Ctx& ctx, const double* P, size_t len) {
  constexpr size_t kHeader = 9, kPer = 6;
  const int64_t count = tensor_count(L, P, len, kHeader, kPer, "adamStep");
  const double lr = P[1], beta1 = P[2], beta2 = P[3], eps = P[4], wd = P[5];
  const int64_t step = L.integer(P[9], "step");
  if (step < 1) L.fail("step must be >= 1 (the step number after incrementing), got " + str(step));
  AdamHyper h;
  h.beta1 = static_cast<float>(beta1);
  h.beta2 = static_cast<float>(beta2);
  h.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  h.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  h.eps = static_cast<float>(eps);
  h.weight_decay = static_cast<float>(wd);
  h.decay_factor = static_cast<float>(1.0 - lr * wd);
  h.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, static_cast<double>(step))));
  h.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, static_cast<double>(step))));
  h.decoupled = P[6] != 0;
  h.amsgrad = P[7] != 0;
  h.maximize = P[8] != 0;
  std::vector<AdamChunk> chunks;
  for (int64_t i = 0; i < count; i++) {
    const StepTensor t = step_tensor(L, P + 1 + kHeader + kPer * i, i, 5);
    float* m = L.float_range(t.e[2], t.n, t.name + " expAvg");
    float* v = L.float_range(t.e[3], t.n, t.name + " expAvgSq");
    float* vmax = h.amsgrad ? L.float_range(t.e[4], t.n, t.name + " maxExpAvgSq") : nullptr;
    chunks_of(chunks, t.n, [&](int64_t s, int64_t k) {
      return AdamChunk{t.param + s, t.grad + s, m + s, v + s, vmax ? vmax + s : nullptr, k};
    });
  }
  if (chunks.empty()) return;
  std::unique_ptr<DeviceBuffer> table;
  adam_step(ctx, h, upload_table(dev, chunks, table), static_cast<int64_t>(chunks.size()));
}

}  // namespace

std::vector<std::string> ops() {
  std::vector<std::string> out;
  for (int i = 0; i < kOpCount; i++) out.push_back(op_name(i));
  return out;
}

void launch(int code, const double* P, size_t len) {
  if (code < 0 || code >= kOpCount)
    throw Error("launch: unknown launch code " + std::to_string(code) + " (0.." + std::to_string(kOpCount - 1) + ")");
  Device& dev = current_device();
  const Ctx ctx = dev.ctx(code);
  Launch L(code, P, len);
  if (code == kOp_sgdStep) return launch_sgd(L, dev, ctx, P, len);
  if (code == kOp_adamStep) return launch_adam(L, dev, ctx, P, len);

  if (is_unary(code)) {
    L.operands({2}, 0);
    L.same_shape(0, "x", 1, "y");
    if (float_only_unary(code)) L.floating(0, "x");
    L.dtype(1, "y", code == kOp_logicalNot ? kBool : L.t(0).dtype);
    return unary(ctx, code, L.t(0), L.t(1));
  }
  if (is_binary(code)) {
    L.operands({3}, 0);
    L.same_shape(0, "a", 2, "y");
    L.same_shape(1, "b", 2, "y");
    L.dtype(1, "b", L.t(0).dtype);
    if (code == kOp_div || code == kOp_geluBackward) L.floating(0, "a");
    L.dtype(2, "y", bool_binary(code) ? kBool : L.t(0).dtype);
    return binary(ctx, code, L.t(0), L.t(1), L.t(2));
  }
  if (is_reduction(code)) {
    L.operands({2}, 1);
    const Tensor &x = L.t(0), &y = L.t(1);
    const int64_t mask = L.integer(L.attr(0), "dimMask");
    if (mask < 0) L.fail("dimMask must be >= 0");
    const uint32_t m = static_cast<uint32_t>(mask & ((int64_t(1) << x.rank) - 1));  // dims past the rank: none
    L.rank(1, "y", x.rank);
    for (int d = 0; d < x.rank; d++) L.size(1, "y", d, ((m >> d) & 1) ? 1 : x.shape[d], "the keepdim size");
    const int out = code == kOp_all || code == kOp_any ? kBool
                    : code == kOp_max || code == kOp_min ? x.dtype
                    : is_float(x.dtype) ? x.dtype : kInt32;
    L.dtype(1, "y", out);
    return reduce(ctx, code, x, y, m);
  }
  switch (code) {
    case kOp_clamp: {
      L.operands({2}, 2);
      L.same_shape(0, "x", 1, "y");
      L.dtype(1, "y", L.t(0).dtype);
      const double lo = std::isnan(L.attr(0)) ? -INFINITY : L.attr(0);
      const double hi = std::isnan(L.attr(1)) ? INFINITY : L.attr(1);
      return clamp(ctx, L.t(0), L.t(1), lo, hi);
    }
    case kOp_where:
      L.operands({4}, 0);
      L.dtype(0, "condition", kBool);
      for (int k = 0; k < 3; k++) L.same_shape(k, k == 0 ? "condition" : k == 1 ? "a" : "b", 3, "y");
      L.dtype(2, "b", L.t(1).dtype);
      L.dtype(3, "y", L.t(1).dtype);
      return where(ctx, L.t(0), L.t(1), L.t(2), L.t(3));
    case kOp_argmax:
    case kOp_argmin:
    case kOp_softmax:
    case kOp_logSoftmax: {
      L.operands({2}, 1);
      const Tensor &x = L.t(0), &y = L.t(1);
      const int dim = L.dim_attr(0, x.rank);
      if (code == kOp_argmax || code == kOp_argmin) {
        L.dtype(1, "y", kInt32);
        L.rank(1, "y", x.rank);
        for (int d = 0; d < x.rank; d++) L.size(1, "y", d, d == dim ? 1 : x.shape[d], "the keepdim size");
        return arg_reduce(ctx, code == kOp_argmax, x, y, dim);
      }
      L.floating(0, "x");
      L.same_shape(0, "x", 1, "y");
      L.dtype(1, "y", x.dtype);
      return softmax(ctx, code == kOp_logSoftmax, x, y, dim);
    }
    case kOp_sort: {
      L.operands({3}, 2);
      const Tensor &x = L.t(0), &values = L.t(1), &indices = L.t(2);
      L.same_shape(0, "x", 1, "values");
      L.same_shape(0, "x", 2, "indices");
      L.dtype(1, "values", x.dtype);
      L.dtype(2, "indices", kInt32);
      return sort(ctx, x, values, indices, L.dim_attr(0, x.rank), L.attr(1) != 0);
    }
    case kOp_cumsum: {
      L.operands({2}, 1);
      const Tensor &x = L.t(0), &y = L.t(1);
      L.same_shape(0, "x", 1, "y");
      L.dtype(1, "y", x.dtype);
      return cumsum(ctx, x, y, L.dim_attr(0, x.rank));
    }
    case kOp_crossEntropy:
    case kOp_crossEntropyBackward:
      return launch_cross_entropy(L, ctx, code);
    case kOp_layerNorm:
    case kOp_layerNormBackward:
      return launch_layer_norm(L, ctx, code);
    case kOp_batchNorm:
    case kOp_batchNormBackward:
      return launch_batch_norm(L, ctx, code);
    case kOp_matmul: {
      L.operands({3}, 0);
      const char* names[] = {"a", "b", "y"};
      for (int k = 0; k < 3; k++) {
        L.rank(k, names[k], 3);
        L.floating(k, names[k]);
        L.dtype(k, names[k], L.t(0).dtype);
      }
      const Tensor &a = L.t(0), &b = L.t(1);
      L.size(1, "b", 0, a.shape[0], "the batch of a");
      L.size(1, "b", 1, a.shape[2], "the columns of a");
      L.size(2, "y", 0, a.shape[0], "the batch of a");
      L.size(2, "y", 1, a.shape[1], "the rows of a");
      L.size(2, "y", 2, b.shape[2], "the columns of b");
      return matmul(ctx, a, b, L.t(2));
    }
    case kOp_conv2d:
    case kOp_conv2dBackwardInput:
    case kOp_conv2dBackwardWeight:
      return launch_conv(L, ctx, code);
    case kOp_maxPool2d:
    case kOp_maxPool2dBackward:
    case kOp_avgPool2d:
    case kOp_avgPool2dBackward:
    case kOp_adaptiveAvgPool2d:
    case kOp_adaptiveAvgPool2dBackward:
    case kOp_adaptiveMaxPool2d:
      return launch_pool(L, ctx, code);
    case kOp_copy:
    case kOp_cast:
      L.operands({2}, 0);
      L.same_shape(0, "src", 1, "dst");
      return convert(ctx, L.t(0), L.t(1));
    case kOp_fill:
      L.operands({1}, 1);
      return fill(ctx, L.t(0), L.attr(0));
    case kOp_indexSelect:
    case kOp_indexAdd:
    case kOp_gather:
    case kOp_scatter:
    case kOp_scatterAdd:
      return launch_index(L, ctx, code);
    case kOp_philoxUniform:
    case kOp_philoxNormal: {
      L.operands({1}, 5);
      L.floating(0, "y");
      L.contiguous(0, "y");
      const int64_t lo = L.integer(L.attr(0), "seedLo"), hi = L.integer(L.attr(1), "seedHi");
      const int64_t offset = L.integer(L.attr(2), "offset");
      if (lo < 0 || lo > 0xffffffffLL || hi < 0 || hi > 0xffffffffLL) L.fail("seedLo and seedHi must be 32-bit words");
      if (offset < 0) L.fail("offset must be >= 0");
      return philox(ctx, code == kOp_philoxNormal, L.t(0), static_cast<uint32_t>(lo), static_cast<uint32_t>(hi),
                    static_cast<uint64_t>(offset), L.attr(3), L.attr(4));
    }
    default:
      throw Error(std::string("launch: no decoder for ") + op_name(code));
  }
}

}  // namespace dl::cuda
