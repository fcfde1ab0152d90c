// Device-side helpers shared by the kernels: storage types per dtype, JavaScript-exact
// conversions, strided offsets, the generic elementwise kernel, warp reductions, the device
// error report and dtype dispatch for the launchers.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels.h"
#include "ops.h"
#include "runtime.h"

namespace dl::cuda {

constexpr int kBlock = 256;

/** Blocks for n work items of `per_block` each, capped (kernels loop grid-stride past the cap). */
inline unsigned blocks_for(int64_t n, int64_t per_block = kBlock) {
  const int64_t b = (n + per_block - 1) / per_block;
  return static_cast<unsigned>(b < 1 ? 1 : b > (1 << 20) ? (1 << 20) : b);
}

// ------------------------------------------------------------------ dtypes

template <int DT> struct StorageOf;
template <> struct StorageOf<kBool> { using type = uint8_t; };
template <> struct StorageOf<kUInt8> { using type = uint8_t; };
template <> struct StorageOf<kInt32> { using type = int32_t; };
template <> struct StorageOf<kFloat32> { using type = float; };
template <> struct StorageOf<kFloat64> { using type = double; };
template <int DT> using storage_t = typename StorageOf<DT>::type;

__host__ __device__ constexpr bool is_float_dt(int dt) { return dt == kFloat32 || dt == kFloat64; }

/** JavaScript's ToUint32 of a number (truncation toward zero, then modulo 2^32; NaN and +-inf give 0). */
__host__ __device__ inline uint32_t js_uint32(double v) {
  if (!(v - v == 0)) return 0;  // NaN or +-Infinity
  if (v > -2147483649.0 && v < 4294967296.0) return static_cast<uint32_t>(static_cast<int64_t>(v));
  double m = fmod(trunc(v), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<uint32_t>(m);
}

/** A number stored into a typed array of dtype DT (as the CPU backend's stores); bool: v != 0. */
template <int DT>
__host__ __device__ inline storage_t<DT> from_double(double v) {
  if constexpr (DT == kBool) return v != 0 ? 1 : 0;  // NaN -> 1
  else if constexpr (DT == kUInt8) return static_cast<uint8_t>(js_uint32(v));
  else if constexpr (DT == kInt32) return static_cast<int32_t>(js_uint32(v));
  else return static_cast<storage_t<DT>>(v);
}

// ------------------------------------------------------------------ strided offsets

/** Offsets (in elements) of element i of the iteration in each of the K operands. */
template <int K>
__device__ __forceinline__ void iter_offsets(const Iter<K>& it, int64_t i, int64_t (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; k++) off[k] = it.contiguous ? i : 0;
  if (it.contiguous) return;
  if (it.numel <= 0xffffffffLL) {
    uint32_t r = static_cast<uint32_t>(i);
#pragma unroll
    for (int d = kMaxRank - 1; d >= 0; d--) {
      if (d < it.nd) {
        const uint32_t s = static_cast<uint32_t>(it.size[d]);
        const uint32_t q = r / s;
        const int64_t c = r - q * s;
        r = q;
#pragma unroll
        for (int k = 0; k < K; k++) off[k] += c * it.stride[k][d];
      }
    }
  } else {
    int64_t r = i;
#pragma unroll
    for (int d = kMaxRank - 1; d >= 0; d--) {
      if (d < it.nd) {
        const int64_t q = r / it.size[d];
        const int64_t c = r - q * it.size[d];
        r = q;
#pragma unroll
        for (int k = 0; k < K; k++) off[k] += c * it.stride[k][d];
      }
    }
  }
}

/** Odometer state (idx, off) of element i: for walking on with iter_next. */
template <int K>
__device__ __forceinline__ void iter_start(const Iter<K>& it, int64_t i, int64_t (&idx)[kMaxRank], int64_t (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; k++) off[k] = 0;
#pragma unroll
  for (int d = kMaxRank - 1; d >= 0; d--) {
    idx[d] = 0;
    if (d < it.nd) {
      const int64_t q = i / it.size[d];
      idx[d] = i - q * it.size[d];
      i = q;
#pragma unroll
      for (int k = 0; k < K; k++) off[k] += idx[d] * it.stride[k][d];
    }
  }
}

/** Advances the odometer by one element (innermost dim fastest). */
template <int K>
__device__ __forceinline__ void iter_next(const Iter<K>& it, int64_t (&idx)[kMaxRank], int64_t (&off)[K]) {
#pragma unroll
  for (int d = kMaxRank - 1; d >= 0; d--) {
    if (d < it.nd) {
      if (++idx[d] < it.size[d]) {
#pragma unroll
        for (int k = 0; k < K; k++) off[k] += it.stride[k][d];
        return;
      }
      idx[d] = 0;
#pragma unroll
      for (int k = 0; k < K; k++) off[k] -= it.stride[k][d] * (it.size[d] - 1);
    }
  }
}

// ------------------------------------------------------------------ the elementwise kernel

/** f(off) for every element of the iteration (operand 0 is the output by convention). */
template <int K, typename F>
__global__ void __launch_bounds__(kBlock) elementwise_kernel(Iter<K> it, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < it.numel;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[K];
    iter_offsets(it, i, off);
    f(off);
  }
}

template <int K, typename F>
void launch_elementwise(const Ctx& c, const Iter<K>& it, const F& f) {
  if (it.numel <= 0) return;
  elementwise_kernel<K, F><<<blocks_for(it.numel), kBlock, 0, c.stream>>>(it, f);
  DL_CUDA_CHECK_LAUNCH("elementwise_kernel");
}

// ------------------------------------------------------------------ reductions within a warp

/** Butterfly all-reduce over the 32 lanes. With a commutative f every lane ends with the same bits. */
template <typename T, typename F>
__device__ __forceinline__ T warp_allreduce(T v, F f) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v = f(v, __shfl_xor_sync(0xffffffffu, v, m));
  return v;
}

