// Shared definitions of the native CPU kernels: integer types, thread-local scratch buffers.
// Nothing in here knows about N-API: kernels are plain C++ (binding.cc is the only N-API file),
// so they can be driven from a C++ benchmark too.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dl {

using i64 = std::int64_t;

inline i64 imin(i64 a, i64 b) { return a < b ? a : b; }
inline i64 imax(i64 a, i64 b) { return a > b ? a : b; }
inline i64 round_up(i64 x, i64 m) { return (x + m - 1) / m * m; }

/**
 * Grow-only, 64-byte aligned scratch buffers, one set per OS thread (thread_local): the
 * thread pool's workers and every JS thread that calls a kernel each own theirs, so kernels
 * never allocate per call once warm and never share scratch between threads.
 */
enum ScratchSlot : int {
  kPackA = 0,   // GEMM: packed A block (MC x KC)
  kPackB,       // GEMM: packed B block (KC x NC)
  kConvPad,     // conv: zero-padded copy of one image (group)
  kConvCol,     // conv: column matrix (Kd x P) or wide output (Co x P') of one image; a slab's columns
  kConvGy,      // conv weight gradient: a contiguous copy of a strided gradient
  kConvOut,     // conv: a slab's output (Og x N*P) or input-gradient columns (Kd x N*P) before they are scattered
  kConvW,       // conv: the weights packed once as the A operand of a slab's GEMM (every group)
  kScratchSlots
};

/** A buffer of at least `bytes` bytes for the calling thread (contents unspecified). */
void* scratch_bytes(int slot, std::size_t bytes);

template <typename T>
T* scratch(int slot, std::size_t n) {
  return static_cast<T*>(scratch_bytes(slot, n * sizeof(T)));
}

/** Frees the calling thread's scratch buffers larger than `keep_bytes` (after a huge call). */
void trim_scratch(std::size_t keep_bytes);

}  // namespace dl
