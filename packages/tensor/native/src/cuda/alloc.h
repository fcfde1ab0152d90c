// The caching device allocator of one device (see alloc.cc).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace dl::cuda {

struct MemoryStats {
  uint64_t allocated_bytes, reserved_bytes, cached_bytes, peak_allocated_bytes, peak_reserved_bytes;
  uint64_t allocations, cache_hits, device_allocations, oom_retries;
};

/**
 * Blocks come in size classes (multiples of 512 B up to 1 MiB, of 2 MiB above); a freed block
 * is cached and handed out again for a request of its class or a little smaller. All work of a
 * device runs on its one stream, so a block freed while kernels still use it may be reused at
 * once: the next user's work is queued behind them. Blocks are never split or merged.
 */
class Allocator {
 public:
  void bind(int device, cudaStream_t stream) {
    device_ = device;
    stream_ = stream;
  }
  /** A block of at least `bytes` (0 gives the smallest class). Throws on out-of-memory. */
  uintptr_t malloc(size_t bytes);
  /** Whether a live block starts at ptr. */
  bool owns(uintptr_t ptr) const { return live_.count(ptr) != 0; }
  /** Returns a live block to the cache; throws if ptr is not one. */
  void free(uintptr_t ptr);
  /** Synchronises the stream, then cudaFree()s every cached block. */
  void empty_cache();
  MemoryStats stats() const { return stats_; }
  void reset_peak() {
    stats_.peak_allocated_bytes = stats_.allocated_bytes;
    stats_.peak_reserved_bytes = stats_.reserved_bytes;
  }
  /**
   * Throws unless the bytes [lo, hi) lie inside the live block that contains `base` (the
   * operand's buffer address); `what` names the operand in the message. hi == lo is fine.
   */
  void check_range(uintptr_t base, uintptr_t lo, uintptr_t hi, const std::string& what) const;

 private:
  uintptr_t device_malloc(size_t size);
  void release_cached();

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  std::map<uintptr_t, size_t> live_;                // address -> block size
  std::multimap<size_t, uintptr_t> small_, large_;  // cached blocks by size
  MemoryStats stats_{};
};

}  // namespace dl::cuda