/** max with NaN winning (commutative up to NaN payloads). */
__device__ __forceinline__ double nan_max(double a, double b) { return a != a ? a : (b > a || b != b) ? b : a; }
__device__ __forceinline__ double nan_min(double a, double b) { return a != a ? a : (b < a || b != b) ? b : a; }

/** Warp-per-row kernels: the global warp index and the number of warps in the grid. */
__device__ __forceinline__ int64_t warp_id() { return (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) >> 5; }
__device__ __forceinline__ int64_t warp_count() { return (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5; }

/** exp in the precision of DT (float32: expf), returned as double for accumulation. */
template <int DT>
__device__ __forceinline__ double exp_of(double v) {
  if constexpr (DT == kFloat32) return static_cast<double>(expf(static_cast<float>(v)));
  else return exp(v);
}

// ------------------------------------------------------------------ device errors

/** Sets the device error flag (first report wins; later ones are dropped). */
__device__ inline void report(const ErrSite& s, int kind, double value, double limit, double extra) {
  if (atomicCAS(&s.err->flag, 0, 1) == 0) {
    s.err->op = s.op;
    s.err->kind = kind;
    s.err->value = value;
    s.err->limit = limit;
    s.err->extra = extra;
  }
}

// ------------------------------------------------------------------ dispatch

[[noreturn]] inline void bad_dtype(const char* what, int dt) {
  throw Error(std::string(what) + ": no kernel for dtype " + dtype_name(dt));
}

#define DL_DT_CASE(NAME, CODE, ...) \
  case CODE: {                      \
    constexpr int NAME = CODE;      \
    __VA_ARGS__;                    \
    break;                          \
  }
/** Runs the statement with NAME a constexpr dtype code equal to dt (any dtype). */
#define DL_SWITCH_ALL(what, NAME, dt, ...)                                                                        \
  switch (dt) {                                                                                                   \
    DL_DT_CASE(NAME, kBool, __VA_ARGS__) DL_DT_CASE(NAME, kUInt8, __VA_ARGS__) DL_DT_CASE(NAME, kInt32, __VA_ARGS__) \
    DL_DT_CASE(NAME, kFloat32, __VA_ARGS__) DL_DT_CASE(NAME, kFloat64, __VA_ARGS__)                               \
    default: ::dl::cuda::bad_dtype(what, dt);                                                                     \
  }
/** As DL_SWITCH_ALL for float32 / float64 only. */
#define DL_SWITCH_FLOAT(what, NAME, dt, ...)                                      \
  switch (dt) {                                                                   \
    DL_DT_CASE(NAME, kFloat32, __VA_ARGS__) DL_DT_CASE(NAME, kFloat64, __VA_ARGS__) \
    default: ::dl::cuda::bad_dtype(what, dt);                                     \
  }

}  // namespace dl::cuda
