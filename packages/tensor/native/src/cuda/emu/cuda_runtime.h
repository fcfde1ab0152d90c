// The device side of the emulated CUDA runtime (DL_CUDA=emulate builds only): the qualifiers,
// the built-in variables, the intrinsics the kernels use and the launch that build.mjs writes
// in place of `kernel<<<grid, block, shared, stream>>>(args)`. Every thread of a block runs
// as a fiber on the host; see emu.cc.
#pragma once

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// One block runs at a time, so a function-local static is exactly one block's shared memory. They
// all go into one section, which the emulator fills with 0xA5 bytes before each block (as shared
// memory starts undefined): a kernel that reads what its block did not write sees garbage.
#define __shared__ static __attribute__((section("dl_emu_shared")))

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

namespace dl_emu {

/** Enqueues `body` to run once per thread of every block (see emu.cc); a bad configuration sets the last error instead. */
void launch(const char* kernel, dim3 grid, dim3 block, size_t shared, cudaStream_t stream, std::function<void()> body);
/** __syncthreads(): waits until every thread of the block reached it. */
void sync_block();
/** One lane's part of a shuffle: offers `bytes` of its value and receives lane (lane ^ mask)'s. */
void shuffle_xor(unsigned member_mask, const void* value, void* result, size_t bytes, int lane_mask);

/** The launch that replaces `kernel<<<grid, block, shared, stream>>>(args...)`. */
struct Launch {
  const char* name;
  dim3 grid, block;
  size_t shared;
  cudaStream_t stream;
  Launch(const char* n, dim3 g, dim3 b, size_t s = 0, cudaStream_t st = nullptr)
      : name(n), grid(g), block(b), shared(s), stream(st) {}

  template <typename... P, typename... A>
  void operator()(void (*kernel)(P...), A&&... args) const {
    // The arguments are converted to the parameter types and copied at the launch, as the CUDA
    // runtime copies them: the kernel runs later, from the stream's queue.
    auto params = std::make_shared<const std::tuple<std::decay_t<P>...>>(std::forward<A>(args)...);
    launch(name, grid, block, shared, stream, [kernel, params] { std::apply(kernel, *params); });
  }
};

}  // namespace dl_emu

// CUDA's global min/max overloads (integers and floating point, mixed types promoted).
template <typename A, typename B>
constexpr std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>) return std::fmin(C(a), C(b));
  else return C(b) < C(a) ? C(b) : C(a);
}
template <typename A, typename B>
constexpr std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>) return std::fmax(C(a), C(b));
  else return C(a) < C(b) ? C(b) : C(a);
}

// CUDA math functions the host library lacks (CUDA's rsqrtf is within 2 ulp; this is exact).
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline void sincospi(double x, double* s, double* c) {
  constexpr double kPi = 3.14159265358979323846;
  *s = std::sin(kPi * x);
  *c = std::cos(kPi * x);
}

inline void __syncthreads() { dl_emu::sync_block(); }

template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "__shfl_xor_sync: 8-byte values at most");
  T out;
  dl_emu::shuffle_xor(mask, &value, &out, sizeof(T), lane_mask);
  return out;
}

// One block runs at a time on one host thread, so the atomics need no hardware atomicity.
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  const T old = *address;
  if (old == compare) *address = value;
  return old;
}
template <typename T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
